/* User programs start here: EBX points at the argument string. */
        .section .text.entry, "ax"
        .globl _start
_start:
        push    %ebx
        call    main
        mov     %eax, %ebx
        mov     $1, %eax                /* SYS_EXIT */
        int     $0x80
1:      jmp     1b
