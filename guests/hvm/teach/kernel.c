/*
 * tk: hvcore's teaching kernel. 32-bit, booted from the IDE master by boot32.S through
 * our BIOS (at 0x10000, in protected mode). It finds programs in a flat file system on
 * the IDE slave (mkfs.py: a directory sector, then the files), runs them as processes
 * in ring 3 (each in its own 4 MiB page at USER_BASE, its own page directory and
 * kernel stack), switches between them on LAPIC timer ticks, and serves the console
 * on COM1 (output polled, input by IRQ 4 through the IOAPIC, a line at a time).
 * The first process is `sh`; when it exits the machine powers off (test-exit port).
 */
#include <stdint.h>

#include "../testlib.h"
#include "user.h"

#define LAPIC 0xFEE00000u
#define IOAPIC 0xFEC00000u
#define TIMER_VECTOR 32
#define UART_VECTOR 36
#define NPROC 8
#define KSTACK 4096
#define USER_FRAMES 0x01000000u          /* process n's 4 MiB at 16 MiB + n * 4 MiB */
#define FS_ENTRIES 15

struct trapframe {
    uint32_t edi, esi, ebp, oesp, ebx, edx, ecx, eax;
    uint32_t es, ds, vector, error, eip, cs, eflags, esp, ss;
};

enum state { FREE, RUNNABLE, WAIT_INPUT, WAIT_CHILD, ZOMBIE };

struct proc {
    enum state state;
    int pid, parent, waiting_for, status;
    struct trapframe *tf;
    uint32_t *pgdir;
    uint8_t kstack[KSTACK] __attribute__((aligned(16)));
};

struct fs_entry { char name[NAME_MAX]; uint32_t lba, size, pad; };

extern uint32_t vector_table[65];

static uint64_t idt[256], gdt[6];
static uint32_t tss[26];
static uint32_t pgdirs[NPROC][1024] __attribute__((aligned(4096)));
static struct proc procs[NPROC];
static struct proc *current;
static struct fs_entry files[FS_ENTRIES];
static int next_pid = 1;
static char line[128];
static int line_len, line_ready;
static volatile uint32_t ticks;

