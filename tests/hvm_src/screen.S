/*
 * Boot sector for tests/test_hvm_screen.py: writes to the CGA text screen at B8000 and
 * moves the CRTC cursor as a text-mode kernel does, reads the 8042's output port (D0h)
 * and the keyboard's scan codes (polling status bit 0), printing each make code in hex
 * until `q` (10h), then the CRTC cursor location read back; exit code 0x2A.
 */
#include "pm32.h"
        REAL_MODE_START
        mov     $0xB800, %ax
        mov     %ax, %es
        xor     %di, %di
        mov     $0x0720, %ax
        mov     $2000, %cx
        rep stosw
        xor     %di, %di                    /* DI: screen position (bytes) */
        mov     $hello, %si
        call    puts
        mov     $0xD0, %al                  /* read the output port */
        out     %al, $0x64
        call    get
        call    hex
        mov     $keys, %si
        call    puts
1:      call    get
        test    $0x80, %al
        jnz     1b
        cmp     $0x10, %al
        je      2f
        call    hex
        mov     $' ', %al
        call    putc
        jmp     1b
2:      mov     %di, %ax                    /* next row */
        shr     $1, %ax
        mov     $80, %bl
        div     %bl
        inc     %al
        mul     %bl
        shl     $1, %ax
        mov     %ax, %di
        mov     $cursor, %si
        call    puts
        mov     $0x0E, %al                  /* the cursor, read back from the CRTC */
        mov     $0x3D4, %dx
        out     %al, %dx
        inc     %dx
        in      %dx, %al
        mov     %al, %ah
        dec     %dx
        mov     $0x0F, %al
        out     %al, %dx
        inc     %dx
        in      %dx, %al
        push    %ax
        mov     %ah, %al
        call    hex
        pop     %ax
        call    hex
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

get:    in      $0x64, %al                  /* AL = the next byte from the 8042 */
        test    $1, %al
        jz      get
        in      $0x60, %al
        ret

hex:    push    %ax                         /* AL in two hex digits */
        shr     $4, %al
        call    nibble
        pop     %ax
nibble: and     $0x0F, %al
        add     $'0', %al
        cmp     $'9', %al
        jbe     putc
        add     $7, %al
putc:   mov     $0x07, %ah                  /* AL at DI, then the cursor after it */
        stosw
        push    %ax
        push    %dx
        mov     %di, %ax
        shr     $1, %ax
        mov     %ax, %cx
        mov     $0x3D4, %dx
        mov     $0x0E, %al
        out     %al, %dx
        inc     %dx
        mov     %ch, %al
        out     %al, %dx
        dec     %dx
        mov     $0x0F, %al
        out     %al, %dx
        inc     %dx
        mov     %cl, %al
        out     %al, %dx
        pop     %dx
        pop     %ax
        ret

puts:   lodsb
        test    %al, %al
        jz      1f
        call    putc
        jmp     puts
1:      ret

hello:  .asciz  "CGA text from the screen; 8042 output port "
keys:   .asciz  "; keys "
cursor: .asciz  "cursor "
        .org    510
        .word   0xAA55
