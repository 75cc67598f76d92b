/*
 * pvh: a PVH test kernel (32- or 64-bit) that uses Xen's interfaces from inside an HVM
 * container, one step at a time, each reported on port 0xE9:
 *   the start info (magic, command line, memory map); Xen's CPUID leaves and the
 *   hypercall page through the MSR; console_io; a line on the PV console ring;
 *   shared_info added to the physical map and an event channel (an IPI to ourselves)
 *   delivered as the callback vector through our IDT; a xenstore read; a blkfront
 *   read of sector 0 through a grant (when the domain has a disk).
 * With "echo" on its command line it then echoes each line of PV console input
 * ("pvh echo: LINE", on the ring) until "quit", asleep in hlt between events: a guest
 * that waits on Xen's events for as long as a test wants (snapshots are taken there).
 * It powers off with SCHEDOP_shutdown; a failed step crashes it (exit 1).
 */
#include <stdint.h>
#include <stddef.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/event_channel.h>
#include <xen/memory.h>
#include <xen/grant_table.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/io/console.h>
#include <xen/io/xs_wire.h>

#define xen_mb()  __sync_synchronize()
#define xen_rmb() __sync_synchronize()
#define xen_wmb() __sync_synchronize()
void *memset(void *d, int c, size_t n);
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#define PAGE 4096
#define VECTOR 0xF3
#define SEC 1000000000ULL

static char hypercall_page[PAGE] __attribute__((aligned(PAGE)));
static char ring_page[PAGE] __attribute__((aligned(PAGE)));
static char data_page[PAGE] __attribute__((aligned(PAGE)));
static struct hvm_start_info *si;          /* PVH */
static const uint32_t *mbi;                 /* Multiboot: its information */
#define MULTIBOOT_LOADER_MAGIC 0x2BADB002u
static shared_info_t *shared;
static grant_entry_v1_t *grants;
static volatile unsigned int upcalls, last_port;

void *memset(void *d, int c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((char *)d)[i] = c;
    return d;
}

static size_t len(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
static int same(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) if (a[i] != b[i]) return 0;
    return 1;
}

/* ---- port 0xE9 ---------------------------------------------------------------------- */
static void putc_e9(char c) { __asm__ volatile("outb %0, $0xE9" :: "a"(c)); }
static void puts_e9(const char *s) { while (*s) putc_e9(*s++); }
static void putx(unsigned long v)
{
    char b[19]; int i = 18; b[i] = 0;
    do { b[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    b[--i] = 'x'; b[--i] = '0';
    puts_e9(b + i);
}
static void putd(unsigned long v)
{
    char b[21]; int i = 20; b[i] = 0;
    do { b[--i] = '0' + v % 10; v /= 10; } while (v);
    puts_e9(b + i);
}

/* ---- hypercalls through the page the MSR filled --------------------------------------- */
static long hcall(unsigned int nr, unsigned long a1, unsigned long a2, unsigned long a3)
{
    unsigned long fn = (unsigned long)(hypercall_page + nr * 32);
#ifdef __x86_64__
    __asm__ volatile("call *%%rax" : "+a"(fn), "+D"(a1), "+S"(a2), "+d"(a3)
                     :: "rcx", "r8", "r9", "r10", "r11", "memory");
#else
    __asm__ volatile("call *%%eax" : "+a"(fn), "+b"(a1), "+c"(a2), "+d"(a3)
                     :: "esi", "edi", "memory");
#endif
    return (long)fn;
}

static void shutdown(unsigned int reason)
{
    struct sched_shutdown s = { .reason = reason };
    hcall(__HYPERVISOR_sched_op, SCHEDOP_shutdown, (unsigned long)&s, 0);
    for (;;) __asm__ volatile("hlt");
}

static void fail(const char *what, long rc)
{
    puts_e9("FAIL: "); puts_e9(what); puts_e9(" "); putx(rc); puts_e9("\n");
    shutdown(SHUTDOWN_crash);
}
#define CHECK(cond, what, rc) do { if (!(cond)) fail(what, (long)(rc)); } while (0)

static uint64_t now_ns(void)
{
    struct xen_hvm_get_time t;
    hcall(__HYPERVISOR_hvm_op, HVMOP_get_time, (unsigned long)&t, 0);
    return t.now;
}

static uint64_t param(unsigned int index)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
    long rc = hcall(__HYPERVISOR_hvm_op, HVMOP_get_param, (unsigned long)&p, 0);
    CHECK(rc == 0, "get_param", rc);
    return p.value;
}

static void notify(evtchn_port_t port)
{
    struct evtchn_send s = { .port = port };
    hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_send, (unsigned long)&s, 0);
}

