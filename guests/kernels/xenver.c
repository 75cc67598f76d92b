/*
 * xenver: every HYPERVISOR_xen_version sub-op, printed; checks the version
 * is >= 4.0, the page size is 4096, the capabilities list our ABI and the
 * platform parameters agree with the M2P placement.
 */
#include "guest.h"

#ifdef __x86_64__
#define OUR_CAP "xen-3.0-x86_64"
#else
#define OUR_CAP "xen-3.0-x86_32p"
#endif

static const char *const feature_names[] = {
    "writable_page_tables", "writable_descriptor_tables",
    "auto_translated_physmap", "supervisor_mode_kernel",
    "pae_pgdir_above_4gb", "mmu_pt_update_preserve_ad", "highmem_assist",
    "gnttab_map_avail_bits", "hvm_callback_vector", "hvm_safe_pvclock",
    "hvm_pirqs", "dom0", "grant_map_identity", "memory_op_vnode_supported",
    "ARM_SMCCC_supported", "linux_rsdp_unrestricted", "not_direct_mapped",
    "direct_mapped",
};

/* Strings from Xen need not be terminated when they fill the buffer. */
static void terminate(char *s, size_t size)
{
    s[size - 1] = '\0';
}

static void xenver_main(void)
{
    static xen_extraversion_t extra;
    static xen_compile_info_t ci;
    static xen_capabilities_info_t caps;
    static xen_changeset_info_t cs;
    static xen_platform_parameters_t pp;
    static xen_feature_info_t fi;
    static xen_domain_handle_t handle;
    static xen_commandline_t cmdline;
    static union {
        struct xen_build_id id;
        unsigned char raw[sizeof(struct xen_build_id) + 256];
    } bid;
    long ver, rc;
    unsigned int i;

    ver = HYPERVISOR_xen_version(XENVER_version, NULL);
    printk("xenver: version %ld.%ld\n", ver >> 16, ver & 0xffff);
    CHECK(ver >= 0 && (ver >> 16) >= 4, "Xen version %lx: want major >= 4",
          ver);

    rc = HYPERVISOR_xen_version(XENVER_extraversion, extra);
    CHECK(rc == 0, "XENVER_extraversion: rc %ld", rc);
    terminate(extra, sizeof(extra));
    printk("xenver: extraversion \"%s\" (Xen %ld.%ld%s)\n", extra, ver >> 16,
           ver & 0xffff, extra);

    rc = HYPERVISOR_xen_version(XENVER_compile_info, &ci);
    CHECK(rc == 0, "XENVER_compile_info: rc %ld", rc);
    terminate(ci.compiler, sizeof(ci.compiler));
    terminate(ci.compile_by, sizeof(ci.compile_by));
    terminate(ci.compile_domain, sizeof(ci.compile_domain));
    terminate(ci.compile_date, sizeof(ci.compile_date));
    printk("xenver: compile_info: compiler \"%s\" by \"%s\" domain \"%s\" "
           "date \"%s\"\n", ci.compiler, ci.compile_by, ci.compile_domain,
           ci.compile_date);

    rc = HYPERVISOR_xen_version(XENVER_capabilities, caps);
    CHECK(rc == 0, "XENVER_capabilities: rc %ld", rc);
    terminate(caps, sizeof(caps));
    printk("xenver: capabilities \"%s\"\n", caps);
    CHECK(strstr(caps, OUR_CAP) != NULL,
          "capabilities \"%s\" do not list " OUR_CAP, caps);

    rc = HYPERVISOR_xen_version(XENVER_changeset, cs);
    CHECK(rc == 0, "XENVER_changeset: rc %ld", rc);
    terminate(cs, sizeof(cs));
    printk("xenver: changeset \"%s\"\n", cs);

    rc = HYPERVISOR_xen_version(XENVER_platform_parameters, &pp);
    CHECK(rc == 0, "XENVER_platform_parameters: rc %ld", rc);
    printk("xenver: platform_parameters virt_start %lx\n",
           (unsigned long)pp.virt_start);
#ifdef __x86_64__
    CHECK(pp.virt_start == HYPERVISOR_VIRT_START,
          "virt_start %lx, want %lx", (unsigned long)pp.virt_start,
          (unsigned long)HYPERVISOR_VIRT_START);
#else
    CHECK(pp.virt_start == m2p_start,
          "virt_start %lx differs from the M2P start %lx",
          (unsigned long)pp.virt_start, m2p_start);
#endif

    fi.submap_idx = 0;
    rc = HYPERVISOR_xen_version(XENVER_get_features, &fi);
    CHECK(rc == 0, "XENVER_get_features: rc %ld", rc);
    printk("xenver: features[0] %08x:", fi.submap);
    for (i = 0; i < ARRAY_SIZE(feature_names); i++)
        if (fi.submap & (1u << i))
            printk(" %s", feature_names[i]);
    printk("\n");
    CHECK(!(fi.submap & (1u << XENFEAT_auto_translated_physmap)),
          "a PV guest reported auto_translated_physmap");

    rc = HYPERVISOR_xen_version(XENVER_pagesize, NULL);
    printk("xenver: pagesize %ld\n", rc);
    CHECK(rc == 4096, "XENVER_pagesize %ld, want 4096", rc);

    rc = HYPERVISOR_xen_version(XENVER_guest_handle, handle);
    CHECK(rc == 0, "XENVER_guest_handle: rc %ld", rc);
    printk("xenver: guest_handle ");
    for (i = 0; i < 16; i++)
        printk("%02x%s", handle[i], (i == 3 || i == 5 || i == 7 || i == 9) ?
               "-" : "");
    printk("\n");

    /* Unprivileged guests may be refused (XSM) or get "<denied>". */
    rc = HYPERVISOR_xen_version(XENVER_commandline, cmdline);
    CHECK(rc == 0 || rc == -XEN_EPERM, "XENVER_commandline: rc %ld", rc);
    terminate(cmdline, sizeof(cmdline));
    if (rc == 0)
        printk("xenver: commandline \"%s\"\n", cmdline);
    else
        printk("xenver: commandline: refused (-EPERM)\n");

    bid.id.len = sizeof(bid) - sizeof(struct xen_build_id);
    rc = HYPERVISOR_xen_version(XENVER_build_id, &bid.id);
    if (rc > 0) {
        CHECK(rc <= 256, "XENVER_build_id returned %ld bytes", rc);
        printk("xenver: build_id (%ld bytes) ", rc);
        for (i = 0; i < (unsigned long)rc; i++)
            printk("%02x", bid.id.buf[i]);
        printk("\n");
    } else {
        /* -EPERM for unprivileged guests, -ENODATA without a build id. */
        CHECK(rc == -XEN_EPERM || rc == -61, "XENVER_build_id: rc %ld", rc);
        printk("xenver: build_id: not available (rc %ld)\n", rc);
    }

    /* An unknown sub-op must fail cleanly. */
    rc = HYPERVISOR_xen_version(0x7fff, NULL);
    CHECK(rc < 0, "xen_version(0x7fff) returned %ld", rc);
    printk("xenver: unknown sub-op -> rc %ld OK\n", rc);
}

DEFINE_KERNEL("xenver", xenver_main, 0);
