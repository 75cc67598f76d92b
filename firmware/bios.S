/*
 * hvcore's PC BIOS: 64 KiB of real-mode code at F000:0000 (physical F0000-FFFFF).
 *
 * Power-on self test: IVT, BIOS data area (COM1 base, equipment word, 639 KiB of base
 * memory, the EBDA segment), 8259A pair at vectors 08h and 70h, 8254 channel 0 at
 * 18.2 Hz, then INT 19h: sector 0 of the first disk to 0000:7C00, DL=80h.
 *
 * Services: INT 10h teletype (AH=0Eh, AH=13h) to the debug console port E9h;
 * INT 13h CHS and LBA extensions on disks 80h and 81h, the primary IDE channel's
 * master and slave (ATA PIO, polled with nIEN set; IDENTIFY at POST for their sizes);
 * INT 15h E820, E801, 88h and A20 (port 92h and the 8042); INT 16h from the keyboard
 * (the 8042's IRQ 1 handler, INT 09h, turns scan codes into keys in the BDA's buffer);
 * INT 1Ah ticks;
 * INT 11h, 12h. Everything else returns with CF set (or just returns).
 *
 * Multiprocessor and APIC set-up: the BSP's local APIC in virtual wire mode (enabled,
 * LINT0 ExtINT for the 8259A, LINT1 NMI) through a flat FS (unreal mode); the MP
 * floating pointer and configuration table (MP spec 1.4: a processor entry per vCPU,
 * the ISA bus, the IOAPIC, its interrupt sources, LINT0/LINT1) and the ACPI RSDP, RSDT
 * and MADT, built in this segment at POST for the number of vCPUs in CMOS 5Fh (+1).
 * The APs are held by the hypervisor until the OS sends them INIT and STARTUP.
 */
        .code16
        .text

        .set BDA_COM1,        0x400
        .set BDA_EQUIPMENT,   0x410
        .set BDA_BASE_KIB,    0x413
        .set BDA_EBDA_SEG,    0x40E
        .set BDA_TICKS,       0x46C
        .set BDA_MIDNIGHT,    0x470
        .set BDA_DISKS,       0x475
        .set BDA_SEG,         0x40          /* the keyboard's fields, from segment 40h: */
        .set KB_FLAGS,        0x17          /* shift flags: 0 right shift, 1 left, 2 ctrl, 3 alt */
        .set KB_HEAD,         0x1A          /* next key to take (offset in segment 40h) */
        .set KB_TAIL,         0x1C          /* where the next key goes */
        .set KB_BUFFER,       0x1E          /* 16 words */
        .set KB_BUFFER_END,   0x3E
        .set KB_START,        0x80          /* the buffer's bounds, as a BIOS keeps them */
        .set KB_END,          0x82
        .set EBDA_SEG,        0x9FC0
        .set EBDA_RAM_TOP,    0x10          /* dword: end of RAM above 1 MiB */
        .set IDE_DATA,        0x1F0
        .set IDE_COUNT,       0x1F2
        .set IDE_DEVICE,      0x1F6
        .set IDE_STATUS,      0x1F7         /* read: status; write: command */
        .set IDE_CONTROL,     0x3F6
        .set DEBUG_PORT,      0xE9
        .set COM1,            0x3F8
        .set STACK_TOP,       0x7000
        .set HEADS,           16
        .set CMOS_VCPUS,      0x5F          /* number of vCPUs - 1 */
        .set LAPIC,           0xFEE00000
        .set IOAPIC,          0xFEC00000
        .set IOAPIC_ID,       15            /* after the highest LAPIC ID (14) */
        .set BIOS_BASE,       0xF0000
        .set SPT,             63

        .globl _start
_start:

/* ---- power-on self test ---------------------------------------------------------- */
post:
        cli
        cld
        xor     %ax, %ax
        mov     %ax, %ss
        mov     $STACK_TOP, %sp
        mov     %ax, %ds
        mov     %ax, %es

        /* every vector to a plain iret, then the ones we serve */
        xor     %di, %di
        mov     $256, %cx
1:      movw    $isr_default, %es:(%di)
        movw    $0xF000, %es:2(%di)
        add     $4, %di
        loop    1b
        mov     $vector_table, %si
2:      mov     %cs:(%si), %bx              /* vector number, 0xFFFF ends */
        cmp     $0xFFFF, %bx
        je      3f
        mov     %cs:2(%si), %ax
        shl     $2, %bx
        mov     %ax, (%bx)
        movw    $0xF000, 2(%bx)
        add     $4, %si
        jmp     2b
3:
        /* BIOS data area and EBDA */
        movw    $COM1, BDA_COM1
        movw    $0x0220, BDA_EQUIPMENT      /* one serial port, 80x25 colour */
        movw    $639, BDA_BASE_KIB
        movw    $EBDA_SEG, BDA_EBDA_SEG
        call    ide_probe
        mov     %al, BDA_DISKS
        movl    $0, BDA_TICKS
        push    %ds
        mov     $EBDA_SEG, %ax
        mov     %ax, %ds
        movw    $1, 0                       /* EBDA size: 1 KiB */
        call    ram_top_from_cmos
        mov     %eax, EBDA_RAM_TOP
        pop     %ds

        call    pic_init
        call    keyboard_init               /* IRQ 1 on once the 8259A takes it */
        call    lapic_virtual_wire
        call    build_tables
        mov     $0x36, %al                  /* channel 0, lo/hi, mode 3 */
        out     %al, $0x43
        xor     %al, %al
        out     %al, $0x40
        out     %al, $0x40
        mov     $COM1 + 3, %dx              /* 8 data bits, no parity, 1 stop */
        mov     $0x03, %al
        out     %al, %dx

        mov     $banner, %si
        call    print
        sti
        int     $0x19
        jmp     halt_forever

