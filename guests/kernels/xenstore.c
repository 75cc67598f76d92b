/*
 * xenstore: the guest side of xenstore over the ring page (lib/xenstore.c).
 * Relative paths resolve under /local/domain/<domid>/.  Reads domid and
 * name, checks XS_GET_DOMAIN_PATH, writes / reads / lists / removes nodes
 * under data/, a value larger than the ring (written and read in pieces),
 * watches (the event on registration, one per write, none after unwatch),
 * transactions (commit, abort, EAGAIN on a conflict) and permission errors.
 * Command line: "xs_timeout_ms=N", how long a reply may take (30 s);
 * "xs_mask_port=0" leaves the store port unmasked while polling it.
 */
#include "xenstore.h"

#define SEC             (1000ULL * 1000 * 1000)
#define MS              (1000ULL * 1000)
#define BIG_LEN         1500    /* > the ring, < C xenstored's 2048 node quota */

static char buf[XENSTORE_PAYLOAD_MAX + 1];
static char big[BIG_LEN];

static const char *err(int rc)
{
    return rc < 0 ? xs_errname(rc) : "OK";
}

/* Read path and expect `want`; returns 1 if it matched. */
static int expect_value(const char *path, const char *want)
{
    int rc = xs_read(path, buf, sizeof(buf));

    if (rc < 0)
        return EXPECT(0, "read %s: %s, want \"%s\"", path, err(rc), want);
    return EXPECT(!strcmp(buf, want) && (size_t)rc == strlen(want),
                  "read %s: \"%s\" (len %d), want \"%s\"", path, buf, rc, want);
}

static int expect_error(const char *what, int rc, int want)
{
    return EXPECT(rc == -want, "%s: %s (%d), want %s", what,
                  rc < 0 ? xs_errname(rc) : "success", rc, xs_errname(want));
}

/* Is `name` among the count NUL-terminated names in list? */
static int dir_has(const char *list, int count, const char *name)
{
    for (; count > 0; count--, list += strlen(list) + 1)
        if (!strcmp(list, name))
            return 1;
    return 0;
}

static void expect_watch(const char *path, const char *token, const char *why)
{
    char p[128], t[64];
    int rc = xs_read_watch(p, sizeof(p), t, sizeof(t), 10 * SEC);

    if (!EXPECT(rc == 0, "%s: no watch event (%s)", why, err(rc)))
        return;
    printk("xenstore: watch event %s token %s (%s)\n", p, t, why);
    EXPECT(!strcmp(p, path) && !strcmp(t, token),
           "%s: watch event path \"%s\" token \"%s\", want \"%s\" \"%s\"",
           why, p, t, path, token);
}

static unsigned long parse_uint(const char *s, int *ok)
{
    unsigned long v = 0;

    *ok = *s != '\0';
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            *ok = 0;
            break;
        }
        v = v * 10 + (*s - '0');
    }
    return v;
}

static void test_identity(char *home, size_t home_len)
{
    char want[64], name[128];
    unsigned long domid;
    int rc, ok;

    rc = xs_read("domid", buf, sizeof(buf));
    CHECK(rc > 0, "read domid: %s (%d)", err(rc), rc);
    domid = parse_uint(buf, &ok);
    CHECK(ok, "domid \"%s\" is not a number", buf);
    printk("xenstore: domid = %lu\n", domid);

    rc = xs_get_domain_path(domid, home, home_len);
    CHECK(rc > 0, "GET_DOMAIN_PATH %lu: %s (%d)", domid, err(rc), rc);
    printk("xenstore: GET_DOMAIN_PATH %lu = %s\n", domid, home);
    snprintf(want, sizeof(want), "/local/domain/%lu", domid);
    CHECK(!strcmp(home, want), "GET_DOMAIN_PATH %lu is \"%s\", want \"%s\"",
          domid, home, want);

    rc = xs_read("name", name, sizeof(name));
    CHECK(rc >= 0, "read name: %s", err(rc));
    printk("xenstore: name = %s\n", name);
    snprintf(want, sizeof(want), "%s/name", home);
    expect_value(want, name);
    snprintf(want, sizeof(want), "%s/domid", home);
    snprintf(name, sizeof(name), "%lu", domid);
    expect_value(want, name);
}

