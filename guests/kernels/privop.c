/*
 * privop: privileged instructions a PV kernel may execute because Xen
 * emulates them (cpuid, the forced-emulation cpuid, rdtsc, mov from/to
 * CRs, clts, wbinvd, rdmsr/wrmsr of the segment-base MSRs on 64-bit, in/out
 * with the right virtual IOPL, cli/sti as no-ops with IOPL), and the ones it
 * refuses with a #GP bounced to the guest (hlt, in/out and cli without
 * IOPL, segment-base MSRs on 32-bit).
 */
#include "guest.h"

#define MSR_FS_BASE         0xc0000100
#define MSR_GS_BASE         0xc0000101
#define MSR_SHADOW_GS_BASE  0xc0000102
#define X86_CR0_PE          0x00000001
#define X86_CR0_TS          0x00000008
#define X86_CR0_PG          0x80000000
#define X86_CR4_PAE         0x00000020

#define DECL(n) extern char p_##n##_at[], p_##n##_after[]
DECL(inb80); DECL(outb80); DECL(inw_dx); DECL(hlt); DECL(cli); DECL(sti);
DECL(clts); DECL(wbinvd);
extern unsigned int p_inb80(void), p_inw_dx(unsigned int port);
extern void p_outb80(void), p_hlt(void), p_cli(void), p_sti(void),
    p_clts(void), p_wbinvd(void);
extern uint64_t p_rdmsr(uint32_t msr);
extern void p_wrmsr(uint32_t msr, uint64_t val);
#ifndef __x86_64__
DECL(rdmsr32);
extern uint64_t p_rdmsr32(uint32_t msr);
#endif

static volatile struct {
    unsigned int count;
    unsigned long vector, ip, err;
} gp;
static unsigned long resume_ip;

static int privop_hook(struct trap_frame *f)
{
    if (f->vector >= 0x100 || !resume_ip)
        return RET_UNHANDLED;
    gp.count++;
    gp.vector = f->vector;
    gp.ip = f->ip;
    gp.err = f->error_code;
    f->ip = resume_ip;
    return RET_IRET;
}

/* Arm the #GP catcher for one instruction. */
static void arm(char *after)
{
    memset((void *)&gp, 0, sizeof(gp));
    resume_ip = (unsigned long)after;
}

static int expect_none(const char *what)
{
    resume_ip = 0;
    return EXPECT(gp.count == 0, "%s trapped: vector %lu at %lx error code %lx",
                  what, gp.vector, gp.ip, gp.err);
}

static int expect_gp(const char *what, char *at)
{
    resume_ip = 0;
    if (!EXPECT(gp.count == 1 && gp.vector == 13,
                "%s: want one #GP, got %u traps (last vector %lu)", what,
                gp.count, gp.vector) ||
        !EXPECT(gp.ip == (unsigned long)at, "%s: #GP at %lx, want %lx", what,
                gp.ip, (unsigned long)at) ||
        !EXPECT(gp.err == 0, "%s: #GP error code %lx, want 0", what, gp.err))
        return 0;
    printk("privop: %-34s -> #GP(0) bounced OK\n", what);
    return 1;
}

static void cpuid(uint32_t leaf, uint32_t r[4])
{
    asm volatile ("cpuid"
                  : "=a" (r[0]), "=b" (r[1]), "=c" (r[2]), "=d" (r[3])
                  : "0" (leaf), "2" (0));
}

/* Xen's forced-emulation prefix: ud2a; .ascii "xen"; cpuid */
static void xen_cpuid(uint32_t leaf, uint32_t r[4])
{
    asm volatile (".byte 0x0f, 0x0b; .ascii \"xen\"; cpuid"
                  : "=a" (r[0]), "=b" (r[1]), "=c" (r[2]), "=d" (r[3])
                  : "0" (leaf), "2" (0));
}