/* EAX = physical end of RAM, from CMOS 34h/35h (64 KiB above 16 MiB) or 30h/31h. */
ram_top_from_cmos:
        mov     $0x35, %al
        call    cmos_read
        mov     %al, %ah
        mov     $0x34, %al
        call    cmos_read
        movzx   %ax, %eax
        test    %eax, %eax
        jz      1f
        shl     $16, %eax
        add     $0x1000000, %eax
        ret
1:      mov     $0x31, %al
        call    cmos_read
        mov     %al, %ah
        mov     $0x30, %al
        call    cmos_read
        movzx   %ax, %eax
        shl     $10, %eax
        add     $0x100000, %eax
        ret

/* AL = CMOS register -> AL = its value */
cmos_read:
        out     %al, $0x70
        in      $0x71, %al
        ret

pic_init:
        mov     $0x11, %al                  /* ICW1: edge, cascade, ICW4 */
        out     %al, $0x20
        out     %al, $0xA0
        mov     $0x08, %al                  /* ICW2: vector bases */
        out     %al, $0x21
        mov     $0x70, %al
        out     %al, $0xA1
        mov     $0x04, %al                  /* ICW3: slave on IR2 */
        out     %al, $0x21
        mov     $0x02, %al
        out     %al, $0xA1
        mov     $0x01, %al                  /* ICW4: 8086 mode */
        out     %al, $0x21
        out     %al, $0xA1
        mov     $0xF8, %al                  /* timer, keyboard and cascade unmasked */
        out     %al, $0x21
        mov     $0xFF, %al
        out     %al, $0xA1
        ret

/* Unreal mode: FS with a 4 GiB limit (loaded in protected mode, kept back in real
 * mode), then the BSP's LAPIC: SVR enabled (spurious vector FFh), LINT0 ExtINT,
 * LINT1 NMI, as the MP spec's virtual wire mode. */
lapic_virtual_wire:
        push    %eax
        push    %ebx
        push    %fs
        lgdtl   %cs:unreal_gdt_desc
        mov     %cr0, %eax
        or      $1, %al
        mov     %eax, %cr0
        jmp     1f
1:      mov     $8, %bx
        mov     %bx, %fs
        and     $0xFE, %al
        mov     %eax, %cr0
        jmp     2f
2:      xor     %bx, %bx
        mov     %bx, %fs                    /* base 0, the 4 GiB limit stays */
        mov     $LAPIC, %ebx
        movl    $0x1FF, %fs:0xF0(%ebx)
        movl    $0x700, %fs:0x350(%ebx)
        movl    $0x400, %fs:0x360(%ebx)
        pop     %fs
        pop     %ebx
        pop     %eax
        ret

/* The MP configuration table and the MADT for this many vCPUs, and every checksum. */
build_tables:
        pushal
        push    %ds
        push    %es
        mov     %cs, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     $CMOS_VCPUS, %al
        call    cmos_read
        movzbw  %al, %dx
        inc     %dx                         /* DX = vCPUs */
        cmp     $15, %dx
        jbe     1f
        mov     $15, %dx
1:
        /* MP configuration table: header, processors, then the fixed tail */
        mov     $mp_config, %di
        mov     $mp_header_tpl, %si
        mov     $44, %cx
        rep movsb
        xor     %bx, %bx
2:      mov     $0, %al                     /* processor entry */
        stosb
        mov     %bl, %al                    /* LAPIC ID */
        stosb
        mov     $0x14, %al                  /* LAPIC version */
        stosb
        mov     $1, %al                     /* enabled; the BSP is ID 0 */
        test    %bx, %bx
        jnz     3f
        or      $2, %al
3:      stosb
        mov     $0x0663, %eax               /* family 6 signature */
        stosl
        mov     $0x0201, %eax               /* FPU, APIC */
        stosl
        xor     %eax, %eax
        stosl
        stosl
        inc     %bx
        cmp     %dx, %bx
        jb      2b
        mov     $mp_tail_tpl, %si
        mov     $mp_tail_end - mp_tail_tpl, %cx
        rep movsb
        mov     %di, %ax
        sub     $mp_config, %ax
        mov     %ax, mp_config + 4          /* base table length */
        mov     %dx, %ax
        add     $MP_TAIL_ENTRIES, %ax
        mov     %ax, mp_config + 34         /* entry count */
        mov     $mp_config, %si
        mov     mp_config + 4, %cx
        mov     $7, %bx
        call    checksum
        mov     $mp_floating, %si
        mov     $16, %cx
        mov     $10, %bx
        call    checksum

        /* MADT: header, a local APIC per vCPU, then the fixed tail */
        mov     $madt, %di
        mov     $madt_header_tpl, %si
        mov     $44, %cx
        rep movsb
        xor     %bx, %bx
4:      mov     $0, %al                     /* processor local APIC */
        stosb
        mov     $8, %al
        stosb
        mov     %bl, %al                    /* ACPI processor UID */
        stosb
        stosb                               /* APIC ID */
        mov     $1, %eax                    /* enabled */
        stosl
        inc     %bx
        cmp     %dx, %bx
        jb      4b
        mov     $madt_tail_tpl, %si
        mov     $madt_tail_end - madt_tail_tpl, %cx
        rep movsb
        mov     %di, %ax
        sub     $madt, %ax
        movzwl  %ax, %eax
        mov     %eax, madt + 4
        mov     $madt, %si
        mov     %ax, %cx
        mov     $9, %bx
        call    checksum
        mov     $rsdt, %si
        mov     $rsdt_end - rsdt, %cx
        mov     $9, %bx
        call    checksum
        mov     $rsdp, %si
        mov     $20, %cx
        mov     $8, %bx
        call    checksum
        pop     %es
        pop     %ds
        popal
        ret

