/*
 * Trap, event and system-call entry code of the x86-32 PAE PV kernels.
 *
 * Xen's bounce frame on the ring-1 stack, from the top down:
 *   [SS, ESP: only when interrupted in ring 3], EFLAGS,
 *   CS (bits 16-23: saved upcall mask), EIP, [error code]   <- %esp
 * We build struct trap_frame (arch.h), call trap_dispatch() and return
 * with HYPERVISOR_iret (the iret stub pushes EAX on top of EIP, CS,
 * EFLAGS, [ESP, SS]) or, when asked to, with a native iret.
 */
#include "asm.h"

        .text
        .code32

.macro TRAP_NOERR vec
ENTRY(trap_entry_\vec)
        pushl   $0
        pushl   $\vec
        jmp     trap_common
END(trap_entry_\vec)
.endm

.macro TRAP_ERR vec
ENTRY(trap_entry_\vec)
        pushl   $\vec
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

/* No CALLBACKTYPE_syscall on this ABI; the symbol exists for lib/traps.c. */
ENTRY(syscall_callback_entry)
        pushl   $0
        pushl   $0x100
        jmp     trap_common
END(syscall_callback_entry)

/* CALLBACKTYPE_event: frame is EIP, CS, EFLAGS, [ESP, SS]. */
ENTRY(event_callback_entry)
        pushl   $0
        pushl   $0x101
        jmp     trap_common
END(event_callback_entry)

/* CALLBACKTYPE_failsafe: DS, ES, FS, GS, EIP, ...  Never returns. */
ENTRY(failsafe_callback_entry)
        pushl   $0
        pushl   $0x102
        jmp     trap_common
END(failsafe_callback_entry)

trap_common:
        pushl   %ds
        pushl   %es
        pushl   %eax
        pushl   %ebx
        pushl   %ecx
        pushl   %edx
        pushl   %esi
        pushl   %edi
        pushl   %ebp
        cld
        movl    $FLAT_KERNEL_DS, %eax
        movl    %eax, %ds
        movl    %eax, %es
        movl    %esp, %eax
        pushl   %eax
        call    trap_dispatch
        addl    $4, %esp
        movl    %eax, 9*4(%esp)         /* return mode into the vector slot */
        popl    %ebp
        popl    %edi
        popl    %esi
        popl    %edx
        popl    %ecx
        popl    %ebx
        popl    %eax
        popl    %es
        popl    %ds
        cmpl    $1, (%esp)
        je      1f
        addl    $8, %esp                /* vector/mode, error code */
        jmp     hypercall_page + __HYPERVISOR_iret * 32
1:      addl    $8, %esp
        iret

/*
 * void iret_to_user(ip, sp, flags): enter ring 3 through HYPERVISOR_iret.
 * A kernel stack must have been registered with stack_switch first.
 */
ENTRY(iret_to_user)
        movl    4(%esp), %eax
        movl    8(%esp), %ecx
        movl    12(%esp), %edx
        pushl   $FLAT_USER_SS
        pushl   %ecx                    /* ESP */
        pushl   %edx                    /* EFLAGS */
        pushl   $FLAT_USER_CS
        pushl   %eax                    /* EIP */
        xorl    %eax, %eax
        jmp     hypercall_page + __HYPERVISOR_iret * 32
END(iret_to_user)

/* int kctx_save(struct kctx *c): returns 0, or val from kctx_restore. */
ENTRY(kctx_save)
        movl    4(%esp), %eax
        movl    (%esp), %ecx            /* return address */
        movl    %ebx, 0*4(%eax)
        movl    %esi, 1*4(%eax)
        movl    %edi, 2*4(%eax)
        movl    %ebp, 3*4(%eax)
        leal    4(%esp), %edx
        movl    %edx, 4*4(%eax)         /* %esp after return */
        movl    %ecx, 5*4(%eax)
        xorl    %eax, %eax
        ret
END(kctx_save)

ENTRY(kctx_restore)
        movl    4(%esp), %ecx
        movl    8(%esp), %eax
        movl    0*4(%ecx), %ebx
        movl    1*4(%ecx), %esi
        movl    2*4(%ecx), %edi
        movl    3*4(%ecx), %ebp
        movl    4*4(%ecx), %esp
        jmp     *5*4(%ecx)
END(kctx_restore)
