/* Command-line parsing: "key=value" words in start_info->cmd_line. */
#include "guest.h"

int cmdline_get_ulong(const char *key, unsigned long *val)
{
    const char *p = (const char *)start_info->cmd_line;
    size_t klen = strlen(key);

    while (*p) {
        while (*p == ' ')
            p++;
        if (!strncmp(p, key, klen) && p[klen] == '=') {
            unsigned long v = 0;
            const char *q = p + klen + 1;
            int base = 10;

            if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
                base = 16;
                q += 2;
            }
            if (!*q || *q == ' ')
                return -1;
            for (; *q && *q != ' '; q++) {
                int d;
                if (*q >= '0' && *q <= '9')
                    d = *q - '0';
                else if (base == 16 && *q >= 'a' && *q <= 'f')
                    d = *q - 'a' + 10;
                else if (base == 16 && *q >= 'A' && *q <= 'F')
                    d = *q - 'A' + 10;
                else if (*q == '_')
                    continue;
                else
                    return -1;
                v = v * base + d;
            }
            *val = v;
            return 0;
        }
        while (*p && *p != ' ')
            p++;
    }
    return -1;
}

unsigned long next_ulong(const char **s)
{
    unsigned long v = 0;

    while (**s == ' ')
        (*s)++;
    for (; **s >= '0' && **s <= '9'; (*s)++)
        v = v * 10 + (unsigned long)(**s - '0');
    return v;
}
