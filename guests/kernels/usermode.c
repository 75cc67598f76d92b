/*
 * usermode: kernel -> user through HYPERVISOR_iret, system calls from user
 * mode back into the kernel (64-bit: `syscall` bounced to the
 * CALLBACKTYPE_syscall callback; 32-bit: `int $0x80` through a DPL-3 trap
 * table entry), return to user, and a final exit system call that brings
 * the kernel back.  Also checks that a user access to kernel memory is a
 * #PF with the U bit.
 *
 * 64-bit: user mode runs on its own page tables (MMUEXT_NEW_USER_BASEPTR)
 * holding only the user code and stack pages.  32-bit: the user pages are
 * added to the kernel's tables with _PAGE_USER.
 */
#include "guest.h"

#define USER_VA         0x00400000UL
#define USER_STACK_VA   0x00600000UL
#define SYS_EXIT        0
#define SYS_ECHO        1

extern char user_text_start[], user_text_end[];
extern char user_echo[], user_peek[], user_peek_at[];

static char user_stack[PAGE_SIZE] __attribute__((section(".bss.page"), aligned(4096)));
static char kernel_stack[4 * PAGE_SIZE] __attribute__((section(".bss.page"), aligned(4096)));

static struct kctx kctx;
static volatile struct {
    unsigned int echoes;
    unsigned long exit_status;
    unsigned long pf_err, pf_cr2, pf_ip, pf_cs;
    unsigned long sys_cs, sys_ss, sys_sp, frame_end;
} rec;

static unsigned long user_addr(const char *sym)
{
    return USER_VA + (unsigned long)(sym - user_text_start);
}

static int usermode_hook(struct trap_frame *f)
{
#ifdef __x86_64__
    int is_syscall = f->vector == VEC_SYSCALL;
#else
    int is_syscall = f->vector == 0x80;
#endif

    if (is_syscall) {
        if (!FRAME_FROM_USER(f)) {
            printk("FAIL: system call frame does not come from user mode\n");
            dump_frame(f);
            crash();
        }
        rec.sys_cs = f->cs;
        rec.sys_ss = f->ss;
        rec.frame_end = (unsigned long)(&f->ss + 1);
        switch (FRAME_SYSNR(f)) {
        case SYS_ECHO:
            rec.echoes++;
            rec.sys_sp = f->sp;
            FRAME_RET(f) = FRAME_ARG0(f) + 1;
#ifdef __x86_64__
            return RET_IRET_SYSCALL;
#else
            return RET_NATIVE;          /* ring 1 -> ring 3 iret */
#endif
        case SYS_EXIT:
            rec.exit_status = FRAME_ARG0(f);
            kctx_restore(&kctx, 1);
        default:
            failf("unknown system call %lu", FRAME_SYSNR(f));
        }
    }
    if (f->vector == 14 && FRAME_FROM_USER(f)) {
        rec.pf_err = f->error_code;
        rec.pf_cr2 = shared_info->vcpu_info[0].arch.cr2;
        rec.pf_ip = f->ip;
        rec.pf_cs = f->cs;
        kctx_restore(&kctx, 2);
    }
    return RET_UNHANDLED;
}

/* Runs the user program at ip; returns 1 on exit(), 2 on a user #PF. */
static int run_user(unsigned long ip)
{
    int r = kctx_save(&kctx);

    if (r == 0)
        iret_to_user(ip, USER_STACK_VA + PAGE_SIZE, 0x202);
    /* Back in the kernel; keep running with events masked. */
    shared_info->vcpu_info[0].evtchn_upcall_mask = 1;
    barrier();
    return r;
}

