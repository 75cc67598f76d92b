/*
 * traps: installs the trap table and raises every exception a PV guest can
 * raise itself, plus a software int $0x80 through a DPL-3 entry.  Checks
 * that each one is bounced exactly once, to the right handler, with the
 * right frame (RIP/EIP, CS, saved upcall mask, error code, CR2).
 */
#include "guest.h"
#include "traps.h"

#define DECL(n) extern void t_##n(void); extern char t_##n##_at[], t_##n##_after[]
DECL(de); DECL(db); DECL(bp); DECL(of); DECL(ud); DECL(nm); DECL(mf);
DECL(np); DECL(ss); DECL(gp_hlt); DECL(gp_int); DECL(gp_ldt); DECL(int80);
#ifndef __x86_64__
DECL(br);
#endif
extern void t_pf_read(unsigned long), t_pf_write(unsigned long),
    t_pf_fetch(unsigned long);
extern char t_pf_read_at[], t_pf_read_after[], t_pf_write_at[],
    t_pf_write_after[], t_pf_fetch_at[], t_pf_fetch_after[];
extern void t_fpu_ok(void);

enum kind { FAULT, TRAP };

struct tcase {
    const char *name;
    unsigned int vector;
    enum kind kind;
    long error_code;            /* -1: the vector has no error code */
    char *at, *after;
    int native_return;          /* resume with a native iret instead */
    int unmasked;               /* raised with events unmasked */
};

/* What the handler saw. */
static volatile struct {
    unsigned int count[256];
    unsigned int total;
    unsigned long vector, ip, cs, flags, sp, ss, error_code;
    unsigned long cr2_vcpu, cr2_reg;
    unsigned int mask_in_handler;
    unsigned long frame_end;    /* first byte above Xen's bounce frame */
} seen;

static const struct tcase *cur;
unsigned long t_entry_sp;       /* written by each test in traps_asm.S */
static unsigned long resume_ip;
static volatile int in_handler;

static int traps_hook(struct trap_frame *f)
{
    if (f->vector >= 0x100 || !cur)
        return RET_UNHANDLED;
    if (in_handler) {
        printk("FAIL: trap %lu at ip %lx while handling another trap\n",
               f->vector, f->ip);
        dump_frame(f);
        crash();
    }
    in_handler = 1;
    seen.count[f->vector & 0xff]++;
    seen.total++;
    seen.vector = f->vector;
    seen.ip = f->ip;
    seen.cs = f->cs;
    seen.flags = f->flags;
    seen.sp = f->sp;
    seen.ss = f->ss;
    seen.error_code = f->error_code;
    seen.mask_in_handler = shared_info->vcpu_info[0].evtchn_upcall_mask;
#ifdef __x86_64__
    seen.frame_end = (unsigned long)(&f->ss + 1);
#else
    seen.frame_end = (unsigned long)&f->sp;     /* ring 1 -> ring 1: no SS:ESP */
#endif
    if (f->vector == 14) {
        seen.cr2_vcpu = shared_info->vcpu_info[0].arch.cr2;
        seen.cr2_reg = read_cr2();      /* emulated by Xen */
    }
    if (f->vector == 1)
        f->flags &= ~0x100UL;           /* stop single-stepping */
    if (f->vector == 16)
        asm volatile ("fnclex");
    f->ip = resume_ip;
    in_handler = 0;
    return cur->native_return ? RET_NATIVE : RET_IRET;
}