static void test_nodes(const char *home)
{
    char abs[96];
    int rc, n;

    rc = xs_write("data/greeting", "hello");
    CHECK(rc == 0, "write data/greeting: %s", err(rc));
    printk("xenstore: wrote data/greeting = hello\n");
    if (expect_value("data/greeting", "hello"))
        printk("xenstore: read back data/greeting = hello\n");
    snprintf(abs, sizeof(abs), "%s/data/greeting", home);
    expect_value(abs, "hello");

    rc = xs_mkdir("data/dir");
    EXPECT(rc == 0, "mkdir data/dir: %s", err(rc));
    expect_value("data/dir", "");

    n = xs_directory("data", buf, sizeof(buf));
    CHECK(n >= 0, "directory data: %s", err(n));
    printk("xenstore: directory data: %d entries\n", n);
    EXPECT(dir_has(buf, n, "greeting"), "directory data lacks greeting");
    EXPECT(dir_has(buf, n, "dir"), "directory data lacks dir");

    rc = xs_rm("data/greeting");
    EXPECT(rc == 0, "rm data/greeting: %s", err(rc));
    rc = xs_read("data/greeting", buf, sizeof(buf));
    if (expect_error("read data/greeting after rm", rc, XS_ENOENT))
        printk("xenstore: removed data/greeting, read gives %s\n", err(rc));
    n = xs_directory("data", buf, sizeof(buf));
    EXPECT(n >= 0 && !dir_has(buf, n, "greeting"),
           "directory data after rm: %s, greeting %s", err(n),
           n >= 0 && dir_has(buf, n, "greeting") ? "still there" : "gone");
    rc = xs_rm("data/dir");
    EXPECT(rc == 0, "rm data/dir: %s", err(rc));
    rc = xs_directory("data/nonexistent", buf, sizeof(buf));
    expect_error("directory data/nonexistent", rc, XS_ENOENT);
}

/* A value larger than the ring: the request and the reply go in pieces. */
static void test_big(void)
{
    unsigned int i;
    int rc;

    for (i = 0; i < BIG_LEN; i++)
        big[i] = 'a' + (i * 7 + i / 26) % 26;
    rc = xs_write_bytes_tx(XS_TX_NONE, "data/big", big, BIG_LEN);
    CHECK(rc == 0, "write data/big (%u bytes): %s", BIG_LEN, err(rc));
    rc = xs_read("data/big", buf, sizeof(buf));
    EXPECT(rc == BIG_LEN && !memcmp(buf, big, BIG_LEN),
           "read data/big: %s, %d bytes, %s", err(rc), rc,
           rc == BIG_LEN ? "contents differ" : "wrong length");
    printk("xenstore: %u-byte value written and read back\n", BIG_LEN);
    rc = xs_rm("data/big");
    EXPECT(rc == 0, "rm data/big: %s", err(rc));
}

static void test_watches(void)
{
    char p[128], t[64];
    int rc;

    rc = xs_watch("data/flag", "flagtok");
    CHECK(rc == 0, "watch data/flag: %s", err(rc));
    printk("xenstore: watching data/flag (token flagtok)\n");
    expect_watch("data/flag", "flagtok", "on registration");

    rc = xs_write("data/flag", "1");
    EXPECT(rc == 0, "write data/flag: %s", err(rc));
    /*
     * The store fires the watch while handling the write, so the event is
     * in the ring before the reply to the next request: it gets queued.
     */
    rc = xs_read("data/flag", buf, sizeof(buf));
    EXPECT(rc == 1, "read data/flag: %s", err(rc));
    EXPECT(xs_watch_pending() == 1, "%u watch events queued after a write "
           "and a read, want 1", xs_watch_pending());
    expect_watch("data/flag", "flagtok", "after write");

    /* A watch fires for changes below its path too. */
    rc = xs_write("data/flag/sub", "x");
    EXPECT(rc == 0, "write data/flag/sub: %s", err(rc));
    expect_watch("data/flag/sub", "flagtok", "after write below");

    rc = xs_unwatch("data/flag", "flagtok");
    EXPECT(rc == 0, "unwatch data/flag: %s", err(rc));
    rc = xs_write("data/flag", "2");
    EXPECT(rc == 0, "write data/flag: %s", err(rc));
    rc = xs_read_watch(p, sizeof(p), t, sizeof(t), 300 * MS);
    EXPECT(rc == -XS_ETIMEDOUT, "event after unwatch: %s token %s",
           rc ? err(rc) : p, rc ? "-" : t);
    rc = xs_unwatch("data/flag", "flagtok");
    expect_error("second unwatch data/flag", rc, XS_ENOENT);
    rc = xs_rm("data/flag");
    EXPECT(rc == 0, "rm data/flag: %s", err(rc));
    printk("xenstore: watches done\n");
}

