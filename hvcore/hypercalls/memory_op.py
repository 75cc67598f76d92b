"""memory_op: the guest's view of its memory (public/memory.h).

Ballooning: a PV guest gives frames back (decrease_reservation) and asks for frames
(increase_reservation, populate_physmap, exchange) up to its maximum. A frame given back
is zeroed, its M2P entry goes INVALID, and it joins the domain's pool of unpopulated
frames (`Domain.released`), which is where new frames come from. MFN == PFN here, so a
frame comes back at its own number. Each call returns how many extents it completed.
"""
import ctypes
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
    if cmd in _RESERVATION_OPS:
        return _RESERVATION_OPS[cmd](v, arg)
    if cmd == M.XENMEM_exchange:
        return _exchange(v, arg)
    if cmd == M.XENMEM_machine_memory_map:
        return -E.EPERM        # dom0 only
    if cmd == M.XENMEM_maximum_ram_page:
        return dom.nr_pages - 1
    if cmd in (M.XENMEM_current_reservation, M.XENMEM_maximum_reservation):
        domid = struct.unpack("<H", v.read_virt(arg, 2))[0]
        if domid not in (XEN.DOMID_SELF, dom.domid):
            return dom.errno_naming(domid)
        return dom.tot_pages if cmd == M.XENMEM_current_reservation else dom.max_pages
    if cmd == M.XENMEM_maximum_gpfn:
        return dom.nr_pages - 1
    if cmd == M.XENMEM_memory_map:
        return _memory_map(v, arg)
    if cmd == M.XENMEM_machphys_mapping:
        return _machphys_mapping(v, arg)
    if cmd == M.XENMEM_add_to_physmap:
        return _add_to_physmap(v, arg)
    return -E.ENOSYS


def _add_to_physmap(v, arg) -> int:
    """struct xen_add_to_physmap { domid_t domid; uint16_t size; unsigned int space;
    xen_ulong_t idx; xen_pfn_t gpfn; }: an HVM guest puts shared_info or a grant frame
    at a guest frame of its choice (hvcore/hvm/xen.py); PV guests have no physical map."""
    xen = v.domain.hvm
    if xen is None:
        return -E.ENOSYS
    if v.is_64bit:
        domid, _size, space, idx, gpfn = struct.unpack("<HHIQQ", v.read_virt(arg, 24))
    else:
        domid, _size, space, idx, gpfn = struct.unpack("<HHIII", v.read_virt(arg, 16))
    if domid not in (XEN.DOMID_SELF, v.domain.domid):
        return -E.ESRCH
    return xen.add_to_physmap(space, idx, gpfn)


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
    if v.domain.hvm is not None:          # an HVM guest's map has its legacy hole
        entries = v.domain.hvm.memory_map()
    else:
        entries = struct.pack("<QQI", 0, v.domain.nr_pages * 4096, E820_RAM)
    count = len(entries) // 20
    if nr < count:
        return -E.EINVAL
    v.write_virt(buf, entries)
    v.write_virt(arg, struct.pack("<I", count))
    return 0


# ---- ballooning ---------------------------------------------------------------------
INVALID_M2P = (1 << 64) - 1
_MAX_ORDER = 9                       # up to 2 MiB extents


def _reservation(v, arg):
    cls = M.xen_memory_reservation_64 if v.is_64bit else M.xen_memory_reservation_32
    return cls.from_buffer_copy(v.read_virt(arg, ctypes.sizeof(cls)))


def _pfn_fmt(v) -> str:
    return "<Q" if v.is_64bit else "<I"


def _read_extent(v, r, i: int) -> int:
    fmt = _pfn_fmt(v)
    return struct.unpack(fmt, v.read_virt(r.extent_start + i * struct.calcsize(fmt),
                                          struct.calcsize(fmt)))[0]


def _write_extent(v, r, i: int, mfn: int) -> None:
    fmt = _pfn_fmt(v)
    v.write_virt(r.extent_start + i * struct.calcsize(fmt), struct.pack(fmt, mfn))


def _check(v, r) -> int:
    if r.domid not in (0x7FF0, v.domain.domid):
        return -E.ESRCH                 # only dom0 changes another domain's memory
    if r.extent_order > _MAX_ORDER:
        return -E.EINVAL
    return 0