/* DS:SI = table, CX = its length, BX = offset of its checksum byte: make it sum to 0 */
checksum:
        push    %ax
        push    %cx
        push    %si
        movb    $0, (%bx, %si)
        xor     %al, %al
1:      add     (%si), %al
        inc     %si
        loop    1b
        pop     %si
        neg     %al
        mov     %al, (%bx, %si)
        pop     %cx
        pop     %ax
        ret

/* print the NUL-terminated string at CS:SI to the console */
print:
        push    %ax
1:      mov     %cs:(%si), %al
        test    %al, %al
        jz      2f
        out     %al, $DEBUG_PORT
        inc     %si
        jmp     1b
2:      pop     %ax
        ret

halt_forever:
        cli
        hlt
        jmp     halt_forever

/* ---- flags returned to the caller ------------------------------------------------ */
/* Called from a service with the caller's frame at 0(%bp) = saved BP, 2 IP, 4 CS, 6 FLAGS */
        .macro  FRAME_IN
        push    %bp
        mov     %sp, %bp
        .endm
        .macro  RETURN_OK
        andw    $0xFFFE, 6(%bp)
        pop     %bp
        iret
        .endm
        .macro  RETURN_ERROR
        orw     $1, 6(%bp)
        pop     %bp
        iret
        .endm

/* ---- interrupt handlers ---------------------------------------------------------- */
isr_default:
        iret

irq_master:
        push    %ax
        mov     $0x20, %al
        out     %al, $0x20
        pop     %ax
        iret

irq_slave:
        push    %ax
        mov     $0x20, %al
        out     %al, $0xA0
        out     %al, $0x20
        pop     %ax
        iret

irq0_timer:
        push    %ds
        push    %ax
        xor     %ax, %ax
        mov     %ax, %ds
        incl    BDA_TICKS
        cmpl    $0x1800B0, BDA_TICKS        /* ticks in a day */
        jb      1f
        movl    $0, BDA_TICKS
        movb    $1, BDA_MIDNIGHT
1:      int     $0x1C
        mov     $0x20, %al
        out     %al, $0x20
        pop     %ax
        pop     %ds
        iret

int11_equipment:
        push    %ds
        xor     %ax, %ax
        mov     %ax, %ds
        mov     BDA_EQUIPMENT, %ax
        pop     %ds
        iret

int12_memory:
        push    %ds
        xor     %ax, %ax
        mov     %ax, %ds
        mov     BDA_BASE_KIB, %ax
        pop     %ds
        iret

/* INT 10h: AH=0Eh teletype AL; AH=13h string ES:BP, CX chars (AL bit 1: with
 * attributes); AH=0Fh mode 3, 80 columns; AH=03h cursor at 0,0. */
int10_video:
        cmp     $0x0E, %ah
        jne     1f
        out     %al, $DEBUG_PORT
        iret
1:      cmp     $0x13, %ah
        jne     3f
        push    %cx
        push    %bp
        push    %ax
        mov     %al, %ah
        jcxz    4f
2:      mov     %es:(%bp), %al
        out     %al, $DEBUG_PORT
        inc     %bp
        test    $2, %ah
        jz      5f
        inc     %bp                         /* skip the attribute byte */
5:      loop    2b
4:      pop     %ax
        pop     %bp
        pop     %cx
        iret
3:      cmp     $0x0F, %ah
        jne     6f
        mov     $0x5003, %ax
        xor     %bh, %bh
        iret
6:      cmp     $0x03, %ah
        jne     7f
        xor     %dx, %dx
        mov     $0x0607, %cx
7:      iret

/* ---- IDE (ATA PIO, polled) ---------------------------------------------------------- */
/* POST: nIEN set, IDENTIFY the master and the slave -> AL = disks present */
ide_probe:
        push    %cx
        push    %dx
        push    %di
        push    %es
        mov     $0x02, %al                  /* nIEN: the BIOS polls */
        mov     $IDE_CONTROL, %dx
        out     %al, %dx
        mov     %cs, %ax
        mov     %ax, %es
        xor     %cx, %cx                    /* CL = drive, CH = disks found */
1:      mov     %cl, %al
        shl     $4, %al
        or      $0xA0, %al
        mov     $IDE_DEVICE, %dx
        out     %al, %dx
        mov     $IDE_STATUS, %dx
        in      %dx, %al
        test    %al, %al                    /* 0: nothing there */
        jz      3f
        cmp     $0xFF, %al                  /* floating bus */
        je      3f
        mov     $0xEC, %al                  /* IDENTIFY DEVICE */
        out     %al, %dx
        call    ide_wait
        test    $0x01, %al
        jnz     3f
        test    $0x08, %al
        jz      3f
        push    %cx
        mov     $identify_buf, %di
        mov     $IDE_DATA, %dx
        mov     $256, %cx
        rep insw
        pop     %cx
        movzbw  %cl, %di
        shl     $2, %di
        mov     %cs:identify_buf + 120, %eax  /* words 60-61: LBA28 sectors */
        mov     %eax, %cs:disk_size(%di)
        inc     %ch
3:      inc     %cl
        cmp     $2, %cl
        jb      1b
        mov     %ch, %al
        pop     %es
        pop     %di
        pop     %dx
        pop     %cx
        ret

/* wait while BSY -> AL = status */
ide_wait:
        push    %dx
        mov     $IDE_STATUS, %dx
