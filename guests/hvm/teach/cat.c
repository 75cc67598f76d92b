/* cat: a file from the second disk */
#include "ulib.h"

static char buf[8192];

int main(const char *arg)
{
    int n = sys(SYS_FREAD, (uint32_t)arg, (uint32_t)buf, sizeof buf);
    if (n < 0) {
        print(arg);
        print(": no such file\n");
        return 1;
    }
    sys(SYS_WRITE, 1, (uint32_t)buf, (uint32_t)n);
    return 0;
}