static void yield(void) { hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0); }

/* ---- Xen's CPUID leaves and the hypercall page ----------------------------------------- */
static void setup_hypercalls(void)
{
    uint32_t base, a, b, c, d, sig[3];
    for (base = 0x40000000; base < 0x40010000; base += 0x100) {
        __asm__ volatile("cpuid" : "=a"(a), "=b"(sig[0]), "=c"(sig[1]), "=d"(sig[2]) : "a"(base));
        if (same((char *)sig, "XenVMMXenVMM", 12) && a - base >= 2)
            break;
    }
    CHECK(base < 0x40010000, "no Xen CPUID leaves", base);
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(base + 1));
    puts_e9("cpuid: XenVMMXenVMM at "); putx(base); puts_e9(", version ");
    putd(a >> 16); putc_e9('.'); putd(a & 0xFFFF);
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(base + 2));
    puts_e9(", "); putd(a); puts_e9(" hypercall page(s) at MSR "); putx(b); puts_e9("\n");
    __asm__ volatile("wrmsr" :: "c"(b), "a"((uint32_t)(unsigned long)hypercall_page), "d"(0)
                     : "memory");
    CHECK(hypercall_page[0] == (char)0xB8, "hypercall page not filled", hypercall_page[0]);
}

/* ---- the PV console ring --------------------------------------------------------------- */
static void console_ring(const char *s)
{
    struct xencons_interface *cons = (void *)(unsigned long)(param(HVM_PARAM_CONSOLE_PFN) << 12);
    evtchn_port_t port = param(HVM_PARAM_CONSOLE_EVTCHN);
    XENCONS_RING_IDX prod = cons->out_prod;
    for (; *s; s++) {
        while (prod - cons->out_cons >= sizeof(cons->out))
            yield();
        cons->out[MASK_XENCONS_IDX(prod++, cons->out)] = *s;
    }
    xen_wmb();
    cons->out_prod = prod;
    notify(port);
}

/* ---- events through the IDT ------------------------------------------------------------ */
struct gate { uint16_t lo, sel; uint8_t ist, type; uint16_t mid;
#ifdef __x86_64__
              uint32_t hi, zero;
#endif
} __attribute__((packed));
static struct gate idt[256] __attribute__((aligned(16)));
void evtchn_entry(void);

#ifdef __x86_64__
__asm__(".globl evtchn_entry\nevtchn_entry:\n"
        "push %rax; push %rcx; push %rdx; push %rsi; push %rdi\n"
        "push %r8; push %r9; push %r10; push %r11\n"
        "cld; call evtchn_upcall\n"
        "pop %r11; pop %r10; pop %r9; pop %r8\n"
        "pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax; iretq\n");
#else
__asm__(".globl evtchn_entry\nevtchn_entry:\n pushal; cld; call evtchn_upcall; popal; iret\n");
#endif

void evtchn_upcall(void)
{
    vcpu_info_t *vi = &shared->vcpu_info[0];
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    vi->evtchn_upcall_pending = 0;
    xen_ulong_t sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (sel) {
        unsigned int w = __builtin_ctzl(sel);
        sel &= sel - 1;
        xen_ulong_t pending = shared->evtchn_pending[w] & ~shared->evtchn_mask[w];
        while (pending) {
            unsigned int b = __builtin_ctzl(pending);
            pending &= pending - 1;
            __atomic_and_fetch(&shared->evtchn_pending[w], ~((xen_ulong_t)1 << b), __ATOMIC_SEQ_CST);
            last_port = w * bits + b;
            upcalls++;
        }
    }
}