1:      in      %dx, %al
        test    $0x80, %al
        jnz     1b
        pop     %dx
        ret

/* INT 13h on disks 80h (IDE master) and 81h (IDE slave). */
int13_disk:
        FRAME_IN
        cmp     $0x80, %dl
        je      1f
        cmp     $0x81, %dl
        jne     disk_bad_drive
        cmpl    $0, %cs:disk_size + 4
        je      disk_bad_drive
1:      push    %dx
        and     $1, %dl
        mov     %dl, %cs:current_drive
        pop     %dx
        cmp     $0x00, %ah
        je      disk_ok
        cmp     $0x01, %ah
        je      disk_ok
        cmp     $0x02, %ah
        je      disk_chs_read
        cmp     $0x03, %ah
        je      disk_chs_write
        cmp     $0x08, %ah
        je      disk_params
        cmp     $0x15, %ah
        je      disk_type
        cmp     $0x41, %ah
        je      disk_ext_check
        cmp     $0x42, %ah
        je      disk_ext_read
        cmp     $0x43, %ah
        je      disk_ext_write
        cmp     $0x48, %ah
        je      disk_ext_params
disk_bad_drive:
        mov     $0x01, %ah                  /* invalid function / drive */
        RETURN_ERROR
disk_ok:
        xor     %ah, %ah
        RETURN_OK

disk_chs_read:
        push    %dx
        mov     $1, %dl
        jmp     disk_chs
disk_chs_write:
        push    %dx
        mov     $2, %dl
disk_chs:
        /* LBA = (cylinder * HEADS + head) * SPT + sector - 1; buffer ES:BX */
        push    %eax
        push    %ebx
        push    %ecx
        push    %edi
        mov     %es, %di
        movzx   %di, %edi
        shl     $4, %edi
        movzx   %bx, %ebx
        add     %ebx, %edi                  /* EDI = buffer */
        movzx   %al, %ebx
        push    %ebx                        /* count */
        movzx   %cl, %eax
        shr     $6, %eax
        shl     $8, %eax
        mov     %ch, %al                    /* cylinder */
        imul    $HEADS, %eax, %eax
        movzx   %dh, %ebx
        add     %ebx, %eax
        imul    $SPT, %eax, %eax
        and     $0x3F, %ecx
        dec     %ecx
        add     %ecx, %eax                  /* LBA */
        pop     %ecx
        mov     %edi, %ebx
        call    disk_transfer
        test    %al, %al
        pop     %edi
        pop     %ecx
        pop     %ebx
        pop     %eax                        /* AL: the count, as the caller gave it */
        pop     %dx
        jnz     disk_io_error
        xor     %ah, %ah
        RETURN_OK
disk_io_error:
        mov     $0x04, %ah                  /* sector not found */
        xor     %al, %al
        RETURN_ERROR

/* EAX = LBA, EBX = physical buffer, CX = count, DL = command (1 read, 2 write) on the
 * current drive, a sector at a time -> AL = status (0: done); EAX is not kept. */
disk_transfer:
        push    %ebx
        push    %ecx
        push    %edx
        push    %esi
        push    %edi
        push    %ds
        push    %es
        mov     %dl, %cs:transfer_command
        movzwl  %cx, %ecx
1:      jecxz   5f
        push    %ecx
        push    %eax
        call    ide_select
        mov     $0x20, %al                  /* READ SECTORS */
        cmpb    $1, %cs:transfer_command
        je      2f
        mov     $0x30, %al                  /* WRITE SECTORS */
2:      mov     $IDE_STATUS, %dx
        out     %al, %dx
        call    ide_wait
        test    $0x01, %al
        jnz     6f
        test    $0x08, %al
        jz      6f
        mov     %ebx, %esi                  /* the buffer as segment:offset */
        shr     $4, %esi
        mov     %si, %es
        mov     %si, %ds
        mov     %bx, %si
        and     $0xF, %si
        mov     %si, %di
        mov     $IDE_DATA, %dx
        mov     $256, %cx
        cmpb    $1, %cs:transfer_command
        jne     3f
        rep insw
        jmp     4f
3:      rep outsw
        call    ide_wait
        test    $0x01, %al
        jnz     6f
4:      pop     %eax
        pop     %ecx
        inc     %eax
        add     $512, %ebx
        dec     %ecx
        jmp     1b
5:      xor     %al, %al
        jmp     7f
6:      pop     %eax
        pop     %ecx
        mov     $1, %al
7:      pop     %es
        pop     %ds
        pop     %edi
        pop     %esi
        pop     %edx
        pop     %ecx
        pop     %ebx
        ret

/* EAX = LBA: one sector of the current drive addressed (LBA28) */
ide_select:
        push    %eax
        mov     $IDE_DEVICE, %dx
        shr     $24, %eax
        and     $0x0F, %al
        or      $0xE0, %al                  /* LBA, master */
        cmpb    $0, %cs:current_drive
        je      1f
        or      $0x10, %al
1:      out     %al, %dx
        call    ide_wait
        mov     $IDE_COUNT, %dx
        mov     $1, %al
        out     %al, %dx
        pop     %eax
        inc     %dx
        out     %al, %dx                    /* LBA 0-7 */
        inc     %dx
        mov     %ah, %al
        out     %al, %dx                    /* LBA 8-15 */
        inc     %dx
        push    %eax
        shr     $16, %eax
        out     %al, %dx                    /* LBA 16-23 */
        pop     %eax
        ret

/* AH=08h: CX = max cylinder/sector, DH = max head, DL = drives */
disk_params:
        push    %eax
        call    disk_sectors
        xor     %edx, %edx
        push    %ecx
        mov     $HEADS * SPT, %ecx
        div     %ecx
        pop     %ecx
        test    %eax, %eax
        jnz     2f
        inc     %eax
