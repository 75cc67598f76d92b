/*
 * shutdown: a guest that honours the toolstack's control/shutdown node, as a PV
 * kernel's shutdown driver does. It watches "control/shutdown"; when the value
 * becomes "poweroff" or "reboot" it acknowledges by clearing the node and shuts
 * down with that reason. Used by `hv shutdown` / `hv reboot` tests.
 */
#include "guest.h"
#include "xenstore.h"

static void shutdown_main(void)
{
    char path[128], token[16], value[32];
    int rc;

    rc = xs_init();
    CHECK(rc == 0, "xs_init: %d", rc);
    rc = xs_watch("control/shutdown", "sd");
    CHECK(rc == 0, "watch control/shutdown: %s", xs_errname(rc));
    printk("shutdown: ready, watching control/shutdown\n");
    for (;;) {
        rc = xs_read_watch(path, sizeof(path), token, sizeof(token), 0);
        CHECK(rc == 0, "xs_read_watch: %s", xs_errname(rc));
        rc = xs_read("control/shutdown", value, sizeof(value));
        if (rc <= 0)
            continue;                    /* the first event, or our own clearing */
        printk("shutdown: asked to %s\n", value);
        xs_write("control/shutdown", "");   /* acknowledge, as Linux does */
        if (strcmp(value, "poweroff") == 0 || strcmp(value, "halt") == 0)
            shutdown(SHUTDOWN_poweroff);
        if (strcmp(value, "reboot") == 0)
            shutdown(SHUTDOWN_reboot);
        printk("shutdown: ignoring unknown request '%s'\n", value);
    }
}

DEFINE_KERNEL("shutdown", shutdown_main, 0);