static void setup_idt(void)
{
    unsigned long h = (unsigned long)evtchn_entry;
    struct gate *g = &idt[VECTOR];
    g->lo = h & 0xFFFF; g->mid = (h >> 16) & 0xFFFF;
    g->type = 0x8E;
#ifdef __x86_64__
    g->sel = 0x18; g->hi = h >> 32;
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d = { sizeof(idt) - 1, (unsigned long)idt };
#else
    g->sel = 0x08;
    struct { uint16_t limit; uint32_t base; } __attribute__((packed)) d = { sizeof(idt) - 1, (unsigned long)idt };
#endif
    __asm__ volatile("lidt %0" :: "m"(d));
}

static unsigned long first_hole(void)
{
    if (mbi)                        /* mem_upper: KiB above 1 MiB up to the first hole */
        return 0x100000UL + (unsigned long)mbi[2] * 1024;
    struct hvm_memmap_table_entry *m = (void *)(unsigned long)si->memmap_paddr;
    unsigned long end = 0;
    for (unsigned int i = 0; i < si->memmap_entries; i++)
        if (m[i].addr <= end && m[i].addr + m[i].size > end)
            end = m[i].addr + m[i].size;
    return end;
}

static void add_to_physmap(unsigned int space, unsigned long gpfn)
{
    struct xen_add_to_physmap x = { .domid = DOMID_SELF, .space = space, .idx = 0, .gpfn = gpfn };
    long rc = hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&x, 0);
    CHECK(rc == 0, "add_to_physmap", rc);
}

static void events(void)
{
    unsigned long hole = first_hole();
    add_to_physmap(XENMAPSPACE_shared_info, hole >> 12);
    shared = (void *)hole;
    setup_idt();
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = HVM_PARAM_CALLBACK_IRQ,
        .value = ((uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | VECTOR };
    long rc = hcall(__HYPERVISOR_hvm_op, HVMOP_set_param, (unsigned long)&p, 0);
    CHECK(rc == 0, "set_param CALLBACK_IRQ", rc);
    struct evtchn_bind_ipi ipi = { .vcpu = 0 };
    rc = hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, (unsigned long)&ipi, 0);
    CHECK(rc == 0, "bind_ipi", rc);
    __asm__ volatile("sti");
    notify(ipi.port);
    for (int i = 0; i < 1000 && !upcalls; i++)
        yield();
    CHECK(upcalls == 1 && last_port == ipi.port, "no upcall", upcalls);
    puts_e9("event: port "); putd(ipi.port); puts_e9(" delivered through vector ");
    putx(VECTOR); puts_e9("\n");
}

/* ---- xenstore ------------------------------------------------------------------------- */
static struct xenstore_domain_interface *xs;
static evtchn_port_t xs_port;
static uint32_t xs_req_id;

static void xs_put(const void *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (xs->req_prod - xs->req_cons >= XENSTORE_RING_SIZE)
            yield();
        xs->req[MASK_XENSTORE_IDX(xs->req_prod)] = ((const char *)data)[i];
        xen_wmb();
        xs->req_prod++;
    }
}

static void xs_get(void *data, size_t n)
{
    uint64_t deadline = now_ns() + 5 * SEC;
    for (size_t i = 0; i < n; i++) {
        while (xs->rsp_prod == xs->rsp_cons) {
            CHECK(now_ns() < deadline, "xenstore: no answer", 0);
            yield();
        }
        xen_rmb();
        ((char *)data)[i] = xs->rsp[MASK_XENSTORE_IDX(xs->rsp_cons)];
        xs->rsp_cons++;
    }
}

/* One request: the path and an optional value; the answer's body in out (NUL added). */
static int xs_call(enum xsd_sockmsg_type type, const char *path, const char *value,
                   char *out, size_t max)
{
    struct xsd_sockmsg m = { .type = type, .req_id = ++xs_req_id, .tx_id = 0 };
    size_t plen = len(path) + 1, vlen = value ? len(value) : 0;
    m.len = plen + vlen;
    xs_put(&m, sizeof(m));
    xs_put(path, plen);
    if (value)
        xs_put(value, vlen);
    notify(xs_port);
    xs_get(&m, sizeof(m));
    char sink[XENSTORE_PAYLOAD_MAX];
    char *body = out ? out : sink;
    CHECK(m.len < (out ? max : sizeof(sink)), "xenstore: answer too long", m.len);
    xs_get(body, m.len);
    body[m.len] = 0;
    return m.type == XS_ERROR ? -1 : (int)m.len;
}

