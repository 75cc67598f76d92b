/*
 * loop: a compute loop for benchmarks.  Runs `iters=N` (command line,
 * default 100000000) iterations of an LCG step in assembly, prints the
 * iteration count and checksum, and checks the checksum against the closed
 * form computed by composing the affine map (O(log N)).
 */
#include "guest.h"

#define DEFAULT_ITERS   100000000UL
#define SEED            0x12345678UL

#ifdef __x86_64__
typedef uint64_t word_t;
#define LCG_A           6364136223846793005ULL
#define LCG_C           1442695040888963407ULL
#else
typedef uint32_t word_t;
#define LCG_A           1664525U
#define LCG_C           1013904223U
#endif

extern word_t loop_run(unsigned long iters, word_t seed);

/* x -> a*x + c applied n times, by squaring the affine map. */
static word_t lcg_closed_form(unsigned long n, word_t x)
{
    word_t a = LCG_A, c = LCG_C;        /* the map applied 2^k times */
    word_t ra = 1, rc = 0;              /* accumulated map */

    while (n) {
        if (n & 1) {
            /* r := (a,c) o r */
            rc = a * rc + c;
            ra = a * ra;
        }
        c = a * c + c;
        a = a * a;
        n >>= 1;
    }
    return ra * x + rc;
}

static void loop_main(void)
{
    unsigned long iters = DEFAULT_ITERS;
    uint64_t t0, t1, ns;
    word_t sum, want;

    if (cmdline_get_ulong("iters", &iters) == 0)
        printk("loop: iters=%lu from the command line\n", iters);
    map_shared_info();
    t0 = system_time_ns();
    sum = loop_run(iters, SEED);
    t1 = system_time_ns();
    ns = t1 - t0;
    printk("loop: iters=%lu checksum=0x%llx\n", iters, (unsigned long long)sum);
    printk("loop: %llu ms, %llu M iterations/s\n",
           (unsigned long long)(ns / 1000000),
           ns ? (unsigned long long)((uint64_t)iters * 1000 / ns) : 0ULL);
    want = lcg_closed_form(iters, SEED);
    CHECK(sum == want, "checksum 0x%llx, want 0x%llx",
          (unsigned long long)sum, (unsigned long long)want);
}

DEFINE_KERNEL("loop", loop_main, 0);