def release_frames(dom, first: int, count: int) -> bool:
    """Give back `count` frames from `first`: all must be ours and used by nothing
    (no mapping, no table); then they are zeroed and their M2P entries go INVALID."""
    from hvcore.hypercalls.mm import page_types
    types = page_types(dom)
    frames = range(first, first + count)
    if any(not dom.is_ram_pfn(f) or types.type_of(f) != "none" for f in frames):
        return False
    for f in frames:
        dom.mem.zero(f << 12, 4096)
        dom.mem.write_u64(dom.m2p_paddr + f * 8, INVALID_M2P)
        dom.mem.write_u32(dom.compat_m2p_paddr + f * 4, 0xFFFFFFFF)
        dom.released.add(f)
    return True


def take_frames(dom, count: int) -> int | None:
    """`count` contiguous unpopulated frames (lowest first), if the maximum allows."""
    if dom.tot_pages + count > dom.max_pages:
        return None
    free = sorted(dom.released)
    for i, first in enumerate(free):
        if free[i:i + count] == list(range(first, first + count)):
            dom.released.difference_update(range(first, first + count))
            return first
    return None


def _decrease(v, arg) -> int:
    r = _reservation(v, arg)
    rc = _check(v, r)
    if rc:
        return rc
    size = 1 << r.extent_order
    for i in range(r.nr_extents):
        if not release_frames(v.domain, _read_extent(v, r, i), size):
            return i
    v.flush_tlb()
    return r.nr_extents


def _increase(v, arg, populate: bool) -> int:
    """increase_reservation hands out frames; populate_physmap puts one at each GPFN the
    guest names (for a PV guest: records it in the M2P, returns the MFN)."""
    r = _reservation(v, arg)
    rc = _check(v, r)
    if rc:
        return rc
    dom, size = v.domain, 1 << r.extent_order
    for i in range(r.nr_extents):
        gpfn = _read_extent(v, r, i) if populate else None
        first = take_frames(dom, size)
        if first is None:
            return i
        for j in range(size):
            _set_m2p(dom, first + j, (gpfn + j) if populate else first + j)
        _write_extent(v, r, i, first)
    return r.nr_extents


def _set_m2p(dom, mfn: int, pfn: int) -> None:
    dom.mem.write_u64(dom.m2p_paddr + mfn * 8, pfn)
    dom.mem.write_u32(dom.compat_m2p_paddr + mfn * 4, pfn & 0xFFFFFFFF)


def _exchange(v, arg) -> int:
    """xen_memory_exchange: give back `in` extents and get `out` extents of another
    order, as one (the frames given back may come straight back)."""
    cls = M.xen_memory_exchange_64 if v.is_64bit else M.xen_memory_exchange_32
    x = cls.from_buffer_copy(v.read_virt(arg, ctypes.sizeof(cls)))
    src, dst = getattr(x, "in"), x.out          # `in` is a Python keyword
    for r in (src, dst):
        rc = _check(v, r)
        if rc:
            return rc
    if (src.nr_extents << src.extent_order) != (dst.nr_extents << dst.extent_order):
        return -E.EINVAL
    dom = v.domain
    in_size, out_size = 1 << src.extent_order, 1 << dst.extent_order
    gmfns = [_read_extent(v, src, i) for i in range(src.nr_extents)]
    for i, gmfn in enumerate(gmfns):
        if not release_frames(dom, gmfn, in_size):
            for done in gmfns[:i]:             # nothing is exchanged unless all is
                dom.released.difference_update(range(done, done + in_size))
                for f in range(done, done + in_size):
                    _set_m2p(dom, f, f)
            return -E.EINVAL
    for i in range(dst.nr_extents):
        gpfn = _read_extent(v, dst, i)
        first = take_frames(dom, out_size)
        if first is None:
            return -E.ENOMEM
        for j in range(out_size):
            _set_m2p(dom, first + j, gpfn + j)
        _write_extent(v, dst, i, first)
    x.nr_exchanged = src.nr_extents
    v.write_virt(arg, bytes(x))
    v.flush_tlb()
    return 0


_RESERVATION_OPS = {
    M.XENMEM_decrease_reservation: _decrease,
    M.XENMEM_increase_reservation: lambda v, arg: _increase(v, arg, populate=False),
    M.XENMEM_populate_physmap: lambda v, arg: _increase(v, arg, populate=True),
}
