/*
 * Boot sector for tests/test_hvm_devices.py: the A20 gate. Real mode first, through the
 * BIOS (INT 15h AX=2400h-2403h), port 92h and the 8042's output port (D1h); then 32-bit
 * protected mode with A20 off. One byte each at 0x700:
 *  700 2402h at boot (1: on)         701 CF after 2400h (0)    702 2402h after it (0)
 *  703 FFFF:0610 after 2400h: the byte at 0000:0600 (11h), not the one at 100600h (22h)
 *  704 0000:0600 after a store of 33h to FFFF:0610 (33h)
 *  705 FFFF:0610 after 2401h (22h again)                       706 2402h after it (1)
 *  707 FFFF:0610 after port 92h bit 1 cleared (the 8042 still has A20GATE low: 33h)
 *  708 FFFF:0610 after the 8042's output port DFh (22h)        709 BL from 2403h (3)
 *  70A..70B the word at FFFF:0010 with A20 off, 70C..70D the word at 0000:0000
 *  710 [300600h] after [200600h] = 44h, A20 off, in protected mode (44h)
 *  711 [100600h] there (33h)          712 [300600h] after port 92h bit 1 set (0)
 * Then out 0x2A to the test-exit port.
 */
#include "pm32.h"
        REAL_MODE_START
        mov     $0xFFFF, %ax
        mov     %ax, %es                    /* ES:0x610 = 100600h while A20 is on */
        movb    $0x11, 0x600
        movb    $0x22, %es:0x610

        mov     $0x2402, %ax
        int     $0x15
        mov     %al, 0x700
        mov     $0x2400, %ax
        int     $0x15
        setc    0x701
        mov     $0x2402, %ax
        int     $0x15
        mov     %al, 0x702
        mov     %es:0x610, %al
        mov     %al, 0x703
        movb    $0x33, %es:0x610
        mov     0x600, %al
        mov     %al, 0x704
        mov     %es:0x10, %ax
        mov     %ax, 0x70A
        mov     0x0, %ax
        mov     %ax, 0x70C

        mov     $0x2401, %ax
        int     $0x15
        mov     %es:0x610, %al
        mov     %al, 0x705
        mov     $0x2402, %ax
        int     $0x15
        mov     %al, 0x706

        in      $0x92, %al                  /* port 92h's gate off: the 8042's is off */
        and     $0xFD, %al
        out     %al, $0x92
        mov     %es:0x610, %al
        mov     %al, 0x707
        mov     $0xD1, %al                  /* the 8042's output port: A20GATE high */
        out     %al, $0x64
        mov     $0xDF, %al
        out     %al, $0x60
        mov     %es:0x610, %al
        mov     %al, 0x708
        mov     $0x2403, %ax
        int     $0x15
        mov     %bl, 0x709

        mov     $0xD1, %al                  /* both off again, then protected mode */
        out     %al, $0x64
        mov     $0xDD, %al
        out     %al, $0x60
        ENTER_PM32 pm
        .code32
pm:     FLAT_DATA
        movb    $0x44, 0x200600
        mov     0x300600, %al
        mov     %al, 0x710
        mov     0x100600, %al
        mov     %al, 0x711
        in      $0x92, %al
        or      $0x02, %al
        out     %al, $0x92
        mov     0x300600, %al
        mov     %al, 0x712
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

        FLAT_GDT
        END_BOOT_SECTOR
        .set    idt, 0x8000