2:      cmp     $1024, %eax
        jbe     1f
        mov     $1024, %eax
1:      dec     %eax                        /* max cylinder */
        mov     %al, %ch
        mov     %ah, %cl
        shl     $6, %cl
        or      $SPT, %cl
        push    %ds
        xor     %dx, %dx
        mov     %dx, %ds
        mov     BDA_DISKS, %dl
        pop     %ds
        mov     $HEADS - 1, %dh
        pop     %eax
        xor     %ah, %ah
        RETURN_OK

/* AH=15h: AH = 3 (fixed disk), CX:DX = sectors */
disk_type:
        push    %eax
        call    disk_sectors
        mov     %ax, %dx
        shr     $16, %eax
        mov     %ax, %cx
        pop     %eax
        mov     $3, %ah
        RETURN_OK

/* EAX = sectors on the current drive */
disk_sectors:
        push    %bx
        movzbw  %cs:current_drive, %bx
        shl     $2, %bx
        mov     %cs:disk_size(%bx), %eax
        pop     %bx
        ret

disk_ext_check:
        cmp     $0x55AA, %bx
        jne     disk_bad_drive
        mov     $0xAA55, %bx
        mov     $0x21, %ah                  /* EDD 1.1 */
        mov     $1, %cx                     /* fixed disk access subset */
        RETURN_OK

/* AH=42h/43h: DS:SI = { u8 size, u8 0, u16 count, u16 offset, u16 segment, u64 lba } */
disk_ext_read:
        push    %dx
        mov     $1, %dl
        jmp     disk_ext
disk_ext_write:
        push    %dx
        mov     $2, %dl
disk_ext:
        push    %eax
        push    %ebx
        push    %ecx
        movzwl  6(%si), %ebx                /* segment */
        shl     $4, %ebx
        movzwl  4(%si), %eax                /* offset */
        add     %eax, %ebx
        mov     2(%si), %cx
        mov     8(%si), %eax
        call    disk_transfer
        pop     %ecx
        pop     %ebx
        test    %al, %al
        pop     %eax
        pop     %dx
        jnz     disk_io_error
        xor     %ah, %ah
        RETURN_OK

/* AH=48h: DS:SI = result buffer (size word first) */
disk_ext_params:
        push    %eax
        movw    $0x1A, 0(%si)
        movw    $0, 2(%si)                  /* flags */
        call    disk_sectors
        mov     %eax, 16(%si)
        movl    $0, 20(%si)
        push    %edx
        xor     %edx, %edx
        push    %ecx
        mov     $HEADS * SPT, %ecx
        div     %ecx
        pop     %ecx
        pop     %edx
        mov     %eax, 4(%si)
        movl    $HEADS, 8(%si)
        movl    $SPT, 12(%si)
        movw    $512, 24(%si)
        pop     %eax
        xor     %ah, %ah
        RETURN_OK

/* INT 15h */
int15_system:
        FRAME_IN
        cmp     $0xE820, %eax
        je      e820
        cmp     $0xE801, %ax
        je      e801
        cmp     $0x88, %ah
        je      ext_memory
        cmp     $0x24, %ah
        je      a20
        mov     $0x86, %ah                  /* unsupported */
        RETURN_ERROR

/* E820: EBX = index, ES:DI = 20-byte buffer, EDX = 'SMAP' */
e820:
        cmp     $0x534D4150, %edx
        jne     1f
        cmp     $4, %ebx
        jae     1f
        push    %ds
        push    %si
        push    %cx
        push    %di
        mov     %bx, %si
        imul    $20, %si, %si
        add     $e820_map, %si
        mov     $10, %cx
2:      mov     %cs:(%si), %ax
        mov     %ax, %es:(%di)
        add     $2, %si
        add     $2, %di
        loop    2b
        pop     %di
        cmp     $3, %ebx                    /* the last entry: RAM above 1 MiB */
        jne     3f
        mov     $EBDA_SEG, %ax
        mov     %ax, %ds
        mov     EBDA_RAM_TOP, %eax
        sub     $0x100000, %eax
        mov     %eax, %es:8(%di)
3:      pop     %cx
        pop     %si
        pop     %ds
        inc     %ebx
        cmp     $4, %ebx
        jne     4f
        xor     %ebx, %ebx
4:      mov     $0x534D4150, %eax
        mov     $20, %ecx
        RETURN_OK
1:      mov     $0x86, %ah
        RETURN_ERROR

/* E801: AX = CX = KiB 1-16 MiB (max 15 MiB), BX = DX = 64 KiB blocks above 16 MiB */
e801:
        push    %ds
        mov     $EBDA_SEG, %ax
        mov     %ax, %ds
        mov     EBDA_RAM_TOP, %eax
        pop     %ds
        cmp     $0x1000000, %eax
        jbe     1f
        sub     $0x1000000, %eax
        shr     $16, %eax
        mov     %ax, %bx
        mov     $0x3C00, %ax
        jmp     2f
1:      sub     $0x100000, %eax
        shr     $10, %eax
        xor     %bx, %bx
2:      mov     %ax, %cx
        mov     %bx, %dx
        RETURN_OK

ext_memory:
        push    %ds
        mov     $EBDA_SEG, %ax
        mov     %ax, %ds
        mov     EBDA_RAM_TOP, %eax
        pop     %ds
        sub     $0x100000, %eax
        shr     $10, %eax
        cmp     $0xFFFF, %eax
        jbe     1f
        mov     $0xFFFF, %ax
1:      RETURN_OK