static void setup_user_space(void)
{
    unsigned long code_mfn = virt_to_mfn(user_text_start);
    unsigned long stack_mfn = virt_to_mfn(user_stack);
    unsigned long root;
    long rc;

    CHECK(user_text_end - user_text_start == PAGE_SIZE,
          "user code is %ld bytes, want one page",
          (long)(user_text_end - user_text_start));
#ifdef __x86_64__
    {
        void *l4 = alloc_page();

        rc = set_page_prot(l4, L1_PROT_RO);
        CHECK(rc == 0, "user L4 read-only: rc %ld", rc);
        rc = mmuext1(MMUEXT_PIN_L4_TABLE, virt_to_mfn(l4));
        CHECK(rc == 0, "MMUEXT_PIN_L4_TABLE: rc %ld", rc);
        root = virt_to_mfn(l4);
    }
#else
    root = kernel_root_mfn();
#endif
    rc = map_page(root, USER_VA, code_mfn, _PAGE_PRESENT | _PAGE_USER |
                  _PAGE_ACCESSED);
    CHECK(rc == 0, "mapping user code: rc %ld", rc);
    rc = map_page(root, USER_STACK_VA, stack_mfn, L1_PROT | _PAGE_USER);
    CHECK(rc == 0, "mapping user stack: rc %ld", rc);
#ifdef __x86_64__
    rc = mmuext1(MMUEXT_NEW_USER_BASEPTR, root);
    CHECK(rc == 0, "MMUEXT_NEW_USER_BASEPTR: rc %ld", rc);
    printk("usermode: user page tables at mfn %lx\n", root);
#endif
    rc = HYPERVISOR_stack_switch(FLAT_KERNEL_SS,
                                 (unsigned long)kernel_stack + sizeof(kernel_stack));
    CHECK(rc == 0, "stack_switch: rc %ld", rc);
    printk("usermode: user code at %lx (mfn %lx), stack at %lx\n", USER_VA,
           code_mfn, USER_STACK_VA);
}

static void usermode_main(void)
{
    int round, r;

    map_shared_info();
    setup_user_space();
    trap_hook = usermode_hook;

    for (round = 1; round <= 2; round++) {
        memset((void *)&rec, 0, sizeof(rec));
        r = run_user(user_addr(user_echo));
        CHECK(r == 1, "user program did not exit (r %d)", r);
        CHECK(rec.exit_status == 0, "user program exit status %lu "
              "(echo result mismatch in user mode)", rec.exit_status);
        CHECK(rec.echoes == 3, "%u echo system calls, want 3", rec.echoes);
#ifdef __x86_64__
        CHECK((uint16_t)rec.sys_cs == FLAT_USER_CS64,
              "syscall frame CS %lx, want %x", rec.sys_cs, FLAT_USER_CS64);
#else
        CHECK((uint16_t)rec.sys_cs == FLAT_USER_CS &&
              (uint16_t)rec.sys_ss == FLAT_USER_SS,
              "int $0x80 frame CS %lx SS %lx, want %x %x", rec.sys_cs,
              rec.sys_ss, FLAT_USER_CS, FLAT_USER_SS);
#endif
        /* The user pushed one word before each echo system call. */
        CHECK(rec.sys_sp == USER_STACK_VA + PAGE_SIZE - sizeof(long),
              "system call frame SP %lx, want %lx", rec.sys_sp,
              USER_STACK_VA + PAGE_SIZE - sizeof(long));
        /* Frames from user mode go at the stack_switch stack top. */
        CHECK(rec.frame_end == (unsigned long)kernel_stack + sizeof(kernel_stack),
              "system call frame ends at %lx, want the stack_switch top %lx",
              rec.frame_end, (unsigned long)kernel_stack + sizeof(kernel_stack));
        printk("usermode: round %d: kernel -> user -> 3 system calls -> "
               "exit -> kernel: round-trip OK\n", round);
    }

    memset((void *)&rec, 0, sizeof(rec));
    r = run_user(user_addr(user_peek));
    CHECK(r == 2, "user read of kernel memory did not fault (r %d, exit %lu)",
          r, rec.exit_status);
#ifdef __x86_64__
    /* Not mapped at all in the user page tables. */
    CHECK(rec.pf_err == PFEC_USER, "user #PF error code %lx, want %x",
          rec.pf_err, PFEC_USER);
#else
    /* Mapped, but supervisor-only. */
    CHECK(rec.pf_err == (PFEC_USER | PFEC_PRESENT),
          "user #PF error code %lx, want %x", rec.pf_err,
          PFEC_USER | PFEC_PRESENT);
#endif
    CHECK(rec.pf_cr2 == VIRT_BASE, "user #PF cr2 %lx, want %lx", rec.pf_cr2,
          VIRT_BASE);
    CHECK(rec.pf_ip == user_addr(user_peek_at), "user #PF ip %lx, want %lx",
          rec.pf_ip, user_addr(user_peek_at));
    CHECK((rec.pf_cs & 3) == 3, "user #PF frame CS %lx lacks RPL 3",
          rec.pf_cs);
    printk("usermode: user access to kernel memory -> #PF error code %lx "
           "cr2 %lx OK\n", rec.pf_err, rec.pf_cr2);
    trap_hook = NULL;
}

DEFINE_KERNEL("usermode", usermode_main, 0);