static unsigned long read_cr(int n)
{
    unsigned long v = 0;
    switch (n) {
    case 0: asm volatile ("mov %%cr0, %0" : "=r" (v)); break;
    case 2: asm volatile ("mov %%cr2, %0" : "=r" (v)); break;
    case 3: asm volatile ("mov %%cr3, %0" : "=r" (v)); break;
    case 4: asm volatile ("mov %%cr4, %0" : "=r" (v)); break;
    }
    return v;
}

static void test_cpuid(void)
{
    uint32_t r[4], base;
    char vendor[13], sig[13];
    long ver;

    cpuid(0, r);
    memcpy(vendor, &r[1], 4);
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = 0;
    printk("privop: cpuid(0): max leaf %x vendor \"%s\"\n", r[0], vendor);
    cpuid(1, r);
    printk("privop: cpuid(1): eax %x ebx %x ecx %x edx %x\n", r[0], r[1], r[2],
           r[3]);

    for (base = 0x40000000; base < 0x40010000; base += 0x100) {
        xen_cpuid(base, r);
        memcpy(sig, &r[1], 4);
        memcpy(sig + 4, &r[2], 4);
        memcpy(sig + 8, &r[3], 4);
        sig[12] = 0;
        if (!strcmp(sig, "XenVMMXenVMM"))
            break;
    }
    CHECK(base < 0x40010000, "forced-emulation cpuid: no \"XenVMMXenVMM\" "
          "leaf between 0x40000000 and 0x4000ff00");
    printk("privop: forced-emulation cpuid(%x): \"%s\", max leaf %x\n", base,
           sig, r[0]);
    CHECK(r[0] >= base + 2, "Xen max leaf %x < base + 2", r[0]);
    xen_cpuid(base + 1, r);
    ver = HYPERVISOR_xen_version(XENVER_version, NULL);
    printk("privop: cpuid(%x): version %u.%u\n", base + 1, r[0] >> 16,
           r[0] & 0xffff);
    CHECK((long)r[0] == ver, "cpuid Xen version %x != XENVER_version %lx",
          r[0], ver);
    xen_cpuid(base + 2, r);
    printk("privop: cpuid(%x): %u hypercall page(s), MSR %x\n", base + 2,
           r[0], r[1]);
    CHECK(r[0] >= 1, "cpuid(%x) reports %u hypercall pages", base + 2, r[0]);
}

static void test_crs(void)
{
    unsigned long cr0, cr2, cr3, cr4, cr3b, root = kernel_root_mfn();
    uint64_t a, b;
    long rc;

    a = rdtsc();
    b = rdtsc();
    CHECK(b > a, "rdtsc did not advance (%llx, %llx)", (unsigned long long)a,
          (unsigned long long)b);
    printk("privop: rdtsc %llx -> %llx OK\n", (unsigned long long)a,
           (unsigned long long)b);

    cr0 = read_cr(0);
    cr2 = read_cr(2);
    cr3 = read_cr(3);
    cr4 = read_cr(4);
    printk("privop: cr0 %lx cr2 %lx cr3 %lx cr4 %lx\n", cr0, cr2, cr3, cr4);
    CHECK((cr0 & (X86_CR0_PE | X86_CR0_PG)) == (X86_CR0_PE | X86_CR0_PG),
          "cr0 %lx lacks PE/PG", cr0);
    CHECK(cr4 & X86_CR4_PAE, "cr4 %lx lacks PAE", cr4);
    CHECK(xen_cr3_to_pfn(cr3) == root,
          "cr3 %lx names mfn %lx, but the page-table base is mfn %lx", cr3,
          (unsigned long)xen_cr3_to_pfn(cr3), root);

    /* mov to %cr3 with the same value (a TLB flush). */
    asm volatile ("mov %0, %%cr3" :: "r" (cr3) : "memory");
    cr3b = read_cr(3);
    CHECK(cr3b == cr3, "cr3 %lx after reloading %lx", cr3b, cr3);
    printk("privop: mov to %%cr3 (same value) OK\n");

    rc = HYPERVISOR_fpu_taskswitch(1);
    CHECK(rc == 0, "fpu_taskswitch(1): rc %ld", rc);
    cr0 = read_cr(0);
    CHECK(cr0 & X86_CR0_TS, "cr0 %lx: TS not set after fpu_taskswitch(1)", cr0);
    arm(p_clts_after);
    p_clts();
    expect_none("clts");
    cr0 = read_cr(0);
    CHECK(!(cr0 & X86_CR0_TS), "cr0 %lx: TS still set after clts", cr0);
    printk("privop: fpu_taskswitch(1) sets CR0.TS, clts clears it OK\n");

    arm(p_wbinvd_after);
    p_wbinvd();
    expect_none("wbinvd");
    printk("privop: wbinvd OK\n");
}

