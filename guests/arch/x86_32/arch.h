/*
 * x86-32 PAE PV guest ABI details: the kernel runs in ring 1 with 3-level
 * PAE paging, hypercalls go through the hypercall page (`int $0x82`).
 */
#ifndef GUEST_ARCH_H
#define GUEST_ARCH_H

#define ARCH_NAME       "pv32"
#ifdef __ASSEMBLY__
#define VIRT_BASE       0xC0000000
#else
#define VIRT_BASE       0xC0000000UL
#endif
#define PT_LEVELS       3
#define PTRSZ           4

#define KERNEL_RPL      1
#define KERNEL_CS_FRAME FLAT_KERNEL_CS

#ifndef __ASSEMBLY__

#include <stdint.h>

typedef uint64_t pgentry_t;

extern char hypercall_page[];

/* Generic hypercall: arguments in ebx, ecx, edx, esi, edi; result in eax. */
static inline long _hypercall(unsigned int nr, unsigned long a1,
                              unsigned long a2, unsigned long a3,
                              unsigned long a4, unsigned long a5)
{
    unsigned long eax = (unsigned long)hypercall_page + nr * 32;

    asm volatile ("call *%%eax"
                  : "+a" (eax), "+b" (a1), "+c" (a2), "+d" (a3),
                    "+S" (a4), "+D" (a5)
                  :
                  : "memory");
    return (long)eax;
}

/* 64-bit arguments are split in two registers, low half first. */
static inline long HYPERVISOR_update_va_mapping(unsigned long va,
                                                uint64_t val,
                                                unsigned long flags)
{
    return _hypercall(__HYPERVISOR_update_va_mapping, va, (uint32_t)val,
                      (uint32_t)(val >> 32), flags, 0);
}

static inline long HYPERVISOR_update_descriptor(uint64_t maddr, uint64_t desc)
{
    return _hypercall(__HYPERVISOR_update_descriptor, (uint32_t)maddr,
                      (uint32_t)(maddr >> 32), (uint32_t)desc,
                      (uint32_t)(desc >> 32), 0);
}

static inline long HYPERVISOR_set_timer_op(uint64_t timeout)
{
    return _hypercall(__HYPERVISOR_set_timer_op, (uint32_t)timeout,
                      (uint32_t)(timeout >> 32), 0, 0, 0);
}

/*
 * Register frame built by the trap entry code (guests/arch/x86_32/entry.S)
 * on top of the bounce frame Xen pushed.
 */
struct trap_frame {
    unsigned long bp, di, si, dx, cx, bx, ax;
    unsigned long es, ds;
    unsigned long vector;       /* also: return mode on the way out */
    unsigned long error_code;   /* 0 when the vector has none */
    /* Pushed by Xen. */
    unsigned long ip;
    unsigned long cs;           /* bits 16-23: saved upcall mask */
    unsigned long flags;
    unsigned long sp;           /* only when coming from ring 3 */
    unsigned long ss;           /* only when coming from ring 3 */
};

#define FRAME_CS(f)             ((uint16_t)(f)->cs)
#define FRAME_SAVED_MASK(f)     ((uint8_t)((f)->cs >> 16))
#define FRAME_FROM_USER(f)      (((f)->cs & 3) == 3)
#define FRAME_SYSNR(f)          ((f)->ax)
#define FRAME_ARG0(f)           ((f)->bx)
#define FRAME_RET(f)            ((f)->ax)

static inline unsigned long read_cr2(void)
{
    unsigned long v;
    asm volatile ("mov %%cr2, %0" : "=r" (v));
    return v;
}

#endif /* __ASSEMBLY__ */
#endif /* GUEST_ARCH_H */
