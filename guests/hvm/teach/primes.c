/* primes N: how many primes there are below N, the slow way (a CPU-bound process) */
#include "ulib.h"

int main(const char *arg)
{
    uint32_t limit = atou(arg), count = 0;
    for (uint32_t n = 2; n < limit; n++) {
        uint32_t d = 2;
        while (d * d <= n && n % d)
            d++;
        count += d * d > n;
        if (n % 4096 == 0)
            sys(SYS_YIELD, 0, 0, 0);
    }
    print("primes below ");
    printn(limit);
    print(": ");
    printn(count);
    print("\n");
    return 0;
}
