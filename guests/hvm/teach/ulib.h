/* The user programs' library: system calls and a little string and number printing. */
#ifndef TEACH_ULIB_H
#define TEACH_ULIB_H
#include <stdint.h>

#include "user.h"

static inline int sys(int n, uint32_t a, uint32_t b, uint32_t c)
{
    int r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

static inline int strlen(const char *s) { int n = 0; while (s[n]) n++; return n; }
static inline int streq(const char *a, const char *b)
{
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}
static inline void print(const char *s) { sys(SYS_WRITE, 1, (uint32_t)s, (uint32_t)strlen(s)); }
static inline void printn(uint32_t v)
{
    char buf[12];
    int i = 11;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    print(buf + i);
}
static inline uint32_t atou(const char *s)
{
    uint32_t v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (uint32_t)(*s++ - '0');
    return v;
}
#endif