static void check_frame(const struct tcase *t, unsigned long want_ip)
{
    CHECK(seen.total == 1 && seen.count[t->vector] == 1,
          "%s: vector %u seen %u times, %u traps in total (last vector %lu "
          "at ip %lx)", t->name, t->vector, seen.count[t->vector], seen.total,
          seen.vector, seen.ip);
    CHECK(seen.ip == want_ip, "%s: frame ip %lx, want %lx", t->name,
          seen.ip, want_ip);
    CHECK((uint16_t)seen.cs == KERNEL_CS_FRAME,
          "%s: frame CS %lx, want %x (kernel context)", t->name, seen.cs,
          KERNEL_CS_FRAME);
    CHECK(((seen.cs >> (PT_LEVELS == 4 ? 32 : 16)) & 0xff) == !t->unmasked,
          "%s: saved upcall mask in the CS slot is %lu, want %d", t->name,
          (seen.cs >> (PT_LEVELS == 4 ? 32 : 16)) & 0xff, !t->unmasked);
    CHECK(!!(seen.flags & 0x200) == !!t->unmasked,
          "%s: frame EFLAGS %lx: IF must be the inverse of the saved upcall "
          "mask (%d)", t->name, seen.flags, !t->unmasked);
#ifdef __x86_64__
    CHECK(seen.ss == FLAT_KERNEL_SS, "%s: frame SS %lx, want %x", t->name,
          seen.ss, FLAT_KERNEL_SS);
    CHECK(seen.sp == t_entry_sp, "%s: frame RSP %lx, want %lx", t->name,
          seen.sp, t_entry_sp);
    /* Xen pushes the frame below the interrupted RSP rounded down to 16. */
    CHECK(seen.frame_end == (t_entry_sp & ~15UL),
          "%s: bounce frame ends at %lx, want %lx (RSP %lx & ~15)", t->name,
          seen.frame_end, t_entry_sp & ~15UL, t_entry_sp);
#else
    CHECK(seen.frame_end == t_entry_sp,
          "%s: bounce frame ends at %lx, want the interrupted ESP %lx",
          t->name, seen.frame_end, t_entry_sp);
#endif
    if (t->error_code >= 0)
        CHECK(seen.error_code == (unsigned long)t->error_code,
              "%s: error code %lx, want %lx", t->name, seen.error_code,
              t->error_code);
}

static void reset(const struct tcase *t)
{
    memset((void *)&seen, 0, sizeof(seen));
    cur = t;
    resume_ip = (unsigned long)t->after;
}

static void run(const struct tcase *t, void (*fn)(void))
{
    reset(t);
    fn();
    cur = NULL;
    check_frame(t, t->kind == FAULT ? (unsigned long)t->at
                                    : (unsigned long)t->after);
    printk("traps: %-28s vector %2u ip %lx", t->name, t->vector, seen.ip);
    if (t->error_code >= 0)
        printk(" error code %lx", seen.error_code);
    printk(" OK\n");
}

/* A GDT of our own with two not-present descriptors, for #NP and #SS. */
static uint64_t gdt[512] __attribute__((section(".bss.page"), aligned(4096)));

static void setup_gdt(void)
{
    unsigned long frames[1];
    /* Flat 4 GiB data segment (type 3: RW, accessed), P clear. */
    const uint64_t np_dpl3 = 0x00cf73000000ffffULL;
#ifdef __x86_64__
    const uint64_t np_kernel = np_dpl3;
#else
    const uint64_t np_kernel = 0x00cf33000000ffffULL;   /* DPL 1 */
#endif
    long rc;

    rc = set_page_prot(gdt, L1_PROT_RO);
    CHECK(rc == 0, "making the GDT page read-only: rc %ld", rc);
    frames[0] = virt_to_mfn(gdt);
    rc = HYPERVISOR_set_gdt(frames, 512);
    CHECK(rc == 0, "set_gdt: rc %ld", rc);
    rc = HYPERVISOR_update_descriptor(virt_to_mach(&gdt[GDT_IDX_NP]), np_dpl3);
    CHECK(rc == 0, "update_descriptor(%d): rc %ld", GDT_IDX_NP, rc);
    rc = HYPERVISOR_update_descriptor(virt_to_mach(&gdt[GDT_IDX_SS]), np_kernel);
    CHECK(rc == 0, "update_descriptor(%d): rc %ld", GDT_IDX_SS, rc);
    CHECK(gdt[GDT_IDX_NP] == np_dpl3 && gdt[GDT_IDX_SS] == np_kernel,
          "GDT entries read back %llx %llx", (unsigned long long)gdt[2],
          (unsigned long long)gdt[3]);
    printk("traps: own GDT at mfn %lx with not-present entries %d, %d\n",
           frames[0], GDT_IDX_NP, GDT_IDX_SS);
}