static void test_msrs(void)
{
#ifdef __x86_64__
    static volatile unsigned long fs_target[2] = { 0x1111222233334444UL, 1 };
    static volatile unsigned long gs_target[2] = { 0x5555666677778888UL, 2 };
    static volatile unsigned long fs_target2[2] = { 0x9999aaaabbbbccccUL, 3 };
    unsigned long v;
    uint64_t r;
    long rc;

    p_wrmsr(MSR_FS_BASE, (unsigned long)fs_target);
    r = p_rdmsr(MSR_FS_BASE);
    CHECK(r == (unsigned long)fs_target, "rdmsr(FS_BASE) %llx, wrote %p",
          (unsigned long long)r, fs_target);
    asm volatile ("movq %%fs:0, %0" : "=r" (v));
    CHECK(v == fs_target[0], "%%fs:0 reads %lx, want %lx", v, fs_target[0]);
    printk("privop: wrmsr/rdmsr FS_BASE %llx, %%fs:0 = %lx OK\n",
           (unsigned long long)r, v);

    p_wrmsr(MSR_GS_BASE, (unsigned long)gs_target);
    r = p_rdmsr(MSR_GS_BASE);
    CHECK(r == (unsigned long)gs_target, "rdmsr(GS_BASE) %llx, wrote %p",
          (unsigned long long)r, gs_target);
    asm volatile ("movq %%gs:0, %0" : "=r" (v));
    CHECK(v == gs_target[0], "%%gs:0 reads %lx, want %lx", v, gs_target[0]);
    printk("privop: wrmsr/rdmsr GS_BASE %llx, %%gs:0 = %lx OK\n",
           (unsigned long long)r, v);

    p_wrmsr(MSR_SHADOW_GS_BASE, 0x12345000UL);
    r = p_rdmsr(MSR_SHADOW_GS_BASE);
    CHECK(r == 0x12345000UL, "rdmsr(SHADOW_GS_BASE) %llx, wrote 12345000",
          (unsigned long long)r);
    printk("privop: wrmsr/rdmsr SHADOW_GS_BASE %llx OK\n",
           (unsigned long long)r);

    rc = HYPERVISOR_set_segment_base(SEGBASE_FS, (unsigned long)fs_target2);
    CHECK(rc == 0, "set_segment_base(SEGBASE_FS): rc %ld", rc);
    asm volatile ("movq %%fs:0, %0" : "=r" (v));
    CHECK(v == fs_target2[0], "after set_segment_base %%fs:0 reads %lx", v);
    r = p_rdmsr(MSR_FS_BASE);
    CHECK(r == (unsigned long)fs_target2, "rdmsr(FS_BASE) %llx after "
          "set_segment_base(%p)", (unsigned long long)r, fs_target2);
    printk("privop: set_segment_base(SEGBASE_FS) OK\n");

    p_wrmsr(MSR_FS_BASE, 0);
    p_wrmsr(MSR_GS_BASE, 0);
    p_wrmsr(MSR_SHADOW_GS_BASE, 0);
#else
    arm(p_rdmsr32_after);
    p_rdmsr32(MSR_FS_BASE);
    expect_gp("rdmsr FS_BASE (32-bit guest)", p_rdmsr32_at);
#endif
}

