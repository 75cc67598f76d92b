/*
 * Trap, event and system-call entry code of the x86-64 PV kernels.
 *
 * Xen's bounce frame, from the top of the guest kernel stack down:
 *   SS, RSP, RFLAGS, CS (bits 32-39: saved upcall mask), RIP,
 *   [error code], R11, RCX                          <- %rsp on entry
 * The handler pops RCX and R11 first.  We then build struct trap_frame
 * (arch.h), call trap_dispatch() and return with HYPERVISOR_iret (the
 * iret stub of the hypercall page pushes RCX, R11, RAX on top of our
 * FLAGS, RIP, CS, RFLAGS, RSP, SS: struct iret_context) or, when asked
 * to, with a native iretq.
 */
#include "asm.h"

        .text
        .code64

.macro TRAP_NOERR vec
ENTRY(trap_entry_\vec)
        popq    %rcx
        popq    %r11
        pushq   $0
        pushq   $\vec
        jmp     trap_common
END(trap_entry_\vec)
.endm

.macro TRAP_ERR vec
ENTRY(trap_entry_\vec)
        popq    %rcx
        popq    %r11
        pushq   $\vec
        jmp     trap_common
END(trap_entry_\vec)
.endm

        TRAP_NOERR 0
        TRAP_NOERR 1
        TRAP_NOERR 3
        TRAP_NOERR 4
        TRAP_NOERR 5
        TRAP_NOERR 6
        TRAP_NOERR 7
        TRAP_ERR   10
        TRAP_ERR   11
        TRAP_ERR   12
        TRAP_ERR   13
        TRAP_ERR   14
        TRAP_NOERR 16
        TRAP_ERR   17
        TRAP_NOERR 18
        TRAP_NOERR 19
        TRAP_NOERR 128

/* CALLBACKTYPE_syscall: frame is RCX, R11, RIP, CS, RFLAGS, RSP, SS. */
ENTRY(syscall_callback_entry)
        popq    %rcx
        popq    %r11
        pushq   $0
        pushq   $0x100
        jmp     trap_common
END(syscall_callback_entry)

/* CALLBACKTYPE_event: frame is RCX, R11, RIP, CS, RFLAGS, RSP, SS. */
ENTRY(event_callback_entry)
        popq    %rcx
        popq    %r11
        pushq   $0
        pushq   $0x101
        jmp     trap_common
END(event_callback_entry)

/*
 * CALLBACKTYPE_failsafe: RCX, R11, DS, ES, FS, GS, RIP, ...  We never
 * return from it: trap_dispatch() reports and crashes the domain.
 */
ENTRY(failsafe_callback_entry)
        popq    %rcx
        popq    %r11
        pushq   $0
        pushq   $0x102
        jmp     trap_common
END(failsafe_callback_entry)

trap_common:
        pushq   %rax
        pushq   %rbx
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %rbp
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        cld
        movq    %rsp, %rdi
        movq    %rsp, %rbx
        andq    $-16, %rsp
        call    trap_dispatch
        movq    %rbx, %rsp
        movq    %rax, 15*8(%rsp)        /* return mode into the vector slot */
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rbp
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rbx
        popq    %rax
        cmpq    $1, (%rsp)
        je      1f
        cmpq    $2, (%rsp)
        je      2f
        addq    $16, %rsp               /* vector/mode, error code */
        pushq   $0                      /* iret_context.flags */
        jmp     hypercall_page + __HYPERVISOR_iret * 32
2:      addq    $16, %rsp
        pushq   $VGCF_in_syscall
        jmp     hypercall_page + __HYPERVISOR_iret * 32
1:      addq    $16, %rsp
        /* Native iretq: the frame's CS and SS must carry RPL 3. */
        orb     $3, 8(%rsp)
        orb     $3, 32(%rsp)
        iretq

/*
 * void iret_to_user(ip, sp, flags): enter guest user mode through
 * HYPERVISOR_iret.  Needs a user page-table base and a kernel stack
 * (stack_switch) registered first.
 */
ENTRY(iret_to_user)
        pushq   $FLAT_USER_SS
        pushq   %rsi                    /* RSP */
        pushq   %rdx                    /* RFLAGS */
        pushq   $FLAT_USER_CS
        pushq   %rdi                    /* RIP */
        pushq   $0                      /* flags */
        xorl    %eax, %eax
        xorl    %ecx, %ecx
        xorl    %r11d, %r11d
        jmp     hypercall_page + __HYPERVISOR_iret * 32
END(iret_to_user)

/* int kctx_save(struct kctx *c): returns 0, or val from kctx_restore. */
ENTRY(kctx_save)
        popq    %rsi                    /* return address */
        movq    %rbx, 0*8(%rdi)
        movq    %rbp, 1*8(%rdi)
        movq    %r12, 2*8(%rdi)
        movq    %r13, 3*8(%rdi)
        movq    %r14, 4*8(%rdi)
        movq    %r15, 5*8(%rdi)
        movq    %rsp, 6*8(%rdi)
        movq    %rsi, 7*8(%rdi)
        xorl    %eax, %eax
        jmp     *%rsi
END(kctx_save)

ENTRY(kctx_restore)
        movl    %esi, %eax
        movq    0*8(%rdi), %rbx
        movq    1*8(%rdi), %rbp
        movq    2*8(%rdi), %r12
        movq    3*8(%rdi), %r13
        movq    4*8(%rdi), %r14
        movq    5*8(%rdi), %r15
        movq    6*8(%rdi), %rsp
        jmp     *7*8(%rdi)
END(kctx_restore)