#define TC(n, v, k, e) { #n, v, k, e, t_##n##_at, t_##n##_after, 0, 0 }

/*
 * A trap table entry with flag bit 2 (TI_SET_IF) masks events on entry:
 * raised with events unmasked, the frame carries saved mask 0 / IF 1, the
 * handler runs masked, and HYPERVISOR_iret restores the mask from IF.
 */
static void test_mask_on_entry(void)
{
    static const struct tcase bp = { "bp (events unmasked, TI_SET_IF)", 3,
                                     TRAP, -1, t_bp_at, t_bp_after, 0, 1 };
    trap_info_t one[2] = {
        { 3, 3 | 4, FLAT_KERNEL_CS, (unsigned long)trap_entry_3 },
        { 0, 0, 0, 0 },
    };
    vcpu_info_t *vi = &shared_info->vcpu_info[0];
    unsigned int mask_after;
    long rc;

    rc = HYPERVISOR_set_trap_table(one);
    CHECK(rc == 0, "set_trap_table(vector 3 with TI_SET_IF): rc %ld", rc);
    reset(&bp);
    vi->evtchn_upcall_mask = 0;
    barrier();
    t_bp();
    mask_after = vi->evtchn_upcall_mask;
    vi->evtchn_upcall_mask = 1;
    barrier();
    cur = NULL;
    check_frame(&bp, (unsigned long)t_bp_after);
    CHECK(seen.mask_in_handler == 1,
          "TI_SET_IF: upcall mask %u inside the handler, want 1",
          seen.mask_in_handler);
    CHECK(mask_after == 0,
          "HYPERVISOR_iret with IF set left the upcall mask at %u, want 0",
          mask_after);
    printk("traps: %-28s vector  3: masked in handler, unmasked by iret OK\n",
           bp.name);
    one[0].flags = 3;
    rc = HYPERVISOR_set_trap_table(one);
    CHECK(rc == 0, "set_trap_table(restore vector 3): rc %ld", rc);
}

static void pf_case(const char *name, void (*fn)(unsigned long),
                    char *at, char *after, unsigned long addr, int fetch,
                    unsigned long want_err)
{
    struct tcase t = { name, 14, FAULT, -1, at, after, 0, 0 };

    reset(&t);
    fn(addr);
    cur = NULL;
    check_frame(&t, fetch ? addr : (unsigned long)at);
    if (fetch)
        CHECK((seen.error_code & ~PFEC_FETCH) == want_err,
              "%s: error code %lx, want %lx (with or without I/D)", name,
              seen.error_code, want_err);
    else
        CHECK(seen.error_code == want_err, "%s: error code %lx, want %lx",
              name, seen.error_code, want_err);
    CHECK(seen.cr2_vcpu == addr, "%s: vcpu_info.arch.cr2 %lx, want %lx",
          name, seen.cr2_vcpu, addr);
    CHECK(seen.cr2_reg == addr, "%s: mov %%cr2 gave %lx, want %lx", name,
          seen.cr2_reg, addr);
    printk("traps: %-28s vector 14 ip %lx error code %lx cr2 %lx OK\n",
           name, seen.ip, seen.error_code, seen.cr2_reg);
}

static char ro_page[PAGE_SIZE] __attribute__((section(".bss.page"), aligned(4096)));

