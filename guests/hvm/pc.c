/*
 * PC platform test kernel (32-bit, booted from disk by boot32.S through our BIOS, with
 * pmode_entry.S's interrupt stubs). Prints on COM1. Checks, in order:
 *  - the local APIC (ID 0, version 14h) and its timer, periodic, vector 48: ticks taken
 *    while halting, with the 8259A masked;
 *  - the IOAPIC: IDE's IRQ 14 redirected to vector 46; IDENTIFY, WRITE SECTORS and
 *    READ SECTORS (two sectors) on the IDE master, each step waiting for its interrupt;
 *  - ring 3: a TSS (ss0:esp0), user code entered by iret, `int $0x80` through a DPL 3
 *    gate (the handler sees CS with RPL 3 and its frame on the esp0 stack), a user `in`
 *    refused with #GP(0), and an exit system call that never returns to ring 3.
 * Ends through the test-exit port: 0x2A when all passed, 0x7E at the first failure.
 */
#include <stdint.h>

#include "testlib.h"

#define LAPIC 0xFEE00000u
#define IOAPIC 0xFEC00000u
#define TIMER_VECTOR 48
#define IDE_VECTOR 46
#define TEST_LBA 40
#define KSTACK_TOP 0x80000u
#define USTACK_TOP 0x70000u

struct frame {                  /* pusha, vector, error code, then the CPU's frame */
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error, eip, cs, eflags, user_esp, user_ss;
};

extern uint32_t vectors[49], vector_syscall;

static uint64_t idt[256];
static uint64_t gdt[6];
/* the TSS, then its I/O permission bitmap: ports 0-0xFF, all refused but 0xE9 */
static struct { uint32_t words[26]; uint8_t iomap[33]; } tss_io;   /* no padding between */
static uint32_t *const tss = tss_io.words;
static volatile uint32_t ticks, ide_irqs, syscalls, user_gp, user_gp_error, user_cs, frame_at;
static uint16_t sector[512];

