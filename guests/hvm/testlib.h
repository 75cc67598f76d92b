/*
 * What the HVM test kernels share: port I/O (ordered against memory: a device may
 * interrupt right after it), COM1 output, and the pass/fail protocol (ok:/FAIL: lines,
 * then the test-exit port: PASS 0x2A, FAIL 0x7E).
 */
#ifndef HVM_TESTLIB_H
#define HVM_TESTLIB_H
#include <stdint.h>

#define COM1 0x3F8
#define PASS 0x2A
#define FAIL 0x7E

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port) : "memory"); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory"); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory"); return v; }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port) : "memory"); }

static inline void putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20))
        ;
    outb(COM1, (uint8_t)c);
}

static inline void puts(const char *s) { while (*s) putc(*s++); }

static inline void putu(uint32_t v)
{
    char buf[12];
    int i = 0;
    do { buf[i++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (i) putc(buf[--i]);
}

static inline void puthex(uint32_t v)
{
    puts("0x");
    for (int s = 28; s >= 0; s -= 4) putc("0123456789abcdef"[(v >> s) & 15]);
}

static inline void __attribute__((noreturn)) finish(uint8_t code)
{
    puts(code == PASS ? "all passed\n" : "FAILED\n");
    outb(0xF4, code);
    for (;;) __asm__ volatile("cli; hlt");
}

static inline void check(int ok, const char *what)
{
    puts(ok ? "ok: " : "FAIL: ");
    puts(what);
    putc('\n');
    if (!ok)
        finish(FAIL);
}

static inline void set_gate(uint64_t *idt, int n, uint32_t handler, int dpl)
{
    idt[n] = (handler & 0xFFFF) | (0x08u << 16) |
             ((uint64_t)(0x8E00 | (dpl << 13)) << 32) | ((uint64_t)(handler >> 16) << 48);
}
#endif