/* A20: 2400h off (port 92h bit 1 and the 8042's output port, which the chipset ORs),
 * 2401h on (port 92h), 2402h AL = the gate as memory shows it (0000:0500 against
 * FFFF:0510), 2403h BX = 3 (both ways supported) */
a20:
        cmp     $0x00, %al
        je      a20_off
        cmp     $0x01, %al
        je      a20_on
        cmp     $0x02, %al
        je      a20_status
        cmp     $0x03, %al
        jne     1f
        mov     $3, %bx
        xor     %ah, %ah
        RETURN_OK
1:      mov     $0x86, %ah
        RETURN_ERROR

a20_off:
        in      $0x92, %al
        and     $0xFC, %al                  /* bit 0 is the fast reset: never set it */
        out     %al, $0x92
        call    kbc_wait
        mov     $0xD1, %al                  /* write the output port: */
        out     %al, $0x64
        call    kbc_wait
        mov     $0xDD, %al                  /* A20GATE low, reset line high */
        out     %al, $0x60
        call    kbc_wait
        xor     %ah, %ah
        RETURN_OK

a20_on:
        in      $0x92, %al
        and     $0xFE, %al
        or      $0x02, %al
        out     %al, $0x92
        xor     %ah, %ah
        RETURN_OK

/* the same word at 0000:0500 and FFFF:0510 even once 0000:0500 is changed: wrapped */
a20_status:
        push    %ds
        push    %es
        push    %si
        push    %bx
        xor     %ax, %ax
        mov     %ax, %ds
        dec     %ax
        mov     %ax, %es
        mov     $0x500, %si
        mov     (%si), %bx
        notw    (%si)
        mov     %es:0x10(%si), %ax
        mov     %bx, (%si)
        not     %bx
        cmp     %ax, %bx
        setne   %al                         /* differs: A20 on */
        xor     %ah, %ah
        pop     %bx
        pop     %si
        pop     %es
        pop     %ds
        RETURN_OK

/* until the 8042 has taken the last byte (status bit 1 clear) */
kbc_wait:
        push    %ax
1:      in      $0x64, %al
        test    $0x02, %al
        jnz     1b
        pop     %ax
        ret

/* The keyboard at POST: an empty buffer in the BDA, no shift key down, and the 8042's
 * command byte with IRQ 1 on (translation to set 1 and the system flag kept). */
keyboard_init:
        push    %ds
        push    %ax
        mov     $BDA_SEG, %ax
        mov     %ax, %ds
        movw    $KB_BUFFER, KB_HEAD
        movw    $KB_BUFFER, KB_TAIL
        movw    $KB_BUFFER, KB_START
        movw    $KB_BUFFER_END, KB_END
        movw    $0, KB_FLAGS
        call    kbc_wait
        mov     $0x60, %al                  /* write the command byte: */
        out     %al, $0x64
        call    kbc_wait
        mov     $0x45, %al                  /* translate, system flag, IRQ 1 */
        out     %al, $0x60
        pop     %ax
        pop     %ds
        ret

/* INT 09h, IRQ 1: a scan code (set 1) from the 8042. Shift, ctrl and alt are tracked in
 * the flags; other make codes go to the buffer as AH = scan code, AL = ASCII (0 for
 * keys without one, ctrl with a letter 01h-1Ah); break codes and E0h prefixes are
 * otherwise dropped; a full buffer drops the key. */
irq1_keyboard:
        push    %ax
        push    %bx
        push    %ds
        mov     $BDA_SEG, %ax
        mov     %ax, %ds
        in      $0x64, %al
        test    $0x01, %al
        jz      9f                          /* nothing there after all */
        in      $0x60, %al
        call    shift_key
        jnc     9f
        test    $0x80, %al
        jnz     9f                          /* a break code, or E0h */
        cmp     $KEY_CODES, %al
        jae     9f
        xor     %bx, %bx
        mov     %al, %bl
        mov     %al, %ah
        mov     %cs:plain_keys(%bx), %al
        testb   $0x03, KB_FLAGS
        jz      1f
        mov     %cs:shifted_keys(%bx), %al
1:      testb   $0x04, KB_FLAGS             /* ctrl: letters give 01h-1Ah */
        jz      2f
        or      $0x20, %al
        cmp     $'a', %al
        jb      2f
        cmp     $'z', %al
        ja      2f
        sub     $0x60, %al
2:      call    key_put
9:      mov     $0x20, %al
        out     %al, $0x20
        pop     %ds
        pop     %bx
        pop     %ax
        iret

/* AL = scan code: a shift, ctrl or alt key's make or break updates the flags (CF=0);
 * CF=1 for any other code. DS = 40h. */
shift_key:
        push    %bx
        mov     %al, %bl
        and     $0x7F, %bl
        mov     $0x02, %bh                  /* left shift */
        cmp     $0x2A, %bl
        je      1f
        mov     $0x01, %bh                  /* right shift */
        cmp     $0x36, %bl
        je      1f
        mov     $0x04, %bh
        cmp     $0x1D, %bl
        je      1f
        mov     $0x08, %bh
        cmp     $0x38, %bl
        je      1f
        pop     %bx
        stc
        ret
1:      test    $0x80, %al
        jnz     2f
        or      %bh, KB_FLAGS
        jmp     3f
2:      not     %bh
        and     %bh, KB_FLAGS
3:      pop     %bx
        clc
        ret

/* AX = a key into the buffer (AL = 1 if stored, 0 if it was full). DS = 40h. */
key_put:
        push    %bx
        push    %si
        mov     KB_TAIL, %bx
        lea     2(%bx), %si
        cmp     KB_END, %si
        jb      1f
        mov     KB_START, %si
