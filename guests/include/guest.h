/*
 * Common declarations for the hvcore test kernels (both PV ABIs).
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>

#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/memory.h>
#include <xen/callback.h>
#include <xen/event_channel.h>
#include <xen/physdev.h>
#include <xen/version.h>
#include <xen/features.h>
#include <xen/io/console.h>

#include "arch.h"

#define PAGE_SHIFT      12
#define PAGE_SIZE       4096UL
#define PAGE_MASK       (~(PAGE_SIZE - 1))

/* Page-table entry bits (same on both ABIs: PAE entries are 64-bit). */
#define _PAGE_PRESENT   0x001ULL
#define _PAGE_RW        0x002ULL
#define _PAGE_USER      0x004ULL
#define _PAGE_PWT       0x008ULL
#define _PAGE_PCD       0x010ULL
#define _PAGE_ACCESSED  0x020ULL
#define _PAGE_DIRTY     0x040ULL
#define _PAGE_PSE       0x080ULL
#define PTE_MFN_MASK    0x000ffffffffff000ULL
#define L1_PROT         (_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY)
#define L1_PROT_RO      (_PAGE_PRESENT | _PAGE_ACCESSED)

/* Page-fault error code bits. */
#define PFEC_PRESENT    0x01
#define PFEC_WRITE      0x02
#define PFEC_USER       0x04
#define PFEC_RSVD       0x08
#define PFEC_FETCH      0x10

#define ARRAY_SIZE(a)   (sizeof(a) / sizeof((a)[0]))
#define barrier()       asm volatile ("" ::: "memory")
#define mb()            __sync_synchronize()
#define rmb()           barrier()
#define wmb()           barrier()
#define ACCESS_ONCE(x)  (*(volatile __typeof__(x) *)&(x))
#define __aligned(n)    __attribute__((aligned(n)))
#define __noreturn      __attribute__((noreturn))
#define __used          __attribute__((used))

/* ------------------------------------------------------------------ */
/* Kernel descriptor: every test kernel defines one with DEFINE_KERNEL. */

#define KF_NO_TRAPS     0x1     /* do not install the default trap table */

struct kernel_desc {
    const char *name;
    void (*main)(void);
    unsigned int flags;
};

#define DEFINE_KERNEL(_name, _main, _flags)                             \
    const struct kernel_desc kernel_desc = { _name, _main, _flags }

extern const struct kernel_desc kernel_desc;

/* ------------------------------------------------------------------ */
/* Globals set up by start_kernel(). */

extern start_info_t *start_info;
extern shared_info_t *shared_info;      /* NULL until map_shared_info() */
extern unsigned long *phys_to_machine;  /* start_info->mfn_list */
extern unsigned long *machine_to_phys;  /* Xen's read-only M2P table */
extern unsigned long m2p_start, m2p_end, m2p_max_mfn;
extern long machphys_mapping_rc;      /* XENMEM_machphys_mapping result */
extern unsigned char bss_was_dirty;     /* set by head.S */
extern char _text[], _etext[], _edata[], __bss_start[], _end[];
extern char boot_stack_top[];

/* ------------------------------------------------------------------ */
/* Hypercall wrappers (lib/hypercall.c). */

static inline long HYPERVISOR_set_trap_table(const trap_info_t *t)
{ return _hypercall(__HYPERVISOR_set_trap_table, (unsigned long)t, 0, 0, 0, 0); }
static inline long HYPERVISOR_mmu_update(mmu_update_t *req, unsigned int count,
                                         unsigned int *done, domid_t dom)
{ return _hypercall(__HYPERVISOR_mmu_update, (unsigned long)req, count,
                    (unsigned long)done, dom, 0); }
static inline long HYPERVISOR_mmuext_op(struct mmuext_op *op, unsigned int count,
                                        unsigned int *done, domid_t dom)
{ return _hypercall(__HYPERVISOR_mmuext_op, (unsigned long)op, count,
                    (unsigned long)done, dom, 0); }
