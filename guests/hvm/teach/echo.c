/* echo: its argument */
#include "ulib.h"

int main(const char *arg)
{
    print(arg);
    print("\n");
    return 0;
}