static void xenstore(void)
{
    char name[64];
    xs = (void *)(unsigned long)(param(HVM_PARAM_STORE_PFN) << 12);
    xs_port = param(HVM_PARAM_STORE_EVTCHN);
    CHECK(xs_call(XS_READ, "name", 0, name, sizeof(name)) > 0, "xenstore read name", 0);
    puts_e9("xenstore: name = "); puts_e9(name); puts_e9("\n");
}

/* ---- echo: console input through its event ------------------------------------------- */
static const char *cmdline(void)
{
    if (si)
        return (const char *)(unsigned long)si->cmdline_paddr;
    return mbi && mbi[0] & 4 ? (const char *)(unsigned long)mbi[4] : "";
}

static int has(const char *s, const char *word)
{
    for (size_t n = len(word); *s; s++)
        if (len(s) >= n && same(s, word, n))
            return 1;
    return 0;
}

/* Until the upcall count moves past `seen`: cli, look, sti; hlt (no event is missed
 * between the look and the hlt: sti holds interrupts off for one more instruction). */
static void wait_upcall(unsigned int seen)
{
    for (;;) {
        __asm__ volatile("cli" ::: "memory");
        if (upcalls != seen)
            break;
        __asm__ volatile("sti; hlt" ::: "memory");
    }
    __asm__ volatile("sti" ::: "memory");
}

static void echo_console(void)
{
    struct xencons_interface *cons = (void *)(unsigned long)(param(HVM_PARAM_CONSOLE_PFN) << 12);
    char line[128];
    size_t n = 0;

    puts_e9("pvh echo: ready\n");
    for (;;) {
        unsigned int seen = upcalls;
        XENCONS_RING_IDX c = cons->in_cons, p = *(volatile XENCONS_RING_IDX *)&cons->in_prod;
        xen_rmb();
        if (c == p) {
            wait_upcall(seen);
            continue;
        }
        char ch = cons->in[MASK_XENCONS_IDX(c, cons->in)];
        xen_mb();
        cons->in_cons = c + 1;
        if (ch != '\r' && ch != '\n') {
            if (n < sizeof(line) - 1)
                line[n++] = ch;
            continue;
        }
        line[n] = 0;
        if (n == 4 && same(line, "quit", 4))
            return;
        console_ring("pvh echo: ");
        console_ring(line);
        console_ring("\n");
        n = 0;
    }
}

/* ---- blkfront ------------------------------------------------------------------------- */
DEFINE_RING_TYPES(blk, blkif_request_t, blkif_response_t);

static void grant(grant_ref_t ref, void *page)
{
    grants[ref].domid = 0;
    grants[ref].frame = (unsigned long)page >> 12;
    xen_wmb();
    grants[ref].flags = GTF_permit_access;
}

static void cat(char *d, const char *s) { d += len(d); while ((*d++ = *s++)); }

static void wait_state(const char *path, int want)
{
    char state[16];
    uint64_t deadline = now_ns() + 5 * SEC;
    for (;;) {
        if (xs_call(XS_READ, path, 0, state, sizeof(state)) > 0 && state[0] - '0' == want)
            return;
        CHECK(now_ns() < deadline, "blkfront: backend state", state[0]);
        yield();
    }
}