static void test_io(void)
{
    unsigned int v, w;
    long rc;

    /* No IOPL yet: port I/O and cli are refused. */
    arm(p_inb80_after);
    p_inb80();
    expect_gp("in $0x80 with IOPL 0", p_inb80_at);
    arm(p_outb80_after);
    p_outb80();
    expect_gp("out $0x80 with IOPL 0", p_outb80_at);
    arm(p_cli_after);
    p_cli();
    expect_gp("cli with IOPL 0", p_cli_at);

    rc = set_iopl(1);
    CHECK(rc == 0, "PHYSDEVOP_set_iopl(1): rc %ld", rc);
    arm(p_inb80_after);
    v = p_inb80();
    expect_none("in $0x80 with IOPL 1");
    arm(p_outb80_after);
    p_outb80();
    expect_none("out $0x80 with IOPL 1");
    arm(p_inw_dx_after);
    w = p_inw_dx(0x80);
    expect_none("in %dx (0x80) with IOPL 1");
    printk("privop: PHYSDEVOP_set_iopl(1): in $0x80 = %x, out $0x80, "
           "inw %%dx = %x OK\n", v & 0xff, w & 0xffff);
    if (!(start_info->flags & SIF_PRIVILEGED)) {
        /* No I/O port access granted to this domain: reads give all ones. */
        EXPECT((v & 0xff) == 0xff && (w & 0xffff) == 0xffff,
              "unprivileged domain read port 0x80 as %x / %x, want ff / ffff "
              "(Xen returns all ones for ports it does not grant)",
              v & 0xff, w & 0xffff);
    }
    /* cli/sti are accepted (as no-ops) once the guest has IOPL. */
    arm(p_cli_after);
    p_cli();
    expect_none("cli with IOPL 1");
    arm(p_sti_after);
    p_sti();
    expect_none("sti with IOPL 1");
    EXPECT(shared_info->vcpu_info[0].evtchn_upcall_mask == 1,
           "cli/sti changed the upcall mask");
    printk("privop: cli/sti with IOPL 1 OK\n");

    rc = set_iopl(0);
    CHECK(rc == 0, "PHYSDEVOP_set_iopl(0): rc %ld", rc);
    arm(p_inb80_after);
    p_inb80();
    expect_gp("in $0x80 after dropping IOPL", p_inb80_at);

    /* VMASST_TYPE_architectural_iopl: the kernel counts as ring 0, so IOPL 0 lets it
     * do port I/O, as it would on hardware. */
    rc = HYPERVISOR_vm_assist(VMASST_CMD_enable, VMASST_TYPE_architectural_iopl);
    CHECK(rc == 0, "vm_assist(architectural_iopl): rc %ld", rc);
    arm(p_inb80_after);
    p_inb80();
    expect_none("in $0x80 with architectural IOPL 0");
    rc = HYPERVISOR_vm_assist(VMASST_CMD_disable, VMASST_TYPE_architectural_iopl);
    CHECK(rc == 0, "vm_assist(disable architectural_iopl): rc %ld", rc);
    arm(p_inb80_after);
    p_inb80();
    expect_gp("in $0x80 with IOPL 0 again", p_inb80_at);
    printk("privop: architectural IOPL: kernel port I/O at IOPL 0 OK\n");
}

static void privop_main(void)
{
    map_shared_info();
    trap_hook = privop_hook;
    test_cpuid();
    test_crs();
    test_msrs();
    test_io();
    arm(p_hlt_after);
    p_hlt();
    expect_gp("hlt", p_hlt_at);
    trap_hook = NULL;
}

DEFINE_KERNEL("privop", privop_main, 0);
