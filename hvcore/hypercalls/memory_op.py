"""memory_op: the guest's view of its memory (public/memory.h)."""
import struct

from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import memory as M
from hvcore.public import xen as XEN

E820_RAM = 1


@hypercall(XEN.HYPERVISOR_memory_op)
def memory_op(v, cmd, arg, *_):
    """long memory_op(unsigned int cmd, void *arg)"""
    cmd &= 0xFFFFFFFF
    dom = v.domain
    if cmd == M.XENMEM_maximum_ram_page:
        return dom.nr_pages - 1
    if cmd in (M.XENMEM_current_reservation, M.XENMEM_maximum_reservation):
        if struct.unpack("<H", v.read_virt(arg, 2))[0] not in (0x7FF0, dom.domid):
            return -E.ESRCH     # DOMID_SELF or ourselves only
        return dom.nr_pages if cmd == M.XENMEM_current_reservation else dom.max_pages
    if cmd == M.XENMEM_maximum_gpfn:
        return dom.nr_pages - 1
    if cmd == M.XENMEM_memory_map:
        return _memory_map(v, arg)
    if cmd == M.XENMEM_machphys_mapping:
        return _machphys_mapping(v, arg)
    return -E.ENOSYS


def _machphys_mapping(v, arg) -> int:
    """struct xen_machphys_mapping { xen_ulong_t v_start, v_end; xen_ulong_t max_mfn; }:
    where the read-only M2P is, as far as it is mapped, and the largest MFN it covers."""
    from hvcore.arch.x86.pv import layout as L
    from loaders.pv_builder import MAX_MACHINE_FRAMES
    if v.is_64bit:
        start, entry, fmt = L.RO_MPT_VIRT_START, 8, "<QQQ"
    else:
        start, entry, fmt = L.COMPAT_M2P_VIRT_START, 4, "<III"
    end = start + MAX_MACHINE_FRAMES * entry
    v.write_virt(arg, struct.pack(fmt, start, end, MAX_MACHINE_FRAMES - 1))
    return 0


def _memory_map(v, arg) -> int:
    """struct xen_memory_map { unsigned int nr_entries; XEN_GUEST_HANDLE(void) buffer; }"""
    if v.is_64bit:
        nr, buf = struct.unpack("<I4xQ", v.read_virt(arg, 16))
    else:
        nr, buf = struct.unpack("<II", v.read_virt(arg, 8))
    if nr < 1:
        return -E.EINVAL
    v.write_virt(buf, struct.pack("<QQI", 0, v.domain.nr_pages * 4096, E820_RAM))
    v.write_virt(arg, struct.pack("<I", 1))
    return 0
