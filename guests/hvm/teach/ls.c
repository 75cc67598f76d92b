/* ls: the files on the second disk and their sizes */
#include "ulib.h"

int main(const char *arg)
{
    (void)arg;
    char name[NAME_MAX + 1];
    name[NAME_MAX] = 0;
    for (uint32_t i = 0;; i++) {
        int size = sys(SYS_LIST, i, (uint32_t)name, 0);
        if (size < 0)
            return 0;
        print(name);
        print(" ");
        printn((uint32_t)size);
        print("\n");
    }
}
