/* hello: who am I */
#include "ulib.h"

int main(const char *arg)
{
    (void)arg;
    print("hello from user space, pid ");
    printn((uint32_t)sys(SYS_GETPID, 0, 0, 0));
    print("\n");
    return 0;
}