static void blkfront(void)
{
    char ids[256], front[64] = "device/vbd/", key[128], back[128], num[16];
    if (xs_call(XS_DIRECTORY, "device/vbd", 0, ids, sizeof(ids)) <= 0 || !ids[0]) {
        puts_e9("blkfront: no disk\n");
        return;
    }
    cat(front, ids);
    key[0] = 0; cat(key, front); cat(key, "/backend");
    CHECK(xs_call(XS_READ, key, 0, back, sizeof(back)) > 0, "blkfront: backend path", 0);
    add_to_physmap(XENMAPSPACE_grant_table, (first_hole() >> 12) + 1);
    grants = (void *)(first_hole() + PAGE);
    blk_sring_t *sring = (void *)ring_page;
    blk_front_ring_t ring;
    SHARED_RING_INIT(sring);
    FRONT_RING_INIT(&ring, sring, PAGE);
    grant(8, ring_page);
    grant(9, data_page);
    struct evtchn_alloc_unbound alloc = { .dom = DOMID_SELF, .remote_dom = 0 };
    long rc = hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, (unsigned long)&alloc, 0);
    CHECK(rc == 0, "alloc_unbound", rc);
    key[0] = 0; cat(key, front); cat(key, "/ring-ref");
    xs_call(XS_WRITE, key, "8", 0, 0);
    key[0] = 0; cat(key, front); cat(key, "/event-channel");
    num[0] = '0' + alloc.port / 10; num[1] = '0' + alloc.port % 10; num[2] = 0;
    xs_call(XS_WRITE, key, alloc.port < 10 ? num + 1 : num, 0, 0);
    key[0] = 0; cat(key, front); cat(key, "/protocol");
    xs_call(XS_WRITE, key, sizeof(long) == 8 ? XEN_IO_PROTO_ABI_X86_64 : XEN_IO_PROTO_ABI_X86_32, 0, 0);
    key[0] = 0; cat(key, front); cat(key, "/state");
    xs_call(XS_WRITE, key, "3", 0, 0);
    cat(back, "/state");
    wait_state(back, XenbusStateConnected);
    xs_call(XS_WRITE, key, "4", 0, 0);

    blkif_request_t *req = RING_GET_REQUEST(&ring, ring.req_prod_pvt);
    req->operation = BLKIF_OP_READ;
    req->nr_segments = 1;
    req->handle = 0;
    req->id = 77;
    req->sector_number = 0;
    req->seg[0].gref = 9;
    req->seg[0].first_sect = 0;
    req->seg[0].last_sect = 7;
    ring.req_prod_pvt++;
    int kick;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&ring, kick);
    notify(alloc.port);
    uint64_t deadline = now_ns() + 5 * SEC;
    while (!RING_HAS_UNCONSUMED_RESPONSES(&ring)) {
        CHECK(now_ns() < deadline, "blkfront: no response", kick);
        yield();
    }
    blkif_response_t *rsp = RING_GET_RESPONSE(&ring, ring.rsp_cons);
    CHECK(rsp->id == 77 && rsp->status == BLKIF_RSP_OKAY, "blkfront: response", rsp->status);
    ring.rsp_cons++;
    data_page[32] = 0;
    puts_e9("blkfront: sector 0 of "); puts_e9(front); puts_e9(": "); puts_e9(data_page);
    puts_e9("\n");
}

static void boot_information(unsigned long info, unsigned long magic)
{
    puts_e9("hello over port 0xE9 from a ");
    puts_e9(sizeof(long) == 8 ? "64" : "32");
    if ((uint32_t)magic == MULTIBOOT_LOADER_MAGIC) {
        mbi = (const uint32_t *)info;
        puts_e9("-bit Multiboot kernel\n");
        puts_e9("multiboot information: RAM ends at "); putx(first_hole());
        puts_e9(", cmdline: ");
        puts_e9(mbi[0] & 4 ? (char *)(unsigned long)mbi[4] : "");
        puts_e9("\n");
        return;
    }
    si = (void *)info;
    puts_e9("-bit PVH kernel\n");
    CHECK(si->magic == XEN_HVM_START_MAGIC_VALUE, "start info magic", si->magic);
    puts_e9("start info: version "); putd(si->version); puts_e9(", memmap entries ");
    putd(si->memmap_entries); puts_e9(", RAM ends at "); putx(first_hole());
    puts_e9(", cmdline: "); puts_e9((char *)(unsigned long)si->cmdline_paddr); puts_e9("\n");
}

void kmain(unsigned long info, unsigned long magic)
{
    boot_information(info, magic);
    setup_hypercalls();
    static const char io[] = "hello via console_io\n";
    hcall(__HYPERVISOR_console_io, CONSOLEIO_write, sizeof(io) - 1, (unsigned long)io);
    console_ring("hello over the PV console ring\n");
    events();
    xenstore();
    if (has(cmdline(), "echo"))
        echo_console();
    blkfront();
    puts_e9("pvh: all done\n");
    shutdown(SHUTDOWN_poweroff);
}
