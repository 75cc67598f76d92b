/* sh: reads a command line, runs the program it names with the rest of the line as its
 * argument, and waits for it (a trailing & does not wait). `exit` leaves. */
#include "ulib.h"

int main(const char *arg)
{
    (void)arg;
    char line[128];
    print("tk shell: type a program name (ls lists them), exit to leave\n");
    for (;;) {
        print("$ ");
        int n = sys(SYS_READ, 0, (uint32_t)line, sizeof line - 1);
        if (n <= 0)
            continue;
        line[n] = 0;
        while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
            line[--n] = 0;
        int background = n && line[n - 1] == '&';
        if (background)
            line[--n] = 0;
        char *rest = line;
        while (*rest && *rest != ' ')
            rest++;
        if (*rest)
            *rest++ = 0;
        if (!line[0])
            continue;
        if (streq(line, "exit"))
            return 0;
        int pid = sys(SYS_SPAWN, (uint32_t)line, (uint32_t)rest, 0);
        if (pid < 0) {
            print(line);
            print(": not found\n");
        } else if (background) {
            print("[");
            printn((uint32_t)pid);
            print("]\n");
        } else {
            int status = sys(SYS_WAIT, (uint32_t)pid, 0, 0);
            if (status) {
                print("exit status ");
                printn((uint32_t)status);
                print("\n");
            }
        }
    }
}
