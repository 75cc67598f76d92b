/*
 * Protected-mode test kernel, booted from disk by boot32.S through our BIOS.
 *
 * Prints on COM1. Checks, in order: the BIOS memory map (E820), an IDT with
 * exception and IRQ gates, the 8259A remapped to 0x20/0x28, 8254 timer interrupts
 * (counted while halting), `int $0x80` through a gate, #UD and #GP with its error
 * code, paging with a handled #PF (not present, then a write to a read-only page
 * with CR0.WP), and ends through the test-exit port: 0x2A when all passed
 * (hv run exits 85), 0x7E at the first failure (exit 253).
 */
#include <stdint.h>

#include "testlib.h"

#define PF_ADDR 0x40000000u

struct frame {                  /* pusha, vector, error code, then the CPU's frame */
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error, eip, cs, eflags;
};

struct e820 { uint64_t base, length; uint32_t type; } __attribute__((packed));

extern uint32_t vectors[49], vector_syscall;
extern char gp_insn[], gp_resume[], ud_insn[];
void gp_test(void);
void ud_test(void);

static uint64_t idt[256];
static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static volatile uint32_t ticks, syscalls, page_faults, last_pf_error, last_cr2;
static volatile uint32_t gp_error, ud_count;

void trap(struct frame *f)
{
    uint32_t cr2;
    switch (f->vector) {
    case 6:
        if (f->eip == (uint32_t)ud_insn) { ud_count++; f->eip += 2; return; }
        break;
    case 13:
        if (f->eip == (uint32_t)gp_insn) { gp_error = f->error; f->eip = (uint32_t)gp_resume; return; }
        break;
    case 14:
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        page_faults++;
        last_cr2 = cr2;
        last_pf_error = f->error;
        if ((cr2 & 0xFFC00000) == PF_ADDR) {     /* map it (again, writable) */
            page_dir[cr2 >> 22] = 0x00400000 | 0x83;
            __asm__ volatile("invlpg (%0)" :: "r"(cr2) : "memory");
            return;
        }
        break;
    case 32:
        ticks++;
        outb(0x20, 0x20);
        return;
    case 0x80:
        syscalls++;
        f->eax = 0x1234;
        return;
    }
    puts("unexpected trap ");
    putu(f->vector);
    puts(" at ");
    puthex(f->eip);
    puts(" error ");
    puthex(f->error);
    putc('\n');
    finish(FAIL);
}

static void check_memory_map(void)
{
    uint32_t count = *(volatile uint32_t *)0x5FFC;
    struct e820 *map = (struct e820 *)0x6000;
    uint64_t ram = 0;
    for (uint32_t i = 0; i < count; i++)
        if (map[i].type == 1)
            ram += map[i].length;
    puts("e820: ");
    putu(count);
    puts(" entries, RAM ");
    putu((uint32_t)(ram >> 10));
    puts(" KiB\n");
    check(count == 4 && map[3].base == 0x100000 && ram > 60u * 1024 * 1024, "memory map");
}

static void setup_interrupts(void)
{
    struct { uint16_t limit; uint32_t base; } __attribute__((packed)) idtr = { sizeof idt - 1, (uint32_t)idt };
    for (int n = 0; n < 49; n++)
        set_gate(idt, n, vectors[n], 0);
    set_gate(idt, 0x80, vector_syscall, 0);
    __asm__ volatile("lidt %0" :: "m"(idtr));
    outb(0x20, 0x11); outb(0xA0, 0x11);     /* 8259A: ICW1..4, vectors 0x20 and 0x28 */
    outb(0x21, 0x20); outb(0xA1, 0x28);
    outb(0x21, 0x04); outb(0xA1, 0x02);
    outb(0x21, 0x01); outb(0xA1, 0x01);
    outb(0x21, 0xFE); outb(0xA1, 0xFF);     /* IRQ0 only */
    outb(0x43, 0x34);                       /* 8254 channel 0, rate generator, 1 kHz */
    outb(0x40, 1193 & 0xFF);
    outb(0x40, 1193 >> 8);
}

static void check_paging(void)
{
    for (uint32_t i = 0; i < 4; i++)        /* 16 MiB identity, 4 MiB pages */
        page_dir[i] = (i << 22) | 0x83;
    __asm__ volatile("mov %%cr4, %%eax; or $0x10, %%eax; mov %%eax, %%cr4;"   /* PSE */
                     "mov %0, %%cr3;"
                     "mov %%cr0, %%eax; or $0x80010000, %%eax; mov %%eax, %%cr0"  /* PG, WP */
                     :: "r"(page_dir) : "eax", "memory");
    volatile uint32_t *far = (volatile uint32_t *)(PF_ADDR + 0x10);
    uint32_t value = *far;                  /* not present: #PF, mapped, retried */
    (void)value;
    check(page_faults == 1 && last_cr2 == PF_ADDR + 0x10 && last_pf_error == 0,
          "#PF on a read of a page not present (CR2, error code 0)");
    page_dir[PF_ADDR >> 22] = 0x00400000 | 0x81;        /* read-only now */
    __asm__ volatile("invlpg (%0)" :: "r"(PF_ADDR) : "memory");
    *far = 0xC0FFEE;                        /* write to read-only: #PF (P|W), made writable */
    puts("page faults: ");
    putu(page_faults);
    puts(", last error code ");
    puthex(last_pf_error);
    putc('\n');
    check(page_faults == 2 && last_pf_error == 3, "#PF on a write to a read-only page (error code 3)");
    check(*(volatile uint32_t *)0x00400010 == 0xC0FFEE, "the write landed through the new mapping");
}

void kmain(void)
{
    outb(COM1 + 3, 0x03);
    puts("pmode kernel: hello from protected mode\n");
    check_memory_map();
    setup_interrupts();
    __asm__ volatile("sti");
    while (ticks < 50)
        __asm__ volatile("hlt");
    puts("timer: ");
    putu(ticks);
    puts(" ticks\n");
    check(ticks >= 50, "PIT interrupts through the IDT");
    uint32_t eax;
    __asm__ volatile("int $0x80" : "=a"(eax) : "a"(0) : "memory");
    check(syscalls == 1 && eax == 0x1234, "int $0x80 through its gate");
    ud_test();
    check(ud_count == 1, "#UD on ud2, resumed after it");
    gp_test();
    check(gp_error == 0x1230, "#GP with the selector's error code");
    check_paging();
    finish(PASS);
}