static inline long HYPERVISOR_set_gdt(unsigned long *frames, unsigned int entries)
{ return _hypercall(__HYPERVISOR_set_gdt, (unsigned long)frames, entries, 0, 0, 0); }
static inline long HYPERVISOR_stack_switch(unsigned long ss, unsigned long sp)
{ return _hypercall(__HYPERVISOR_stack_switch, ss, sp, 0, 0, 0); }
static inline long HYPERVISOR_fpu_taskswitch(int set)
{ return _hypercall(__HYPERVISOR_fpu_taskswitch, set, 0, 0, 0, 0); }
static inline long HYPERVISOR_get_debugreg(int reg)
{ return _hypercall(__HYPERVISOR_get_debugreg, reg, 0, 0, 0, 0); }
static inline long HYPERVISOR_memory_op(unsigned int cmd, void *arg)
{ return _hypercall(__HYPERVISOR_memory_op, cmd, (unsigned long)arg, 0, 0, 0); }
static inline long HYPERVISOR_xen_version(int cmd, void *arg)
{ return _hypercall(__HYPERVISOR_xen_version, cmd, (unsigned long)arg, 0, 0, 0); }
static inline long HYPERVISOR_console_io(int cmd, int count, const char *buf)
{ return _hypercall(__HYPERVISOR_console_io, cmd, count, (unsigned long)buf, 0, 0); }
static inline long HYPERVISOR_vm_assist(unsigned int cmd, unsigned int type)
{ return _hypercall(__HYPERVISOR_vm_assist, cmd, type, 0, 0, 0); }
static inline long HYPERVISOR_vcpu_op(int cmd, unsigned int vcpu, void *arg)
{ return _hypercall(__HYPERVISOR_vcpu_op, cmd, vcpu, (unsigned long)arg, 0, 0); }
static inline long HYPERVISOR_sched_op(int cmd, void *arg)
{ return _hypercall(__HYPERVISOR_sched_op, cmd, (unsigned long)arg, 0, 0, 0); }
static inline long HYPERVISOR_callback_op(int cmd, void *arg)
{ return _hypercall(__HYPERVISOR_callback_op, cmd, (unsigned long)arg, 0, 0, 0); }
static inline long HYPERVISOR_event_channel_op(int cmd, void *arg)
{ return _hypercall(__HYPERVISOR_event_channel_op, cmd, (unsigned long)arg, 0, 0, 0); }
static inline long HYPERVISOR_physdev_op(int cmd, void *arg)
{ return _hypercall(__HYPERVISOR_physdev_op, cmd, (unsigned long)arg, 0, 0, 0); }

/* ------------------------------------------------------------------ */
/* lib/string.c */
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strstr(const char *h, const char *n);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* lib/printk.c */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* lib/console.c */
void console_write(const char *s, size_t len);
void console_flush(void);

/* lib/sched.c */
void __noreturn shutdown(unsigned int reason);
void __noreturn poweroff(void);
void __noreturn crash(void);
void __noreturn fail(const char *msg);
void __noreturn failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void yield(void);
long set_iopl(unsigned int iopl);

/* A failed CHECK ends the test at once (FAIL line, SHUTDOWN_crash). */
#define CHECK(cond, ...)                                                \
    do { if (!(cond)) failf(__VA_ARGS__); } while (0)

/*
 * A failed EXPECT prints its FAIL line and lets the test go on; the kernel
 * then ends with SHUTDOWN_crash instead of PASS.  For independent checks.
 */
extern unsigned int nr_failures;
void expectf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define EXPECT(cond, ...)                                               \
    ({ int __ok = !!(cond); if (!__ok) expectf(__VA_ARGS__); __ok; })

/* lib/cmdline.c */
int cmdline_get_ulong(const char *key, unsigned long *val);
/* The decimal number at *s (after spaces); *s moves past it. */
unsigned long next_ulong(const char **s);

