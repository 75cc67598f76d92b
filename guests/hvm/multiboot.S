/*
 * multiboot: a Multiboot (v1) kernel booted directly (no firmware): checks the
 * loader's magic, prints the memory the information gives and its command line on
 * the 0xE9 debug console, and leaves through the test-exit port with 0x21 (exit code
 * (0x21 << 1) | 1 = 67), or with 0x11 if the magic is wrong.
 */
#define MB_MAGIC        0x1BADB002
#define MB_FLAGS        0
        .section .text
        .code32
        .globl _start
        .align 4
mb_header:
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

_start:
        mov $0x80000, %esp
        cmp $0x2BADB002, %eax
        jne bad_magic
        mov %ebx, %ebp                  /* the multiboot information */
        mov $msg_ok, %esi
        call puts
        mov 8(%ebp), %eax               /* mem_upper, KiB */
        call putdec
        mov $msg_kib, %esi
        call puts
        testl $4, (%ebp)                /* flags: a command line */
        jz 1f
        mov 16(%ebp), %esi
        call puts
1:      testl $8, (%ebp)                /* flags: modules */
        jz 5f
        cmpl $0, 20(%ebp)
        je 5f
        mov $msg_mod, %esi
        call puts
        mov 24(%ebp), %eax              /* the first module: its first bytes as text */
        mov (%eax), %esi
        call puts
5:      mov $'\n', %al
        outb %al, $0xE9
        mov $0x21, %al
        outb %al, $0xF4
        hlt
bad_magic:
        mov $0x11, %al
        outb %al, $0xF4
        hlt

puts:   lodsb                           /* the NUL-terminated string at %esi */
        test %al, %al
        jz 2f
        outb %al, $0xE9
        jmp puts
2:      ret

putdec: mov $10, %ecx                   /* %eax in decimal */
        xor %edi, %edi
3:      xor %edx, %edx
        div %ecx
        push %edx
        inc %edi
        test %eax, %eax
        jnz 3b
4:      pop %eax
        add $'0', %al
        outb %al, $0xE9
        dec %edi
        jnz 4b
        ret

        .section .rodata
msg_ok:  .asciz "multiboot: magic ok, mem_upper "
msg_kib: .asciz " KiB, cmdline: "
msg_mod: .asciz ", module: "
        .section .note.GNU-stack,"",@progbits
