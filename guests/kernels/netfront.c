/*
 * netfront: two guests on dom0's bridge, through PV netfront and netback.
 *
 *   role=1  the pinger, 10.0.0.1: ARP request for 10.0.0.2 (repeated until the
 *           reply comes), then count=N ICMP echo requests (window=W of them in
 *           flight, size=S payload bytes); every reply's addresses, id, sequence,
 *           checksums and payload are checked, and counted
 *   role=2  the responder, 10.0.0.2: answers ARP requests for its address and echo
 *           requests (checked the same way) until it has answered count=N of them
 * Both end with PASS and power off.  bench=1 (role 1) reports frames per second
 * across the bridge (requests and replies) over the echo phase.
 * hostile=1 (role 1) first puts requests on its rings that netback must refuse: tx
 * with a forged grant, a grant for another domain, a ref past the table, a fragment
 * past its page, a runt, an over-MTU frame, a chain over XEN_NETIF_NR_SLOTS_MIN
 * slots and a cut chain; and an rx buffer with a forged grant. Then the pings must work.
 * split=1 asks for split event channels.
 */
#include "netfront.h"
#include "gnttab.h"

#define SEC             (1000ULL * 1000 * 1000)
#define ETH_HLEN        14
#define ETH_P_IP        0x0800
#define ETH_P_ARP       0x0806
#define IP_HLEN         20
#define ICMP_HLEN       8
#define ICMP_ECHOREPLY  0
#define ICMP_ECHO       8
#define ECHO_ID         0x4856          /* "HV" */
#define MAX_PAYLOAD     1400

static struct netfront nf;
static unsigned long role, count = 16, window = 1, size = 56, bench, hostile, split;
static uint8_t my_ip[4] = { 10, 0, 0, 0 }, peer_ip[4] = { 10, 0, 0, 0 };
static uint8_t peer_mac[ETH_ALEN];
static int have_peer;
static unsigned long replies, answered, arp_replies, arp_answered;
static const uint8_t broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* The Internet checksum (RFC 1071) of len bytes. */
static uint16_t csum(const uint8_t *p, unsigned int len)
{
    uint32_t sum = 0;

    for (unsigned int i = 0; i + 1 < len; i += 2)
        sum += get16(p + i);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint8_t pattern(unsigned int seq, unsigned int i)
{
    return (uint8_t)(seq * 31 + i * 7 + 1);
}

static unsigned int eth_header(uint8_t *f, const uint8_t *dst, uint16_t type)
{
    memcpy(f, dst, ETH_ALEN);
    memcpy(f + ETH_ALEN, nf.mac, ETH_ALEN);
    put16(f + 12, type);
    return ETH_HLEN;
}

/* ---- ARP ---------------------------------------------------------------------- */
static void send_arp(uint16_t op, const uint8_t *dst_mac, const uint8_t *target_ip)
{
    uint8_t f[60] = { 0 };
    uint8_t *a = f + eth_header(f, dst_mac, ETH_P_ARP);

    put16(a, 1);                        /* Ethernet */
    put16(a + 2, ETH_P_IP);
    a[4] = ETH_ALEN;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, nf.mac, ETH_ALEN);
    memcpy(a + 14, my_ip, 4);
    memcpy(a + 18, op == 2 ? dst_mac : (const uint8_t[ETH_ALEN]){ 0 }, ETH_ALEN);
    memcpy(a + 24, target_ip, 4);
    netfront_send(&nf, f, sizeof(f));   /* padded to Ethernet's minimum */
}