1:      cmp     KB_HEAD, %si
        je      2f                          /* full */
        mov     %ax, (%bx)
        mov     %si, KB_TAIL
        mov     $1, %al
        jmp     3f
2:      xor     %al, %al
3:      pop     %si
        pop     %bx
        ret

/* INT 16h: AH=00h/10h wait for a key and take it (halting until an interrupt while
 * the buffer is empty), AH=01h/11h: ZF=0 and AX = the next key if there is one (left
 * in the buffer), ZF=1 if none; AH=02h/12h: AL = the shift flags; AH=05h: CX into the
 * buffer (AL = 0, or 1 if it was full). */
int16_keyboard:
        FRAME_IN
        push    %bx
        push    %ds
        mov     $BDA_SEG, %bx
        mov     %bx, %ds
        mov     %ah, %bl
        and     $0xEF, %bl                  /* 10h-12h as 00h-02h */
        cmp     $0x00, %bl
        je      key_wait
        cmp     $0x01, %bl
        je      key_peek
        cmp     $0x02, %bl
        je      key_flags
        cmp     $0x05, %ah
        je      key_store
        jmp     key_done

key_wait:
        cli
        mov     KB_HEAD, %bx
        cmp     KB_TAIL, %bx
        jne     1f
        sti                                 /* hlt right after sti: no interrupt lost */
        hlt
        jmp     key_wait
1:      mov     (%bx), %ax
        add     $2, %bx
        cmp     KB_END, %bx
        jb      2f
        mov     KB_START, %bx
2:      mov     %bx, KB_HEAD
        jmp     key_done

key_peek:
        cli
        mov     KB_HEAD, %bx
        cmp     KB_TAIL, %bx
        je      1f
        mov     (%bx), %ax
        andw    $0xFFBF, 6(%bp)             /* ZF=0: a key */
        jmp     key_done
1:      orw     $0x40, 6(%bp)               /* ZF=1: none */
        push    %ax
        in      $0x64, %al                  /* a look at the 8042, as a caller polling */
        pop     %ax                         /* for keys would: the hypervisor sends */
        jmp     key_done                    /* console input here once it sees that */

key_flags:
        mov     KB_FLAGS, %al
        jmp     key_done

key_store:
        cli
        mov     %cx, %ax
        call    key_put
        xor     $1, %al                     /* 0: stored, 1: full */
        xor     %ah, %ah

key_done:
        pop     %ds
        pop     %bx
        pop     %bp
        iret

/* Set 1 scan codes 00h-39h: ASCII, plain and with shift (0: none) */
        .set    KEY_CODES, 0x3A
plain_keys:
        .byte   0, 0x1B
        .ascii  "1234567890-="
        .byte   0x08, 0x09
        .ascii  "qwertyuiop[]"
        .byte   0x0D, 0
        .ascii  "asdfghjkl;'`"
        .byte   0
        .ascii  "\\zxcvbnm,./"
        .byte   0, '*', 0, ' '
shifted_keys:
        .byte   0, 0x1B
        .ascii  "!@#$%^&*()_+"
        .byte   0x08, 0
        .ascii  "QWERTYUIOP{}"
        .byte   0x0D, 0
        .ascii  "ASDFGHJKL:\"~"
        .byte   0
        .ascii  "|ZXCVBNM<>?"
        .byte   0, '*', 0, ' '

/* INT 1Ah AH=00h: CX:DX = ticks since midnight, AL = midnight flag */
int1a_time:
        FRAME_IN
        test    %ah, %ah
        jnz     1f
        push    %ds
        xor     %dx, %dx
        mov     %dx, %ds
        mov     BDA_TICKS, %dx
        mov     BDA_TICKS + 2, %cx
        mov     BDA_MIDNIGHT, %al
        movb    $0, BDA_MIDNIGHT
        pop     %ds
        RETURN_OK
1:      RETURN_ERROR

/* INT 19h: boot sector of disk 80h to 0000:7C00 */
int19_boot:
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     $0x0201, %ax
        mov     $0x0001, %cx
        xor     %dh, %dh
        mov     $0x80, %dl
        mov     $0x7C00, %bx
        int     $0x13
        jc      1f
        cmpw    $0xAA55, 0x7DFE
        jne     2f
        mov     $boot_msg, %si
        call    print
        xor     %ax, %ax
        xor     %bx, %bx
        xor     %cx, %cx
        xor     %si, %si
        xor     %di, %di
        mov     $0x80, %dx
        ljmp    $0x0000, $0x7C00
1:      mov     $no_disk_msg, %si
        call    print
        jmp     halt_forever
2:      mov     $no_sig_msg, %si
        call    print
        jmp     halt_forever

/* ---- tables -------------------------------------------------------------------------- */
        .p2align 2
vector_table:
        .word 0x08, irq0_timer
        .word 0x09, irq1_keyboard
        .word 0x0A, irq_master
        .word 0x0B, irq_master
        .word 0x0C, irq_master
        .word 0x0D, irq_master
        .word 0x0E, irq_master
        .word 0x0F, irq_master
        .word 0x10, int10_video
        .word 0x11, int11_equipment
        .word 0x12, int12_memory
        .word 0x13, int13_disk
        .word 0x15, int15_system
        .word 0x16, int16_keyboard
        .word 0x19, int19_boot
        .word 0x1A, int1a_time
        .word 0x70, irq_slave
        .word 0x71, irq_slave
        .word 0x72, irq_slave
        .word 0x73, irq_slave
        .word 0x74, irq_slave
        .word 0x75, irq_slave
        .word 0x76, irq_slave
        .word 0x77, irq_slave
        .word 0xFFFF, 0

