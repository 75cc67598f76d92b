/*
 * hello: greets, prints what the domain builder handed over in start_info
 * and checks the boot state a PV kernel relies on.
 */
#include "guest.h"

#ifdef __x86_64__
#define MAGIC_PREFIX "xen-3.0-x86_64"
#else
#define MAGIC_PREFIX "xen-3.0-x86_32p"
#endif

static void hello_main(void)
{
    start_info_t *si = start_info;
    unsigned long root = kernel_root_mfn();
    unsigned long pfn, bad = 0;
    const unsigned char *stub;
    pgentry_t *pte;
    long ver;
    int i;

    printk("Hello from hvcore " ARCH_NAME " guest\n");
    printk("hello: start_info %p magic \"%s\"\n", si, si->magic);
    printk("hello: nr_pages %lu (%lu MiB)\n", (unsigned long)si->nr_pages,
           (unsigned long)si->nr_pages >> 8);
    printk("hello: cmd_line \"%s\"\n", (const char *)si->cmd_line);
    printk("hello: shared_info maddr %lx flags %x\n",
           (unsigned long)si->shared_info, (unsigned int)si->flags);
    printk("hello: store mfn %lx evtchn %u, console mfn %lx evtchn %u\n",
           (unsigned long)si->store_mfn, (unsigned int)si->store_evtchn,
           (unsigned long)si->console.domU.mfn,
           (unsigned int)si->console.domU.evtchn);
    printk("hello: pt_base %lx nr_pt_frames %lu mfn_list %lx\n",
           (unsigned long)si->pt_base, (unsigned long)si->nr_pt_frames,
           (unsigned long)si->mfn_list);
    printk("hello: mod_start %lx mod_len %lu\n", (unsigned long)si->mod_start,
           (unsigned long)si->mod_len);
    printk("hello: image %p-%p, first free pfn %lx, mapped up to pfn %lx\n",
           _text, _end, first_free_pfn, mapped_end_pfn);
    printk("hello: m2p at %lx-%lx, max mfn %lx (XENMEM_machphys_mapping rc %ld)\n",
           m2p_start, m2p_end, m2p_max_mfn, machphys_mapping_rc);

    CHECK(!strncmp((const char *)si->magic, MAGIC_PREFIX, strlen(MAGIC_PREFIX)),
          "start_info magic \"%s\" does not start with \"" MAGIC_PREFIX "\"",
          si->magic);
    CHECK(si->nr_pages > 0, "nr_pages is 0");
    CHECK(!bss_was_dirty, "the domain builder left .bss non-zero");

    stub = (const unsigned char *)hypercall_page + __HYPERVISOR_xen_version * 32;
    printk("hello: hypercall stub 17:");
    for (i = 0; i < 16; i++)
        printk(" %02x", stub[i]);
    printk("\n");

    /* The P2M list and Xen's M2P table must agree for every frame we own. */
    for (pfn = 0; pfn < si->nr_pages; pfn++) {
        unsigned long mfn = pfn_to_mfn(pfn);
        if (mfn > m2p_max_mfn || mfn_to_pfn(mfn) != pfn) {
            if (!bad)
                printk("hello: pfn %lx -> mfn %lx -> pfn %lx\n", pfn, mfn,
                       mfn > m2p_max_mfn ? ~0UL : mfn_to_pfn(mfn));
            bad++;
        }
    }
    CHECK(!bad, "%lu frames where M2P[P2M[pfn]] != pfn", bad);
    printk("hello: P2M and M2P agree for all %lu frames\n",
           (unsigned long)si->nr_pages);

    /* Initial mapping: kernel, start_info, page tables (read-only). */
    CHECK(va_is_mapped(root, (unsigned long)_text), "kernel text not mapped");
    CHECK(va_is_mapped(root, (unsigned long)si), "start_info not mapped");
    CHECK((unsigned long)si > (unsigned long)_end - 1 &&
          (unsigned long)si < si->pt_base,
          "start_info %p not between the image end %p and pt_base %lx",
          si, _end, (unsigned long)si->pt_base);
    for (pfn = virt_to_pfn((void *)si->pt_base);
         pfn < first_free_pfn; pfn++) {
        pte = pt_lookup(root, (unsigned long)pfn_to_virt(pfn), 1);
        CHECK(pte && (*pte & _PAGE_PRESENT),
              "page-table frame pfn %lx is not mapped", pfn);
        CHECK(!(*pte & _PAGE_RW),
              "page-table frame pfn %lx is mapped writable (pte %llx)", pfn,
              (unsigned long long)*pte);
    }
    CHECK((mapped_end_pfn - first_free_pfn) * PAGE_SIZE >= 512 * 1024 ||
          mapped_end_pfn == si->nr_pages,
          "initial mapping ends %lu KiB after the page tables (want >= 512)",
          (mapped_end_pfn - first_free_pfn) * 4);
    printk("hello: initial mapping OK (%lu KiB, page tables read-only)\n",
           mapped_end_pfn * 4);

    map_shared_info();
    CHECK(shared_info->vcpu_info[0].evtchn_upcall_mask == 1,
          "vcpu_info[0].evtchn_upcall_mask is %u at boot (want 1)",
          shared_info->vcpu_info[0].evtchn_upcall_mask);

    ver = HYPERVISOR_xen_version(XENVER_version, NULL);
    printk("hello: running on Xen %ld.%ld\n", ver >> 16, ver & 0xffff);
}

DEFINE_KERNEL("hello", hello_main, 0);
