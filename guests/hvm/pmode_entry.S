/* Entry and interrupt stubs of the protected-mode test kernels (pmode.c, pc.c). */
#include "vectors.h"
        .code32
        .section .text.entry, "ax"
        .globl _start
_start:
        mov     $stack_top, %esp
        call    kmain
1:      cli
        hlt
        jmp     1b

        .text
/* One stub per vector (vectors.h): a zero where the CPU pushes no error code, the
 * vector, then the common part builds a struct frame and calls trap(frame). */
        TRAP_STUBS 0, 48, common
        TRAP_STUB 128, common

common:
        pusha
        push    %esp
        call    trap
        add     $4, %esp
        popa
        add     $8, %esp
        iret

        .section .rodata
        .globl  vectors
vectors:
        TRAP_ENTRIES 0, 48
        .globl  vector_syscall
vector_syscall:
        .long   trap_vector_128

/* #GP test: a selector beyond the GDT limit (error code 0x1230) */
        .text
        .globl  gp_test, gp_insn, gp_resume
gp_test:
        mov     $0x1230, %ax
gp_insn:
        mov     %ax, %ds
gp_resume:
        mov     $0x10, %ax
        mov     %ax, %ds
        ret

        .globl  ud_insn
        .globl  ud_test
ud_test:
ud_insn:
        ud2
        ret

        .bss
        .p2align 4
        .space  16384
stack_top:
