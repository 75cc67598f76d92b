/* The teaching kernel's entry and trap stubs: each vector pushes an error code (0 where
 * the CPU pushes none) and its number; `alltraps` saves the registers and data segments
 * as a struct trapframe, calls trap(tf), and resumes whatever frame trap returns (the
 * same process, or another one: that is the context switch). */
#include "../vectors.h"
        .code32
        .section .text.entry, "ax"
        .globl _start
_start:
        cld
        mov     $bss_start, %edi        /* boot32.S loaded the image only */
        mov     $bss_end, %ecx
        sub     %edi, %ecx
        xor     %eax, %eax
        rep stosb
        mov     $boot_stack_top, %esp
        call    kmain
1:      cli
        hlt
        jmp     1b

        .text
        TRAP_STUBS 0, 63, alltraps
        TRAP_STUB 128, alltraps

        .globl  alltraps, trapret
alltraps:
        push    %ds
        push    %es
        pusha
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        push    %esp
        call    trap
        mov     %eax, %esp              /* the frame to resume */
trapret:
        popa
        pop     %es
        pop     %ds
        add     $8, %esp
        iret

        .section .rodata
        .globl  vector_table
vector_table:
        TRAP_ENTRIES 0, 63
        TRAP_ENTRY 128

        .bss
        .p2align 4
        .space  8192
boot_stack_top:
