"""set_gdt and update_descriptor: the guest's own GDT frames and descriptors."""
import struct

from hvcore.arch.x86.pv import layout as L
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import xen as XEN

MAX_GUEST_ENTRIES = L.GDT_GUEST_PAGES * 512


def check_descriptor(v, desc: int) -> int | None:
    """Xen's check_descriptor in short: no system descriptors (gates, TSS, LDT), and
    code/data DPL 0 raised to the guest kernel's ring. Returns the descriptor to store."""
    if not desc & (1 << 47):          # not present: anything goes
        return desc
    if not desc & (1 << 44):
        return None
    if (desc >> 45) & 3 == 0:
        kernel_ring = 3 if v.is_64bit else 1
        desc |= kernel_ring << 45
    return desc


@hypercall(XEN.HYPERVISOR_set_gdt)
def set_gdt(v, frame_list, entries, *_):
    """long set_gdt(xen_pfn_t *frame_list, unsigned int entries)"""
    from loaders.pv_builder import setup_gdt
    entries &= 0xFFFFFFFF
    if entries > MAX_GUEST_ENTRIES:
        return -E.EINVAL
    nr = (entries + 511) // 512
    fmt = "<Q" if v.is_64bit else "<I"
    frames = [struct.unpack(fmt, v.read_virt(frame_list + i * v.domain.word_size,
                                             v.domain.word_size))[0] for i in range(nr)]
    if any(not v.domain.is_ram_pfn(f) for f in frames):
        return -E.EINVAL
    setup_gdt(v, [f << 12 for f in frames])
    v.state.gdt_frames, v.state.gdt_entries = frames, entries
    return 0


@hypercall(XEN.HYPERVISOR_update_descriptor)
def update_descriptor(v, a1, a2, a3, a4, *_):
    """64-bit: long update_descriptor(u64 ma, u64 desc); 32-bit: (ma_lo, ma_hi, desc_lo, desc_hi)"""
    ma, desc = (a1, a2) if v.is_64bit else (a1 | a2 << 32, a3 | a4 << 32)
    if ma & 7 or not v.domain.is_ram_pfn(ma >> 12):
        return -E.EINVAL
    fixed = check_descriptor(v, desc)
    if fixed is None:
        return -E.EINVAL
    v.domain.mem.write_u64(ma, fixed)
    return 0