/* lib/mm.c */
static inline unsigned long pfn_to_mfn(unsigned long pfn)
{ return phys_to_machine[pfn]; }
static inline unsigned long mfn_to_pfn(unsigned long mfn)
{ return machine_to_phys[mfn]; }
static inline unsigned long virt_to_pfn(const void *va)
{ return ((unsigned long)va - VIRT_BASE) >> PAGE_SHIFT; }
static inline void *pfn_to_virt(unsigned long pfn)
{ return (void *)(VIRT_BASE + (pfn << PAGE_SHIFT)); }
static inline unsigned long virt_to_mfn(const void *va)
{ return pfn_to_mfn(virt_to_pfn(va)); }
static inline void *mfn_to_virt(unsigned long mfn)
{ return pfn_to_virt(mfn_to_pfn(mfn)); }
static inline uint64_t virt_to_mach(const void *va)
{ return ((uint64_t)virt_to_mfn(va) << PAGE_SHIFT) |
         ((unsigned long)va & ~PAGE_MASK); }

void mm_early_init(start_info_t *si);
void mm_init(void);
unsigned long kernel_root_mfn(void);
pgentry_t *pt_lookup(unsigned long root_mfn, unsigned long va, int level);
int va_is_mapped(unsigned long root_mfn, unsigned long va);
extern unsigned long first_free_pfn, mapped_end_pfn, next_free_pfn;
unsigned long alloc_pfn(void);
void *alloc_page(void);
long mmu_update1(uint64_t ptr, uint64_t val);
long mmuext1(unsigned int cmd, unsigned long arg1);
long set_page_prot(void *va, uint64_t prot);
long map_page(unsigned long root_mfn, unsigned long va, unsigned long mfn,
              uint64_t prot);
void map_shared_info(void);

/* lib/traps.c */
#define VEC_SYSCALL     0x100   /* CALLBACKTYPE_syscall (x86-64) */
#define VEC_EVENT       0x101   /* CALLBACKTYPE_event */
#define VEC_FAILSAFE    0x102   /* CALLBACKTYPE_failsafe */

/* Values a trap hook returns to choose how the frame is resumed. */
#define RET_UNHANDLED   (-1)
#define RET_IRET        0       /* HYPERVISOR_iret, flags 0 */
#define RET_NATIVE      1       /* native iret / iretq */
#define RET_IRET_SYSCALL 2      /* HYPERVISOR_iret with VGCF_in_syscall */

typedef int (*trap_hook_t)(struct trap_frame *f);
extern trap_hook_t trap_hook;
void trap_init(void);
void dump_frame(const struct trap_frame *f);
extern unsigned long event_upcalls;
typedef void (*event_hook_t)(unsigned int port);
extern event_hook_t event_hook;
int evtchn_test_and_clear(unsigned int port);
void evtchn_unmask_all(void);

/* Entry points (arch/<abi>/entry.S). */
void trap_entry_0(void);  void trap_entry_1(void);  void trap_entry_3(void);
void trap_entry_4(void);  void trap_entry_5(void);  void trap_entry_6(void);
void trap_entry_7(void);  void trap_entry_10(void); void trap_entry_11(void);
void trap_entry_12(void); void trap_entry_13(void); void trap_entry_14(void);
void trap_entry_16(void); void trap_entry_17(void); void trap_entry_18(void);
void trap_entry_19(void); void trap_entry_128(void);
void event_callback_entry(void);
void failsafe_callback_entry(void);
void syscall_callback_entry(void);

/* Saved kernel context (arch/<abi>/entry.S), a tiny setjmp/longjmp. */
struct kctx { unsigned long regs[8]; };
int kctx_save(struct kctx *c);
void __noreturn kctx_restore(struct kctx *c, int val);

/* Enter user mode through HYPERVISOR_iret (arch/<abi>/entry.S). */
void __noreturn iret_to_user(unsigned long ip, unsigned long sp,
                             unsigned long flags);

/* lib/time.c */
uint64_t rdtsc(void);
uint64_t system_time_ns(void);   /* needs map_shared_info() */
void read_wallclock(uint32_t *sec, uint32_t *nsec);

/* Xen's errno values that tests compare against. */
#define XEN_EPERM       1
#define XEN_ENOENT      2
#define XEN_ESRCH       3
#define XEN_EINVAL      22
#define XEN_ENOSYS      38

#endif /* GUEST_H */
