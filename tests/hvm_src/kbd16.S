/*
 * Boot sector for tests/test_hvm_keyboard.py: the BIOS keyboard (INT 16h over the
 * 8042's IRQ 1), in real mode with interrupts on. At 0x700: ZF from AH=01h before any
 * key (word: 1 = none), then AH=05h's AL for CX = 1234h (0: stored) and the key AH=00h
 * gives back (1234h), then each key AH=00h returns (AX) until 'q', the shift flags
 * (AH=02h) after the last one at 0x6FE, AH=11h's key and ZF left at 0x6FA/0x6FC.
 * Then out 0x2A to the test-exit port.
 */
#include "pm32.h"
        REAL_MODE_START
        sti
        mov     $0x700, %di
        mov     $0x01, %ah
        int     $0x16
        setz    %al
        xor     %ah, %ah
        stosw
        mov     $0x05, %ah
        mov     $0x1234, %cx
        int     $0x16
        xor     %ah, %ah
        stosw
        xor     %ah, %ah
        int     $0x16
        stosw
1:      mov     $0x11, %ah                  /* wait until a key is there, then take it */
        int     $0x16
        jz      1b
        mov     %ax, 0x6FA
        setz    0x6FC
        mov     $0x10, %ah
        int     $0x16
        stosw
        cmp     $'q', %al
        jne     1b
        mov     $0x02, %ah
        int     $0x16
        mov     %al, 0x6FE
        mov     $0x2A, %al
        out     %al, $0xF4
        cli
        hlt
        END_BOOT_SECTOR
