"""Where the hypervisor lives inside every PV guest's address space, and Xen's GDT.

64-bit guests: Xen reserves L4 slots 256-271 (0xFFFF800000000000-0xFFFF87FFFFFFFFFF).
We use slot 256 for the read-only machine-to-phys table (guest-readable, as Xen maps it)
and slot 257 for per-domain mappings (each vCPU's GDT, the engine's stop page).
32-bit PAE guests run in compatibility mode under a 64-bit engine, as on 64-bit Xen:
the vCPU's real top-level table is a hypervisor L4 whose slot 0 points at the guest's L3,
so everything of ours above 4 GiB is out of the guest's reach; the compat M2P sits at
0xF5800000 in the guest's own top L2, in Xen's reserved slots.
"""
from __future__ import annotations

from hvcore.memory import PAGE_SIZE

HYPERVISOR_VIRT_START = 0xFFFF_8000_0000_0000
HYPERVISOR_VIRT_END = 0xFFFF_8800_0000_0000
HYPERVISOR_L4_FIRST_SLOT = 256
HYPERVISOR_L4_LAST_SLOT = 271
RO_MPT_VIRT_START = 0xFFFF_8000_0000_0000            # slot 256
PERDOMAIN_VIRT_START = 0xFFFF_8080_0000_0000         # slot 257
GDT_VIRT_STRIDE = 0x10000                            # 16 pages of GDT per vCPU
GDT_GUEST_PAGES = 14                                 # FIRST_RESERVED_GDT_PAGE
GDT_LIMIT = (GDT_GUEST_PAGES + 1) * PAGE_SIZE - 1    # guest pages + Xen's page
# The engine's `until` address. The engine reads the byte before it whenever it stops,
# and compares it with the PC truncated to 32 bits in compat mode; so both this
# address and its low 32 bits (0xF5801000, inside the compat M2P that every 32-bit
# guest has mapped read-only and never executes) must have mapped bytes before them.
STOP_PAGE_VIRT = PERDOMAIN_VIRT_START + 0xF580_1000
STUB_PAGE_VIRT = STOP_PAGE_VIRT - 0x1000             # hlt-filled; holds the entry stub
IRET_STUB_OFFSET = 0x800                             # the ring-0 `iretq` entry stub
IRET_FRAME_VIRT = STOP_PAGE_VIRT + 0x1000            # per-vCPU iret frames (64 bytes each)

# 32-bit PAE (compat) guests
COMPAT_M2P_VIRT_START = 0xF580_0000                  # HYPERVISOR_COMPAT_VIRT_START
COMPAT_L2_FIRST_XEN_SLOT = (COMPAT_M2P_VIRT_START - 0xC000_0000) >> 21   # 428

# Where hypervisor-private frames sit in each engine's physical address space: below
# 4 GiB, because 32-bit guests get shared_info's machine address in a 32-bit field.
HYPERVISOR_PHYS_BASE = 0xE000_0000

# Xen's reserved GDT page (entries from selector 0xe000), as in Xen's gdt_table and
# compat_gdt_table: (selector offset, descriptor).
_XEN_GDT_64 = {
    0xE008: 0x00AF9A000000FFFF,   # ring 0 code, 64-bit
    0xE010: 0x00CF92000000FFFF,   # ring 0 data
    0xE020: 0x00CFFA000000FFFF,   # FLAT_RING3_CS32 0xe023
    0xE028: 0x00CFF2000000FFFF,   # FLAT_RING3_DS32/SS 0xe02b
    0xE030: 0x00AFFA000000FFFF,   # FLAT_RING3_CS64 0xe033
    0xE038: 0x00CF9A000000FFFF,   # ring 0 code, compat
}
_XEN_GDT_COMPAT = {
    0xE008: 0x00AF9A000000FFFF,
    0xE010: 0x00CF92000000FFFF,
    0xE018: 0x00CFBA000000FFFF,   # FLAT_RING1_CS 0xe019
    0xE020: 0x00CFB2000000FFFF,   # FLAT_RING1_DS 0xe021
    0xE028: 0x00CFFA000000FFFF,   # FLAT_RING3_CS 0xe02b
    0xE030: 0x00CFF2000000FFFF,   # FLAT_RING3_DS 0xe033
    0xE038: 0x00CF9A000000FFFF,
}
FIRST_RESERVED_GDT_BYTE = GDT_GUEST_PAGES * PAGE_SIZE   # 0xe000


def xen_gdt_page(is_64bit: bool) -> bytes:
    """The contents of Xen's reserved GDT page for a guest of this width."""
    page = bytearray(PAGE_SIZE)
    for selector, desc in (_XEN_GDT_64 if is_64bit else _XEN_GDT_COMPAT).items():
        off = selector - FIRST_RESERVED_GDT_BYTE
        page[off:off + 8] = desc.to_bytes(8, "little")
    return bytes(page)


# Flat selectors of the guest kernel and user mode (xen-x86_64.h / xen-x86_32.h).
FLAT_RING3_CS32 = 0xE023
FLAT_RING3_CS64 = 0xE033
FLAT_RING3_DS32 = 0xE02B
FLAT_RING3_DS64 = 0x0000
FLAT_RING3_SS64 = 0xE02B
FLAT_RING1_CS = 0xE019
FLAT_RING1_DS = 0xE021
FLAT_RING1_SS = 0xE021
FLAT_RING3_CS = 0xE02B      # 32-bit user code
FLAT_RING3_DS = 0xE033      # 32-bit user data