static inline uint32_t mmio_read(uint32_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write(uint32_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

static void after_user(void);

void trap(struct frame *f)
{
    switch (f->vector) {
    case TIMER_VECTOR:
        ticks++;
        mmio_write(LAPIC + 0xB0, 0);
        return;
    case IDE_VECTOR:
        inb(0x1F7);                         /* status: the drive lowers INTRQ */
        ide_irqs++;
        mmio_write(LAPIC + 0xB0, 0);
        return;
    case 13:
        if ((f->cs & 3) == 3) {             /* the user's `in`: refused, skipped */
            user_gp++;
            user_gp_error = f->error;
            f->eip += 2;
            return;
        }
        break;
    case 0x80:
        syscalls++;
        user_cs = f->cs;
        frame_at = (uint32_t)f;
        if (f->eax == 1) {                  /* exit: back to the kernel for good */
            __asm__ volatile("mov %0, %%esp; sti; jmp *%1" :: "r"(KSTACK_TOP - 0x1000),
                             "r"(after_user));
        }
        f->eax = 0x600D;
        return;
    }
    puts("unexpected trap ");
    putu(f->vector);
    puts(" at ");
    putu(f->eip);
    putc('\n');
    finish(FAIL);
}

static void setup_cpu(void)
{
    struct { uint16_t limit; uint32_t base; } __attribute__((packed)) idtr = { sizeof idt - 1, (uint32_t)idt },
        gdtr = { sizeof gdt - 1, (uint32_t)gdt };
    uint32_t t = (uint32_t)&tss_io;
    gdt[1] = 0x00CF9A000000FFFFull;          /* 0x08 kernel code */
    gdt[2] = 0x00CF92000000FFFFull;          /* 0x10 kernel data */
    gdt[3] = 0x00CFFA000000FFFFull;          /* 0x1B user code */
    gdt[4] = 0x00CFF2000000FFFFull;          /* 0x23 user data */
    gdt[5] = (sizeof tss_io - 1) | ((uint64_t)(t & 0xFFFFFF) << 16) | (0x89ull << 40) |
             ((uint64_t)(t >> 24) << 56);    /* 0x28 32-bit TSS */
    tss[1] = KSTACK_TOP;                     /* esp0 */
    tss[2] = 0x10;                           /* ss0 */
    tss[25] = (uint32_t)sizeof tss_io.words << 16;   /* the I/O bitmap after it */
    for (unsigned i = 0; i < sizeof tss_io.iomap; i++)
        tss_io.iomap[i] = 0xFF;
    tss_io.iomap[0xE9 / 8] &= (uint8_t)~(1 << (0xE9 % 8));
    __asm__ volatile("lgdt %0; ljmp $0x08, $1f; 1: mov $0x10, %%ax; mov %%ax, %%ds;"
                     "mov %%ax, %%es; mov %%ax, %%ss; mov $0x28, %%ax; ltr %%ax"
                     :: "m"(gdtr) : "eax", "memory");
    for (int n = 0; n < 49; n++)
        set_gate(idt, n, vectors[n], 0);
    set_gate(idt, 0x80, vector_syscall, 3);
    __asm__ volatile("lidt %0" :: "m"(idtr));
    outb(0x21, 0xFF);                        /* the 8259A masked: the APICs only */
    outb(0xA1, 0xFF);
}

/* Halt until *counter moves past `before`: checked with interrupts off, then `sti; hlt`
 * (no interrupt can slip in between the two: sti's shadow covers the hlt). */
static void wait_past(volatile uint32_t *counter, uint32_t before)
{
    for (;;) {
        __asm__ volatile("cli" ::: "memory");
        if (*counter > before)
            break;
        __asm__ volatile("sti; hlt" ::: "memory");
    }
    __asm__ volatile("sti" ::: "memory");
}

static void check_lapic_timer(void)
{
    uint32_t id = mmio_read(LAPIC + 0x20) >> 24, version = mmio_read(LAPIC + 0x30) & 0xFF;
    check(id == 0 && version == 0x14, "local APIC ID 0, version 14h");
    mmio_write(LAPIC + 0xF0, 0x1FF);         /* enabled, spurious vector FFh */
    mmio_write(LAPIC + 0x3E0, 0x3);          /* divide by 16 */
    mmio_write(LAPIC + 0x320, 0x20000 | TIMER_VECTOR);
    mmio_write(LAPIC + 0x380, 62500);        /* 1 ms at 1 GHz / 16 */
    wait_past(&ticks, 19);
    uint32_t count = mmio_read(LAPIC + 0x390);
    mmio_write(LAPIC + 0x320, 0x10000);      /* masked */
    puts("lapic timer: ");
    putu(ticks);
    puts(" ticks\n");
    check(ticks >= 20 && count <= 62500, "LAPIC timer interrupts, periodic, through the IDT");
}

static void ide_wait_irq(uint32_t before) { wait_past(&ide_irqs, before); }

static void ide_command(uint32_t lba, uint8_t count, uint8_t command)
{
    outb(0x1F6, 0xE0 | (lba >> 24));
    outb(0x1F2, count);
    outb(0x1F3, lba & 0xFF);
    outb(0x1F4, (lba >> 8) & 0xFF);
    outb(0x1F5, (lba >> 16) & 0xFF);
    outb(0x1F7, command);
}

static void check_ide(void)
{
    mmio_write(IOAPIC, 0x10 + 2 * 14);       /* pin 14: vector 46, fixed, edge */
    mmio_write(IOAPIC + 0x10, IDE_VECTOR);
    mmio_write(IOAPIC, 0x11 + 2 * 14);       /* to APIC 0 */
    mmio_write(IOAPIC + 0x10, 0);
    outb(0x3F6, 0x00);                       /* nIEN clear: interrupts on */
    uint32_t irqs = ide_irqs;
    ide_command(0, 0, 0xEC);                 /* IDENTIFY */
    ide_wait_irq(irqs);
    for (int i = 0; i < 256; i++)
        sector[i] = inw(0x1F0);
    uint32_t sectors = sector[60] | (uint32_t)sector[61] << 16;
    puts("ide: ");
    putu(sectors);
    puts(" sectors\n");
    check(inb(0x1F7) == 0x50 && sectors >= 65, "IDE IDENTIFY with IRQ 14 through the IOAPIC");

    irqs = ide_irqs;
    ide_command(TEST_LBA, 2, 0x30);          /* WRITE SECTORS: data, then an IRQ each */
    for (int s = 0; s < 2; s++) {
        while (!(inb(0x3F6) & 0x08))
            ;
        for (int i = 0; i < 256; i++)
            outw(0x1F0, (uint16_t)(0xA000 + s * 256 + i));
        ide_wait_irq(irqs + s);
    }
    check(ide_irqs == irqs + 2 && !(inb(0x1F7) & 0x01), "IDE WRITE SECTORS, an interrupt a sector");
    irqs = ide_irqs;
    ide_command(TEST_LBA, 2, 0x20);          /* READ SECTORS: an IRQ, then the data */
    int same = 1;
    for (int s = 0; s < 2; s++) {
        ide_wait_irq(irqs + s);
        inb(0x1F7);
        for (int i = 0; i < 256; i++)
            same &= inw(0x1F0) == (uint16_t)(0xA000 + s * 256 + i);
    }
    check(same && ide_irqs == irqs + 2, "IDE READ SECTORS reads back what was written");
}

/* ring 3: a system call, a refused `in`, the exit call */
__attribute__((naked)) static void user_main(void)
{
    __asm__ volatile("mov $0, %eax; int $0x80;"
                     "mov %eax, %ebx;"
                     "mov $0x21, %al; out %al, $0xE9;"       /* allowed by the bitmap */
                     "in $0x71, %al;"
                     "mov $1, %eax; int $0x80;"
                     "1: jmp 1b");
}

static void enter_user(void)
{
    __asm__ volatile("cli; mov $0x23, %%ax; mov %%ax, %%ds; mov %%ax, %%es;"
                     "push $0x23; push %0; push $0x202; push $0x1B; push %1; iret"
                     :: "r"(USTACK_TOP), "r"(user_main) : "eax", "memory");
}

static void after_user(void)
{
    __asm__ volatile("mov $0x10, %%ax; mov %%ax, %%ds; mov %%ax, %%es" ::: "eax");
    check(syscalls == 2 && (user_cs & 3) == 3, "int $0x80 from ring 3 through a DPL 3 gate");
    check(frame_at < KSTACK_TOP && frame_at > KSTACK_TOP - 0x1000,
          "the TSS stack switch to ss0:esp0");
    check(user_gp == 1 && user_gp_error == 0,
          "user `in` refused with #GP(0), `out` to a port its TSS bitmap allows done");
    finish(PASS);
}

void kmain(void)
{
    outb(COM1 + 3, 0x03);
    puts("pc kernel: LAPIC, IOAPIC, IDE, ring 3\n");
    setup_cpu();
    check_lapic_timer();
    check_ide();
    enter_user();
}
