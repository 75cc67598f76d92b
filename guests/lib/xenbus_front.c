/*
 * The frontend half of a xenbus device: see include/xenbus_front.h.
 */
#include "xenbus_front.h"

#define SEC     (1000ULL * 1000 * 1000)

static unsigned long parse_ulong(const char *s)
{
    unsigned long v = 0;

    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (unsigned long)(*s - '0');
    return v;
}

int xenbus_front_list(const char *kind, unsigned int *devids, int max)
{
    static char names[512];
    char path[32];
    const char *name = names;
    int count, i;

    CHECK(xs_init() == 0, "xs_init");
    snprintf(path, sizeof(path), "device/%s", kind);
    count = xs_directory(path, names, sizeof(names));
    if (count < 0)
        return 0;
    for (i = 0; i < count && i < max; i++, name += strlen(name) + 1)
        devids[i] = (unsigned int)parse_ulong(name);
    return i;
}

void xenbus_front_init(struct xenbus_front *x, const char *kind, unsigned int devid)
{
    char value[16];

    CHECK(xs_init() == 0, "xs_init");
    x->kind = kind;
    x->devid = devid;
    snprintf(x->front, sizeof(x->front), "device/%s/%u", kind, devid);
    CHECK(xenbus_front_read(x, "backend", x->back, sizeof(x->back)) > 0,
          "%s: no backend node", x->front);
    CHECK(xenbus_front_read(x, "backend-id", value, sizeof(value)) > 0,
          "%s: no backend-id node", x->front);
    x->backend_id = (domid_t)parse_ulong(value);
}

unsigned long xenbus_back_ulong(struct xenbus_front *x, const char *key, unsigned long def)
{
    char path[192], value[32];

    snprintf(path, sizeof(path), "%s/%s", x->back, key);
    if (xs_read(path, value, sizeof(value)) <= 0)
        return def;
    return parse_ulong(value);
}

int xenbus_front_read(struct xenbus_front *x, const char *key, char *buf, size_t len)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", x->front, key);
    return xs_read(path, buf, len);
}

void xenbus_front_write(struct xenbus_front *x, xs_tx_t tx, const char *key, const char *value)
{
    char path[128];
    int rc;

    snprintf(path, sizeof(path), "%s/%s", x->front, key);
    rc = xs_write_tx(tx, path, value);
    CHECK(rc >= 0, "%s: write %s: %s", x->front, key, xs_errname(rc));
}

void xenbus_front_write_ulong(struct xenbus_front *x, xs_tx_t tx, const char *key,
                              unsigned long value)
{
    char text[24];

    snprintf(text, sizeof(text), "%lu", value);
    xenbus_front_write(x, tx, key, text);
}

void xenbus_switch_state(struct xenbus_front *x, XenbusState state)
{
    xenbus_front_write_ulong(x, XS_TX_NONE, "state", (unsigned long)state);
}

void xenbus_wait_backend(struct xenbus_front *x, XenbusState want)
{
    char path[192], ev[192], token[32];
    unsigned long state;

    snprintf(path, sizeof(path), "%s/state", x->back);
    snprintf(token, sizeof(token), "%s%u", x->kind, x->devid);
    CHECK(xs_watch(path, token) == 0, "watch %s: %s", path, xs_last_error());
    for (;;) {
        state = xenbus_back_ulong(x, "state", XenbusStateUnknown);
        if (state == want)
            break;
        CHECK(state != XenbusStateClosing || want >= XenbusStateClosing,
              "%s: backend is Closing (error: see dom0's log)", x->front);
        CHECK(xs_read_watch(ev, sizeof(ev), token, sizeof(token), 30 * SEC) == 0,
              "%s: backend state still %lu, waiting for %d", x->front, state, want);
    }
    xs_unwatch(path, token);
    while (xs_watch_pending())          /* what came for it in the meantime */
        xs_read_watch(ev, sizeof(ev), token, sizeof(token), 0);
}