static void on_arp(const uint8_t *f, unsigned int len)
{
    const uint8_t *a = f + ETH_HLEN;

    CHECK(len >= ETH_HLEN + 28 && get16(a) == 1 && get16(a + 2) == ETH_P_IP &&
          a[4] == ETH_ALEN && a[5] == 4, "netfront: malformed ARP frame (%u bytes)", len);
    if (memcmp(a + 24, my_ip, 4))
        return;                         /* not for us */
    if (get16(a + 6) == 1) {
        send_arp(2, a + 8, a + 14);
        arp_answered++;
    } else if (get16(a + 6) == 2 && !memcmp(a + 14, peer_ip, 4)) {
        CHECK(!memcmp(f, nf.mac, ETH_ALEN), "netfront: ARP reply not to our MAC");
        memcpy(peer_mac, a + 8, ETH_ALEN);
        have_peer = 1;
        arp_replies++;
    }
}

/* ---- ICMP echo ----------------------------------------------------------------- */
static void send_echo(uint8_t type, const uint8_t *dst_mac, const uint8_t *dst_ip,
                      uint16_t seq, unsigned int payload)
{
    static uint8_t f[ETH_HLEN + IP_HLEN + ICMP_HLEN + MAX_PAYLOAD];
    uint8_t *ip = f + eth_header(f, dst_mac, ETH_P_IP), *icmp = ip + IP_HLEN;
    unsigned int total = IP_HLEN + ICMP_HLEN + payload;

    memset(ip, 0, IP_HLEN);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)total);
    put16(ip + 4, seq);
    put16(ip + 6, 0x4000);              /* don't fragment */
    ip[8] = 64;
    ip[9] = 1;                          /* ICMP */
    memcpy(ip + 12, my_ip, 4);
    memcpy(ip + 16, dst_ip, 4);
    put16(ip + 10, csum(ip, IP_HLEN));
    icmp[0] = type;
    icmp[1] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 4, ECHO_ID);
    put16(icmp + 6, seq);
    for (unsigned int i = 0; i < payload; i++)
        icmp[ICMP_HLEN + i] = pattern(seq, i);
    put16(icmp + 2, csum(icmp, ICMP_HLEN + payload));
    netfront_send(&nf, f, ETH_HLEN + total);
}

static void on_ip(const uint8_t *f, unsigned int len)
{
    const uint8_t *ip = f + ETH_HLEN, *icmp = ip + IP_HLEN;
    unsigned int total, payload;
    uint16_t seq;

    CHECK(len >= ETH_HLEN + IP_HLEN + ICMP_HLEN && ip[0] == 0x45 && ip[9] == 1,
          "netfront: unexpected IP frame (%u bytes)", len);
    total = get16(ip + 2);
    CHECK(total + ETH_HLEN <= len && csum(ip, IP_HLEN) == 0, "netfront: bad IP header");
    CHECK(!memcmp(ip + 16, my_ip, 4), "netfront: IP frame not for us");
    payload = total - IP_HLEN - ICMP_HLEN;
    CHECK(csum(icmp, total - IP_HLEN) == 0, "netfront: bad ICMP checksum");
    CHECK(get16(icmp + 4) == ECHO_ID, "netfront: echo id %#x", get16(icmp + 4));
    seq = get16(icmp + 6);
    for (unsigned int i = 0; i < payload; i++)
        CHECK(icmp[ICMP_HLEN + i] == pattern(seq, i),
              "netfront: echo %u payload byte %u is %#x", seq, i, icmp[ICMP_HLEN + i]);
    if (icmp[0] == ICMP_ECHO) {
        send_echo(ICMP_ECHOREPLY, f + ETH_ALEN, ip + 12, seq, payload);
        answered++;
    } else {
        CHECK(icmp[0] == ICMP_ECHOREPLY, "netfront: ICMP type %u", icmp[0]);
        CHECK(seq == replies + 1, "netfront: echo reply %u, expected %lu", seq, replies + 1);
        CHECK(payload == size, "netfront: echo reply of %u bytes", payload);
        replies++;
    }
}