/* base, length, type (1 RAM, 2 reserved); the last length is patched from CMOS */
e820_map:
        .quad 0x00000000, 0x0009FC00
        .long 1
        .quad 0x0009FC00, 0x00000400
        .long 2
        .quad 0x000F0000, 0x00010000
        .long 2
        .quad 0x00100000, 0
        .long 1

/* ---- unreal mode GDT: null, flat 4 GiB data ------------------------------------------ */
        .p2align 3
unreal_gdt:
        .quad   0
        .quad   0x00CF92000000FFFF
unreal_gdt_desc:
        .word   15
        .long   BIOS_BASE + unreal_gdt

/* ---- MP spec 1.4 tables ---------------------------------------------------------------- */
        .p2align 4
mp_floating:
        .ascii  "_MP_"
        .long   BIOS_BASE + mp_config       /* the configuration table */
        .byte   1, 4, 0                     /* 16 bytes, spec 1.4, checksum */
        .byte   0, 0, 0, 0, 0               /* a table is present; no IMCR */

mp_header_tpl:
        .ascii  "PCMP"
        .word   0                           /* base table length (POST) */
        .byte   4, 0                        /* spec 1.4, checksum (POST) */
        .ascii  "HVCORE  "
        .ascii  "HVM PC      "
        .long   0                           /* no OEM table */
        .word   0, 0                        /* OEM table size, entry count (POST) */
        .long   LAPIC
        .word   0                           /* extended table length */
        .byte   0, 0

        .macro  MP_BUS id, name
        .byte   1, \id
        .ascii  "\name"
        .endm
        .macro  MP_IRQ type, irq, pin
        .byte   3, \type
        .word   0                           /* conforms to the bus */
        .byte   0, \irq, IOAPIC_ID, \pin
        .endm
        .set    MP_TAIL_ENTRIES, 20
mp_tail_tpl:
        MP_BUS  0, "ISA   "
        .byte   2, IOAPIC_ID, 0x11, 1       /* IOAPIC: version 11h, enabled */
        .long   IOAPIC
        MP_IRQ  3, 0, 0                     /* ExtINT: the 8259A on pin 0 */
        MP_IRQ  0, 0, 2                     /* the 8254 on pin 2 */
        MP_IRQ  0, 1, 1
        MP_IRQ  0, 3, 3
        MP_IRQ  0, 4, 4
        MP_IRQ  0, 5, 5
        MP_IRQ  0, 6, 6
        MP_IRQ  0, 7, 7
        MP_IRQ  0, 8, 8
        MP_IRQ  0, 9, 9
        MP_IRQ  0, 10, 10
        MP_IRQ  0, 11, 11
        MP_IRQ  0, 12, 12
        MP_IRQ  0, 13, 13
        MP_IRQ  0, 14, 14
        MP_IRQ  0, 15, 15
        .byte   4, 3, 0, 0, 0, 0, 0xFF, 0   /* local: ExtINT to LINT0 of every APIC */
        .byte   4, 1, 0, 0, 0, 0, 0xFF, 1   /* local: NMI to LINT1 */
mp_tail_end:

        .p2align 2
mp_config:
        .space  44 + 20 * 15 + (mp_tail_end - mp_tail_tpl)

/* ---- ACPI: RSDP, RSDT, MADT ---------------------------------------------------------- */
        .p2align 4
rsdp:
        .ascii  "RSD PTR "
        .byte   0                           /* checksum (POST) */
        .ascii  "HVCORE"
        .byte   0                           /* revision 0: ACPI 1.0 */
        .long   BIOS_BASE + rsdt

        .macro  ACPI_HEADER sig, length, revision
        .ascii  "\sig"
        .long   \length
        .byte   \revision, 0
        .ascii  "HVCORE"
        .ascii  "HVMPC   "
        .long   1
        .ascii  "HVCR"
        .long   1
        .endm
        .p2align 2
rsdt:
        ACPI_HEADER "RSDT", (rsdt_end-rsdt), 1
        .long   BIOS_BASE + madt
rsdt_end:

madt_header_tpl:
        ACPI_HEADER "APIC", 0, 1
        .long   LAPIC
        .long   1                           /* PC-AT compatible 8259A pair present */
madt_tail_tpl:
        .byte   1, 12, IOAPIC_ID, 0         /* IOAPIC, GSI base 0 */
        .long   IOAPIC, 0
        .byte   2, 10, 0, 0                 /* override: ISA IRQ 0 is GSI 2 */
        .long   2
        .word   0
        .byte   4, 6, 0xFF                  /* local APIC NMI: every processor, LINT1 */
        .word   0
        .byte   1
madt_tail_end:

        .p2align 2
madt:
        .space  44 + 8 * 15 + (madt_tail_end - madt_tail_tpl)

/* ---- variables (this segment is RAM: the BIOS runs from its shadow copy) -------------- */
        .p2align 2
disk_size:        .long 0, 0                /* sectors: master, slave */
current_drive:    .byte 0
transfer_command: .byte 0
        .p2align 1
identify_buf:     .space 512

banner:       .asciz "hvcore BIOS\r\n"
boot_msg:     .asciz "Booting from disk 80h\r\n"
no_disk_msg:  .asciz "Disk read failed: no bootable disk\r\n"
no_sig_msg:   .asciz "Boot sector has no 55AAh signature\r\n"

/* ---- reset vector ------------------------------------------------------------------ */
        .org    0xFFF0
reset_vector:
        ljmp    $0xF000, $post
        .org    0xFFF5
        .ascii  "11/21/26"                  /* BIOS date */
        .org    0xFFFE
        .byte   0xFC                        /* model: AT */
        .byte   0