static void traps_main(void)
{
    unsigned long unmapped = (unsigned long)pfn_to_virt(mapped_end_pfn) + 0x10;
    long rc, dr6;

    map_shared_info();
    trap_hook = traps_hook;
    setup_gdt();

    {
        static const struct tcase de = TC(de, 0, FAULT, -1);
        run(&de, t_de);
    }
    {
        static const struct tcase db = TC(db, 1, TRAP, -1);
        run(&db, t_db);
        dr6 = HYPERVISOR_get_debugreg(6);
        CHECK(dr6 & 0x4000, "#DB: DR6 %lx lacks BS (single step)", dr6);
        printk("traps: DR6 after single step %lx\n", dr6);
    }
    {
        /* Returns with a native iret, to cover that path too. */
        static const struct tcase bp = { "bp (int3, native iret)", 3, TRAP, -1,
                                         t_bp_at, t_bp_after, 1, 0 };
        run(&bp, t_bp);
    }
    {
#ifdef __x86_64__
        static const struct tcase of = { "of (int $4)", 4, TRAP, -1,
                                         t_of_at, t_of_after, 0, 0 };
#else
        static const struct tcase of = { "of (into)", 4, TRAP, -1,
                                         t_of_at, t_of_after, 0, 0 };
#endif
        run(&of, t_of);
    }
#ifndef __x86_64__
    {
        static const struct tcase br = TC(br, 5, FAULT, -1);
        run(&br, t_br);
    }
#endif
    {
        static const struct tcase ud = { "ud (ud2, native iret)", 6, FAULT, -1,
                                         t_ud_at, t_ud_after, 1, 0 };
        run(&ud, t_ud);
    }
    {
        static const struct tcase nm = TC(nm, 7, FAULT, -1);
        unsigned long cr0;

        rc = HYPERVISOR_fpu_taskswitch(1);
        CHECK(rc == 0, "fpu_taskswitch(1): rc %ld", rc);
        run(&nm, t_nm);
        /* Xen clears the virtual TS when it delivers #NM. */
        reset(&nm);
        t_fpu_ok();
        cur = NULL;
        CHECK(seen.total == 0, "x87 after #NM trapped again (vector %lu)",
              seen.vector);
        asm volatile ("mov %%cr0, %0" : "=r" (cr0));
        CHECK(!(cr0 & 8), "CR0.TS still set after #NM (cr0 %lx)", cr0);
    }
    {
        static const struct tcase mf = TC(mf, 16, FAULT, -1);
        run(&mf, t_mf);
    }
    {
        static const struct tcase np = TC(np, 11, FAULT, GDT_SEL_NP & ~3);
        run(&np, t_np);
    }
    {
        static const struct tcase ss = TC(ss, 12, FAULT, GDT_SEL_SS & ~3);
        run(&ss, t_ss);
    }
    {
        static const struct tcase gp1 = TC(gp_hlt, 13, FAULT, 0);
        static const struct tcase gp2 = TC(gp_int, 13, FAULT, (0x81 << 3) | 2);
        static const struct tcase gp3 = TC(gp_ldt, 13, FAULT, 4);
        run(&gp1, t_gp_hlt);
        run(&gp2, t_gp_int);
        run(&gp3, t_gp_ldt);
    }

    /* Page faults: not present (read, write, fetch) and a read-only page. */
    CHECK(!va_is_mapped(kernel_root_mfn(), unmapped),
          "%lx is unexpectedly mapped", unmapped);
    pf_case("pf read, not present", t_pf_read, t_pf_read_at, t_pf_read_after,
            0x1000, 0, 0);
    pf_case("pf write, not present", t_pf_write, t_pf_write_at,
            t_pf_write_after, unmapped, 0, PFEC_WRITE);
    pf_case("pf fetch, not present", t_pf_fetch, t_pf_fetch_at,
            t_pf_fetch_after, 0x2000, 1, 0);
    ro_page[0] = 1;
    rc = set_page_prot(ro_page, L1_PROT_RO);
    CHECK(rc == 0, "update_va_mapping (read-only): rc %ld", rc);
    pf_case("pf write, read-only", t_pf_write, t_pf_write_at,
            t_pf_write_after, (unsigned long)ro_page + 8, 0,
            PFEC_PRESENT | PFEC_WRITE);
    CHECK(ro_page[0] == 1 && ro_page[8] == 0, "read-only page was written");

    {
        static const struct tcase i80 = TC(int80, 0x80, TRAP, -1);
        run(&i80, t_int80);
    }
    test_mask_on_entry();
    trap_hook = NULL;
}

DEFINE_KERNEL("traps", traps_main, 0);