static void test_transactions(void)
{
    int64_t tx, tx2;
    int rc;

    tx = xs_transaction_start();
    CHECK(tx > 0, "transaction_start: %s", err((int)tx));
    printk("xenstore: transaction %lu started\n", (unsigned long)tx);
    rc = xs_write_tx(tx, "data/tx", "1");
    EXPECT(rc == 0, "write data/tx in transaction: %s", err(rc));
    rc = xs_read_tx(tx, "data/tx", buf, sizeof(buf));
    EXPECT(rc == 1 && !strcmp(buf, "1"),
           "read data/tx in transaction: %s \"%s\"", err(rc),
           rc >= 0 ? buf : "");
    rc = xs_read("data/tx", buf, sizeof(buf));
    expect_error("read data/tx outside the open transaction", rc, XS_ENOENT);
    rc = xs_transaction_end(tx, 1);
    EXPECT(rc == 0, "transaction_end commit: %s", err(rc));
    if (expect_value("data/tx", "1"))
        printk("xenstore: transaction committed, data/tx = 1\n");

    /* Abort: nothing applied. */
    tx = xs_transaction_start();
    CHECK(tx > 0, "transaction_start: %s", err((int)tx));
    rc = xs_write_tx(tx, "data/tx", "aborted");
    EXPECT(rc == 0, "write data/tx in transaction: %s", err(rc));
    rc = xs_transaction_end(tx, 0);
    EXPECT(rc == 0, "transaction_end abort: %s", err(rc));
    expect_value("data/tx", "1");
    rc = xs_transaction_end(tx, 0);
    expect_error("ending an ended transaction", rc, XS_ENOENT);

    /* Conflict: the node read in the transaction changes outside it. */
    tx = xs_transaction_start();
    CHECK(tx > 0, "transaction_start: %s", err((int)tx));
    tx2 = xs_transaction_start();
    CHECK(tx2 > 0 && tx2 != tx, "second transaction_start: %s (id %ld)",
          err((int)tx2), (long)tx2);
    rc = xs_read_tx(tx, "data/tx", buf, sizeof(buf));
    EXPECT(rc == 1, "read data/tx in transaction: %s", err(rc));
    rc = xs_write_tx(tx, "data/tx2", "lost");
    EXPECT(rc == 0, "write data/tx2 in transaction: %s", err(rc));
    rc = xs_write("data/tx", "2");
    EXPECT(rc == 0, "write data/tx: %s", err(rc));
    rc = xs_transaction_end(tx, 1);
    if (expect_error("commit after a conflicting write", rc, XS_EAGAIN))
        printk("xenstore: conflicting commit gives EAGAIN\n");
    rc = xs_read("data/tx2", buf, sizeof(buf));
    expect_error("read data/tx2 of the failed transaction", rc, XS_ENOENT);
    rc = xs_transaction_end(tx2, 1);
    EXPECT(rc == 0, "commit of an untouched transaction: %s", err(rc));

    rc = xs_read_tx(0x7fffffff, "data/tx", buf, sizeof(buf));
    expect_error("read in an unknown transaction", rc, XS_ENOENT);
    rc = xs_rm("data/tx");
    EXPECT(rc == 0, "rm data/tx: %s", err(rc));
}

static void test_permissions(void)
{
    int rc;

    rc = xs_read("/local/domain/0/name", buf, sizeof(buf));
    if (rc == -XS_ENOENT)
        printk("xenstore: read /local/domain/0/name: the store returned %s "
               "(\"%s\"), not EACCES\n", err(rc), xs_last_error());
    else if (expect_error("read /local/domain/0/name", rc, XS_EACCES))
        printk("xenstore: read /local/domain/0/name: %s\n", err(rc));

    /* Our own name is readable but not writable (n0 r<domid>, as xl). */
    rc = xs_write("name", "renamed");
    if (expect_error("write name", rc, XS_EACCES))
        printk("xenstore: write name: %s\n", err(rc));
    rc = xs_write("/local/domain/0/data/x", "1");
    expect_error("write /local/domain/0/data/x", rc, XS_EACCES);
    rc = xs_read("/tool/xenstored", buf, sizeof(buf));
    if (expect_error("read /tool/xenstored", rc, XS_EACCES))
        printk("xenstore: read /tool/xenstored: %s\n", err(rc));
}

static void xenstore_main(void)
{
    struct xenstore_domain_interface *intf;
    char home[64];
    unsigned long ms;
    int rc;

    if (!cmdline_get_ulong("xs_timeout_ms", &ms))
        xs_timeout_ns = ms * MS;
    if (!cmdline_get_ulong("xs_mask_port", &ms))
        xs_mask_port = ms != 0;
    rc = xs_init();
    CHECK(rc == 0, "no xenstore ring in start_info (%s)", err(rc));
    printk("xenstore: ring at mfn %lx, event channel %u\n",
           (unsigned long)start_info->store_mfn, start_info->store_evtchn);

    test_identity(home, sizeof(home));
    test_nodes(home);
    test_big();
    test_watches();
    test_transactions();
    test_permissions();
    CHECK(xs_watch_pending() == 0, "%u unexpected watch events queued",
          xs_watch_pending());
    intf = mfn_to_virt(start_info->store_mfn);
    printk("xenstore: ring indexes req %u/%u rsp %u/%u (cons/prod)\n",
           intf->req_cons, intf->req_prod, intf->rsp_cons, intf->rsp_prod);
    EXPECT(intf->req_prod > XENSTORE_RING_SIZE &&
           intf->rsp_prod > XENSTORE_RING_SIZE,
           "the rings never wrapped around");
}

DEFINE_KERNEL("xenstore", xenstore_main, 0);
