/*
 * Boot sector for tests/test_hvm_open_bus.py: a guest that looks for memory that is not
 * its own. In flat 32-bit protected mode it stores a marker at physical addresses with
 * nothing behind them (just above its 16 MiB of RAM, in the middle of the 32-bit space,
 * below the LAPIC, at the top) and loads them back as dword, word and byte, with a
 * `rep movsl` sweep over one page too. Results at 0x500: for each address the dword, the
 * word and the byte read back after the store; then the OR of the swept page's dwords'
 * complements (0 when every one read as all ones).
 */
#include "pm32.h"
        PM32_START pm
        mov     $targets, %esi
        mov     $0x500, %edi
1:      mov     (%esi), %ebx
        test    %ebx, %ebx
        jz      2f
        movl    $0x12345678, (%ebx)
        movw    $0xABCD, 4(%ebx)
        movb    $0x5A, 6(%ebx)
        mov     (%ebx), %eax
        mov     %eax, (%edi)
        movzwl  4(%ebx), %eax
        mov     %eax, 4(%edi)
        movzbl  6(%ebx), %eax
        mov     %eax, 8(%edi)
        add     $4, %esi
        add     $12, %edi
        jmp     1b
2:      push    %edi
        mov     $0x20000000, %esi           /* one page from nowhere into RAM at 0x10000 */
        mov     $0x10000, %edi
        mov     $1024, %ecx
        cld
        rep movsl
        pop     %edi
        xor     %edx, %edx
        mov     $0x10000, %esi
        mov     $1024, %ecx
3:      mov     (%esi), %eax
        not     %eax
        or      %eax, %edx
        add     $4, %esi
        loop    3b
        mov     %edx, (%edi)
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

        .p2align 2
targets: .long  0x01000000, 0x01000FF0, 0x80000000, 0xC0000000, 0xFEBFF000, 0xFFFFF000, 0

        FLAT_GDT
        END_BOOT_SECTOR
        .set    idt, 0x8000