static inline void mmio_write(uint32_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

/* ---- the file system on the IDE slave (polled PIO) --------------------------------- */
static void ide_read(uint32_t lba, void *buf)
{
    uint16_t *words = buf;
    outb(0x1F6, 0xF0 | (lba >> 24));              /* LBA, slave */
    outb(0x1F2, 1);
    outb(0x1F3, lba & 0xFF);
    outb(0x1F4, (lba >> 8) & 0xFF);
    outb(0x1F5, (lba >> 16) & 0xFF);
    outb(0x1F7, 0x20);
    uint8_t status;
    while ((status = inb(0x1F7)) & 0x80)
        ;
    if (status & 0x01)
        return;
    for (int i = 0; i < 256; i++)
        words[i] = inw(0x1F0);
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}

static struct fs_entry *lookup(const char *name)
{
    for (int i = 0; i < FS_ENTRIES; i++)
        if (files[i].name[0] && streq(files[i].name, name))
            return &files[i];
    return 0;
}

static int load(struct fs_entry *f, uint8_t *to, uint32_t max)
{
    uint8_t sector[512];
    uint32_t n = f->size < max ? f->size : max;
    for (uint32_t done = 0; done < n; done += 512) {
        ide_read(f->lba + done / 512, sector);
        for (uint32_t i = 0; i < 512 && done + i < n; i++)
            to[done + i] = sector[i];
    }
    return (int)n;
}

/* ---- processes ----------------------------------------------------------------------- */
/* What every address space has, supervisor only: 64 MiB of RAM identity-mapped, and the
 * 4 MiB holding the IOAPIC and the LAPIC (uncached), in 4 MiB pages. */
static void map_kernel(uint32_t *pd)
{
    for (uint32_t i = 0; i < 16; i++)
        pd[i] = (i << 22) | 0x83;
    pd[IOAPIC >> 22] = (IOAPIC & 0xFFC00000u) | 0x93;
}

static uint8_t *user_frames(struct proc *p) { return (uint8_t *)(USER_FRAMES + (p - procs) * USER_SIZE); }

static int spawn(const char *name, const char *arg, int parent)
{
    struct fs_entry *f = lookup(name);
    if (!f || f->size > USER_SIZE - 0x2000)
        return -1;
    struct proc *p = 0;
    for (int i = 1; i < NPROC && !p; i++)
        if (procs[i].state == FREE)
            p = &procs[i];
    if (!p)
        return -1;
    uint32_t *pd = pgdirs[p - procs];
    for (int i = 0; i < 1024; i++)
        pd[i] = 0;
    map_kernel(pd);
    pd[USER_BASE >> 22] = (uint32_t)user_frames(p) | 0x87;   /* user, writable, 4 MiB */
    load(f, user_frames(p), USER_SIZE);
    char *a = (char *)user_frames(p) + (USER_ARG - USER_BASE);
    int i = 0;
    for (; arg && arg[i] && i < 255; i++)
        a[i] = arg[i];
    a[i] = 0;
    struct trapframe *tf = (struct trapframe *)(p->kstack + KSTACK) - 1;
    uint32_t *words = (uint32_t *)tf;
    for (unsigned w = 0; w < sizeof *tf / 4; w++)
        words[w] = 0;
    tf->ds = tf->es = tf->ss = 0x23;
    tf->cs = 0x1B;
    tf->eip = USER_BASE;
    tf->esp = USER_ARG - 16;
    tf->ebx = USER_ARG;
    tf->eflags = 0x202;
    p->tf = tf;
    p->pgdir = pd;
    p->pid = next_pid++;
    p->parent = parent;
    p->state = RUNNABLE;
    return p->pid;
}

static struct trapframe *switch_to(struct proc *p)
{
    current = p;
    tss[1] = (uint32_t)(p->kstack + KSTACK);     /* esp0 */
    __asm__ volatile("mov %0, %%cr3" :: "r"(p->pgdir) : "memory");
    return p->tf;
}

static struct trapframe *schedule(void)
{
    int start = (int)(current - procs);
    for (int k = 1; k <= NPROC; k++) {
        struct proc *p = &procs[(start + k) % NPROC];
        if (p != procs && p->state == RUNNABLE)
            return switch_to(p);
    }
    return switch_to(procs);                     /* the idle loop */
}

static void wake_parent(struct proc *child)
{
    for (int i = 1; i < NPROC; i++)
        if (procs[i].state == WAIT_CHILD && procs[i].pid == child->parent
            && procs[i].waiting_for == child->pid) {
            procs[i].state = RUNNABLE;
            procs[i].tf->eax = (uint32_t)child->status;
            child->state = FREE;
        }
}

static void exit_current(int status)
{
    current->status = status;
    current->state = ZOMBIE;
    if (current->pid == 1) {
        puts("tk: init exited, powering off\n");
        outb(0xF4, (uint8_t)status);
        for (;;) __asm__ volatile("cli; hlt");
    }
    int orphan = 1;
    for (int i = 1; i < NPROC; i++)
        if (procs[i].state != FREE && procs[i].pid == current->parent)
            orphan = 0;
    wake_parent(current);
    if (orphan)
        current->state = FREE;
}

/* ---- the console ---------------------------------------------------------------------- */
/* Received bytes wait in a ring; the line discipline takes them into `line` (echo,
 * backspace) when a process reads, so typed-ahead text is echoed when its reader asks
 * for it, not in the middle of another program's output. */
static char ring[256];
static uint32_t ring_in, ring_out;

static void wake_reader(void)
{
    for (int i = 1; i < NPROC; i++)
        if (procs[i].state == WAIT_INPUT) {
            procs[i].state = RUNNABLE;
            return;
        }
}

static int reader_waiting(void)
{
    for (int i = 1; i < NPROC; i++)
        if (procs[i].state == WAIT_INPUT)
            return 1;
    return 0;
}

static void discipline(void)
{
    while (!line_ready && ring_out != ring_in) {
        char c = ring[ring_out++ % sizeof ring];
        if (c == '\r' || c == '\n') {
            line[line_len++] = '\n';
            putc('\n');
            line_ready = 1;
        } else if ((c == '\b' || c == 0x7F) && line_len) {
            line_len--;
            puts("\b \b");
        } else if (c >= ' ' && line_len < (int)sizeof line - 1) {
            line[line_len++] = c;
            putc(c);
        }
    }
    if (line_ready)
        wake_reader();
}

static void console_input(void)
{
    while (inb(COM1 + 5) & 1) {
        char c = (char)inb(COM1);
        if (ring_in - ring_out < sizeof ring)
            ring[ring_in++ % sizeof ring] = c;
    }
    if (reader_waiting())
        discipline();
}

static int copy_line(char *to, int max)
{
    int n = line_len < max ? line_len : max;
    for (int i = 0; i < n; i++)
        to[i] = line[i];
    line_len = line_ready = 0;
    return n;
}

/* ---- system calls ------------------------------------------------------------------- */
static int user_ok(uint32_t address, uint32_t length)
{
    return address >= USER_BASE && length <= USER_SIZE && address + length <= USER_BASE + USER_SIZE;
}

static struct trapframe *syscall(struct trapframe *tf)
{
    uint32_t a = tf->ebx, b = tf->ecx, c = tf->edx;
    int result = -1;
    switch (tf->eax) {
    case SYS_EXIT:
        exit_current((int)a);
        return schedule();
    case SYS_WRITE:
        if (user_ok(b, c)) {
            for (uint32_t i = 0; i < c; i++)
                putc(((char *)b)[i]);
            result = (int)c;
        }
        break;
    case SYS_READ:
        if (!user_ok(b, c))
            break;
        discipline();
        if (!line_ready) {                       /* block until a line comes */
            current->state = WAIT_INPUT;
            tf->eip -= 2;                        /* the int $0x80 again, when woken */
            return schedule();
        }
        result = copy_line((char *)b, (int)c);
        break;
    case SYS_SPAWN:
        if (user_ok(a, NAME_MAX) && (!b || user_ok(b, 1)))
            result = spawn((char *)a, (char *)b, current->pid);
        break;
    case SYS_WAIT:
        for (int i = 1; i < NPROC; i++)
            if (procs[i].pid == (int)a && procs[i].parent == current->pid && procs[i].state != FREE) {
                current->waiting_for = (int)a;
                current->state = WAIT_CHILD;
                if (procs[i].state == ZOMBIE) {
                    current->state = RUNNABLE;
                    procs[i].state = FREE;
                    tf->eax = (uint32_t)procs[i].status;
                    return tf;
                }
                return schedule();
            }
        break;
    case SYS_GETPID:
        result = current->pid;
        break;
    case SYS_LIST:
        if (a < FS_ENTRIES && files[a].name[0] && user_ok(b, NAME_MAX)) {
            for (int i = 0; i < NAME_MAX; i++)
                ((char *)b)[i] = files[a].name[i];
            result = (int)files[a].size;
        }
        break;
    case SYS_FREAD:
        if (user_ok(a, NAME_MAX) && user_ok(b, c)) {
            struct fs_entry *f = lookup((char *)a);
            if (f)
                result = load(f, (uint8_t *)b, c);
        }
        break;
    case SYS_YIELD:
        tf->eax = 0;
        return schedule();
    }
    tf->eax = (uint32_t)result;
    return tf;
}

struct trapframe *trap(struct trapframe *tf)
{
    if (current)
        current->tf = tf;
    switch (tf->vector) {
    case TIMER_VECTOR:
        ticks++;
        mmio_write(LAPIC + 0xB0, 0);
        return schedule();
    case UART_VECTOR:
        console_input();
        mmio_write(LAPIC + 0xB0, 0);
        return current->state == RUNNABLE ? tf : schedule();
    case 0x80:
        return syscall(tf);
    }
    if ((tf->cs & 3) == 3) {                     /* a user fault: the process dies */
        puts("tk: pid ");
        putu((uint32_t)current->pid);
        puts(" killed by trap ");
        putu(tf->vector);
        putc('\n');
        exit_current(-1);
        return schedule();
    }
    puts("tk: kernel trap ");
    putu(tf->vector);
    puts(" at ");
    putu(tf->eip);
    putc('\n');
    finish(FAIL);
}

/* ---- start-up ---------------------------------------------------------------------- */
static void setup_cpu(void)
{
    struct { uint16_t limit; uint32_t base; } __attribute__((packed))
        idtr = { sizeof idt - 1, (uint32_t)idt }, gdtr = { sizeof gdt - 1, (uint32_t)gdt };
    uint32_t t = (uint32_t)tss;
    gdt[1] = 0x00CF9A000000FFFFull;
    gdt[2] = 0x00CF92000000FFFFull;
    gdt[3] = 0x00CFFA000000FFFFull;
    gdt[4] = 0x00CFF2000000FFFFull;
    gdt[5] = (sizeof tss - 1) | ((uint64_t)(t & 0xFFFFFF) << 16) | (0x89ull << 40) |
             ((uint64_t)(t >> 24) << 56);
    tss[2] = 0x10;
    tss[25] = sizeof tss << 16;
    __asm__ volatile("lgdt %0; ljmp $0x08, $1f; 1: mov $0x10, %%ax; mov %%ax, %%ds;"
                     "mov %%ax, %%es; mov %%ax, %%ss; mov $0x28, %%ax; ltr %%ax"
                     :: "m"(gdtr) : "eax", "memory");
    for (int n = 0; n < 64; n++)
        set_gate(idt, n, vector_table[n], 0);
    set_gate(idt, 0x80, vector_table[64], 3);
    __asm__ volatile("lidt %0" :: "m"(idtr));
}

static void setup_paging(void)
{
    uint32_t *pd = pgdirs[0];
    map_kernel(pd);
    procs[0].pgdir = pd;
    __asm__ volatile("mov %%cr4, %%eax; or $0x10, %%eax; mov %%eax, %%cr4; mov %0, %%cr3;"
                     "mov %%cr0, %%eax; or $0x80010000, %%eax; mov %%eax, %%cr0"
                     :: "r"(pd) : "eax", "memory");
}

static void setup_interrupts(void)
{
    outb(0x21, 0xFF);                            /* the 8259A masked */
    outb(0xA1, 0xFF);
    mmio_write(LAPIC + 0xF0, 0x1FF);
    mmio_write(LAPIC + 0x3E0, 0x3);              /* divide by 16 */
    mmio_write(LAPIC + 0x320, 0x20000 | TIMER_VECTOR);
    mmio_write(LAPIC + 0x380, 625000);           /* 10 ms */
    mmio_write(IOAPIC, 0x10 + 2 * 4);            /* COM1's IRQ 4 */
    mmio_write(IOAPIC + 0x10, UART_VECTOR);
    mmio_write(IOAPIC, 0x11 + 2 * 4);
    mmio_write(IOAPIC + 0x10, 0);
    outb(COM1 + 4, 0x0B);                        /* DTR, RTS, OUT2 */
    outb(COM1 + 1, 0x01);                        /* received data interrupts */
    outb(0x3F6, 0x02);                           /* IDE polled */
}

void kmain(void)
{
    outb(COM1 + 3, 0x03);
    puts("tk: hvcore teaching kernel\n");
    setup_cpu();
    setup_paging();
    uint8_t sector[512];
    ide_read(0, sector);
    if (!streq((char *)sector, "HVFS")) {
        puts("tk: no file system on the second disk\n");
        finish(FAIL);
    }
    uint8_t *dir = (uint8_t *)files;
    for (unsigned i = 0; i < sizeof files; i++)
        dir[i] = sector[32 + i];
    setup_interrupts();
    current = procs;                             /* the idle loop, for now */
    if (spawn("sh", "", 0) < 0) {
        puts("tk: no sh\n");
        finish(FAIL);
    }
    for (;;)
        __asm__ volatile("sti; hlt");
}