static void on_frame(struct netfront *n, const uint8_t *f, unsigned int len)
{
    CHECK(len >= ETH_HLEN, "netfront: %u-byte frame", len);
    if (memcmp(f, n->mac, ETH_ALEN) && memcmp(f, broadcast, ETH_ALEN))
        return;                         /* flooded, for someone else */
    if (get16(f + 12) == ETH_P_ARP)
        on_arp(f, len);
    else if (get16(f + 12) == ETH_P_IP)
        on_ip(f, len);
}

/* ---- the pinger ------------------------------------------------------------------ */
static void resolve_peer(void)
{
    uint64_t give_up = system_time_ns() + 30 * SEC;

    while (!have_peer) {
        CHECK(system_time_ns() < give_up, "netfront: no ARP reply from 10.0.0.%u in 30 s",
              peer_ip[3]);
        send_arp(1, broadcast, peer_ip);
        for (uint64_t until = system_time_ns() + SEC / 10;
             !have_peer && system_time_ns() < until;)
            netfront_poll(&nf, SEC / 10);
    }
    printk("netfront: ARP: 10.0.0.%u is at %02x:%02x:%02x:%02x:%02x:%02x\n", peer_ip[3],
           peer_mac[0], peer_mac[1], peer_mac[2], peer_mac[3], peer_mac[4], peer_mac[5]);
}

static void ping(void)
{
    unsigned long sent = 0;
    uint64_t start = system_time_ns(), elapsed;

    while (replies < count) {
        while (sent < count && sent - replies < window)
            send_echo(ICMP_ECHO, peer_mac, peer_ip, (uint16_t)++sent, (unsigned int)size);
        CHECK(netfront_poll(&nf, 30 * SEC), "netfront: no echo reply %lu in 30 s",
              replies + 1);
    }
    elapsed = system_time_ns() - start;
    printk("netfront: %lu echo replies OK (%lu payload bytes, window %lu)\n",
           replies, size, window);
    if (bench)
        printk("netfront: bench: %lu frames in %llu us: %llu frames/s\n", 2 * count,
               (unsigned long long)(elapsed / 1000),
               (unsigned long long)(2 * count * SEC / (elapsed ? elapsed : 1)));
}

/* ---- hostile requests -------------------------------------------------------------- */
static int tx_status_of(grant_ref_t gref, uint16_t offset, uint16_t flags, uint16_t len)
{
    unsigned int id = netfront_send_raw(&nf, gref, offset, flags, len);

    netfront_push(&nf);
    return netfront_wait_tx(&nf, id);
}

static void hostile_tx(void)
{
    grant_ref_t unused = 2000, foreign;
    unsigned int ids[XEN_NETIF_NR_SLOTS_MIN + 1], i;
    int st[8];

    /* a frame to send: a broadcast nobody answers */
    eth_header(nf.tx_buf[0], broadcast, 0x88b5);
    foreign = gnttab_grant_access(nf.xb.backend_id + 7, virt_to_mfn(nf.tx_buf[0]), 1);
    st[0] = tx_status_of(unused, 0, 0, 60);
    st[1] = tx_status_of(foreign, 0, 0, 60);
    st[2] = tx_status_of(0x100000, 0, 0, 60);
    st[3] = tx_status_of(nf.tx_gref[0], 4000, 0, 200);
    st[4] = tx_status_of(nf.tx_gref[0], 0, 0, 10);
    st[5] = tx_status_of(nf.tx_gref[0], 0, 0, (uint16_t)(nf.mtu + 100));
    st[6] = tx_status_of(nf.tx_gref[0], 0, NETTXF_more_data, 120);  /* nothing follows */
    for (i = 0; i <= XEN_NETIF_NR_SLOTS_MIN; i++)
        ids[i] = netfront_send_raw(&nf, nf.tx_gref[0], 0,
                                   i < XEN_NETIF_NR_SLOTS_MIN ? NETTXF_more_data : 0,
                                   i ? 60 : (uint16_t)(60 * (XEN_NETIF_NR_SLOTS_MIN + 1)));
    netfront_push(&nf);
    st[7] = NETIF_RSP_ERROR;
    for (i = 0; i <= XEN_NETIF_NR_SLOTS_MIN; i++)
        if (netfront_wait_tx(&nf, ids[i]) != NETIF_RSP_ERROR)
            st[7] = nf.tx_status[ids[i]];
    printk("netfront: refused: unused ref %d, foreign ref %d, ref past table %d, "
           "past page end %d, runt %d, over MTU %d, cut chain %d, %u-slot chain %d\n",
           st[0], st[1], st[2], st[3], st[4], st[5], st[6], XEN_NETIF_NR_SLOTS_MIN + 1, st[7]);
    for (i = 0; i < 8; i++)
        CHECK(st[i] == (i == 5 ? NETIF_RSP_DROPPED : NETIF_RSP_ERROR),
              "netfront: hostile tx %u got status %d", i, st[i]);
    CHECK(gnttab_end_access(foreign) == 0, "netfront: the foreign grant is still mapped");
    CHECK(tx_status_of(nf.tx_gref[0], 0, 0, 60) == NETIF_RSP_OKAY,
          "netfront: a good frame after the bad ones was refused");
}

