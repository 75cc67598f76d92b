/*
 * x86-64 PV guest ABI details: the kernel runs in ring 3 with 4-level paging,
 * hypercalls go through the hypercall page (stubs use `syscall`).
 */
#ifndef GUEST_ARCH_H
#define GUEST_ARCH_H

#define ARCH_NAME       "pv64"
#ifdef __ASSEMBLY__
#define VIRT_BASE       0xffffffff80000000
#else
#define VIRT_BASE       0xffffffff80000000UL
#endif
#define PT_LEVELS       4
#define PTRSZ           8

/* Ring the guest kernel appears to run in (as seen in bounce frames). */
#define KERNEL_RPL      0
/* What Xen reports in the CS slot of a bounce frame taken in kernel mode. */
#define KERNEL_CS_FRAME (FLAT_KERNEL_CS64 & ~3)

#ifndef __ASSEMBLY__

#include <stdint.h>

typedef uint64_t pgentry_t;

extern char hypercall_page[];

/*
 * Generic hypercall: arguments in rdi, rsi, rdx, r10, r8; result in rax.
 * All argument registers are treated as clobbered (debug builds of Xen
 * deliberately scribble over them).
 */
static inline long _hypercall(unsigned int nr, unsigned long a1,
                              unsigned long a2, unsigned long a3,
                              unsigned long a4, unsigned long a5)
{
    register unsigned long r10 asm("r10") = a4;
    register unsigned long r8 asm("r8") = a5;
    unsigned long rax = (unsigned long)hypercall_page + nr * 32;

    asm volatile ("call *%%rax"
                  : "+a" (rax), "+D" (a1), "+S" (a2), "+d" (a3),
                    "+r" (r10), "+r" (r8)
                  :
                  : "memory", "rcx", "r9", "r11");
    return (long)rax;
}

/* Hypercalls whose 64-bit arguments need one register on this ABI. */
static inline long HYPERVISOR_update_va_mapping(unsigned long va,
                                                uint64_t val,
                                                unsigned long flags)
{
    return _hypercall(__HYPERVISOR_update_va_mapping, va, val, flags, 0, 0);
}

static inline long HYPERVISOR_update_descriptor(uint64_t maddr, uint64_t desc)
{
    return _hypercall(__HYPERVISOR_update_descriptor, maddr, desc, 0, 0, 0);
}

static inline long HYPERVISOR_set_timer_op(uint64_t timeout)
{
    return _hypercall(__HYPERVISOR_set_timer_op, timeout, 0, 0, 0, 0);
}

static inline long HYPERVISOR_set_segment_base(unsigned int which,
                                               unsigned long base)
{
    return _hypercall(__HYPERVISOR_set_segment_base, which, base, 0, 0, 0);
}

/*
 * Register frame built by the trap entry code (guests/arch/x86_64/entry.S)
 * on top of the bounce frame Xen pushed.
 */
struct trap_frame {
    unsigned long r15, r14, r13, r12, r11, r10, r9, r8;
    unsigned long bp, di, si, dx, cx, bx, ax;
    unsigned long vector;       /* also: return mode on the way out */
    unsigned long error_code;   /* 0 when the vector has none */
    /* Pushed by Xen. */
    unsigned long ip;
    unsigned long cs;           /* bits 32-39: saved upcall mask */
    unsigned long flags;
    unsigned long sp;
    unsigned long ss;
};

#define FRAME_CS(f)             ((uint16_t)(f)->cs)
#define FRAME_SAVED_MASK(f)     ((uint8_t)((f)->cs >> 32))
#define FRAME_FROM_USER(f)      (((f)->cs & 3) == 3)
/* System call number and first argument as seen by the kernel. */
#define FRAME_SYSNR(f)          ((f)->ax)
#define FRAME_ARG0(f)           ((f)->di)
#define FRAME_RET(f)            ((f)->ax)

static inline unsigned long read_cr2(void)
{
    unsigned long v;
    asm volatile ("mov %%cr2, %0" : "=r" (v));
    return v;
}

#endif /* __ASSEMBLY__ */
#endif /* GUEST_ARCH_H */