/* ---- main ------------------------------------------------------------------------- */
static void netfront_main(void)
{
    unsigned int devids[4];

    cmdline_get_ulong("role", &role);
    cmdline_get_ulong("count", &count);
    cmdline_get_ulong("window", &window);
    cmdline_get_ulong("size", &size);
    cmdline_get_ulong("bench", &bench);
    cmdline_get_ulong("hostile", &hostile);
    cmdline_get_ulong("split", &split);
    CHECK(role == 1 || role == 2, "netfront: role=1 (pinger) or role=2 (responder)");
    CHECK(window >= 1 && window <= NETFRONT_TX_BUFS / 2 && size <= MAX_PAYLOAD,
          "netfront: window 1..%u, size up to %u", NETFRONT_TX_BUFS / 2, MAX_PAYLOAD);
    my_ip[3] = (uint8_t)role;
    peer_ip[3] = (uint8_t)(3 - role);
    CHECK(xenbus_front_list("vif", devids, 4) >= 1, "netfront: no vif in device/vif");
    netfront_connect(&nf, devids[0], (split ? NETFRONT_SPLIT : 0) |
                     (hostile ? NETFRONT_NO_RX_POST : 0), on_frame);
    printk("netfront: vif %u connected, mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u%s\n",
           devids[0], nf.mac[0], nf.mac[1], nf.mac[2], nf.mac[3], nf.mac[4], nf.mac[5],
           nf.mtu, nf.split ? ", split event channels" : "");
    if (hostile) {
        netfront_post_rx_raw(&nf, 0xffff, 2001);    /* a grant we never made */
        netfront_post_rx_all(&nf);
        hostile_tx();
    }
    if (role == 1) {
        resolve_peer();
        ping();
    } else {
        while (answered < count)
            CHECK(netfront_poll(&nf, 60 * SEC), "netfront: nothing received in 60 s "
                  "(%lu of %lu echo requests answered)", answered, count);
        printk("netfront: answered %lu ARP and %lu echo requests\n", arp_answered, answered);
    }
    while (nf.tx_inflight)
        CHECK(netfront_poll(&nf, 30 * SEC), "netfront: tx responses missing");
    if (hostile) {
        CHECK(nf.rx_errors == 1 && nf.rx_raw_status == NETIF_RSP_ERROR,
              "netfront: forged rx buffer: %lu rx errors, status %d", nf.rx_errors,
              nf.rx_raw_status);
        printk("netfront: forged rx buffer refused (%d)\n", nf.rx_raw_status);
    }
    printk("netfront: tx %lu frames (%lu refused), rx %lu frames (%lu errors)\n",
           nf.tx_frames, nf.tx_errors, nf.rx_frames, nf.rx_errors);
}

DEFINE_KERNEL("netfront", netfront_main, 0);
