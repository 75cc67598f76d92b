"""grant_table_op: grant tables, version 1 (public/grant_table.h, common/grant_table.c).

The table itself lives in the domain's GrantFrames (hvcore.grant_table). Setting it up
and asking about it is answered here; anything that touches another domain's grants
(map, copy) goes to the host, which makes every mapping (see hvcore/grant_table.py).
A mapping of another domain's page appears in this domain's machine address space in
the foreign window (hvcore.arch.x86.pv.foreign), and the guest's PTE points at it.
"""
from __future__ import annotations

import ctypes
import struct

from hvcore.hypercalls import hypercall
from hvcore.grant_table import MAX_GRANT_FRAMES, GrantError
from hvcore.public import errno as E
from hvcore.public import grant_table as G
from hvcore.public import xen as XEN

_MAX_BATCH = 1 << 16


def _pick(v, pair_64, pair_32):
    return pair_64 if v.is_64bit else pair_32


def _ops(v, uop: int, count: int, cls, fn) -> int:
    """Run `fn` on each of `count` structures at `uop`, writing each back: Xen reports
    per-op failures in the structure's status and returns 0."""
    if count > _MAX_BATCH:
        return -E.EINVAL
    size = ctypes.sizeof(cls)
    for i in range(count):
        addr = uop + i * size
        op = cls.from_buffer_copy(v.read_virt(addr, size))
        fn(v, op)
        v.write_virt(addr, bytes(op))
    return 0


def _self(v, domid: int) -> bool:
    return domid in (XEN.DOMID_SELF, v.domain.domid)


@hypercall(XEN.HYPERVISOR_grant_table_op)
def grant_table_op(v, cmd, uop, count, *_):
    """long grant_table_op(unsigned int cmd, void *uop, unsigned int count)"""
    cmd, count = cmd & 0xFFFFFFFF, count & 0xFFFFFFFF
    handler = _HANDLERS.get(cmd)
    if handler is None:
        return -E.ENOSYS
    return handler(v, uop, count)


# ---- the table itself ------------------------------------------------------------------
def _setup_table(v, uop: int, count: int) -> int:
    """gnttab_setup_table { domid_t dom; uint32_t nr_frames; int16_t status;
    XEN_GUEST_HANDLE(xen_pfn_t) frame_list }: grow the table, return its frames."""
    if count != 1:
        return -E.EINVAL
    cls = _pick(v, G.gnttab_setup_table_64, G.gnttab_setup_table_32)
    op = cls.from_buffer_copy(v.read_virt(uop, ctypes.sizeof(cls)))
    frames = v.domain.grants
    if not _self(v, op.dom):
        op.status = G.GNTST_permission_denied
    elif not frames.grow(op.nr_frames):
        op.status = G.GNTST_general_error
    else:
        fmt = "<Q" if v.is_64bit else "<I"
        step = struct.calcsize(fmt)
        for i in range(op.nr_frames):
            v.write_virt(op.frame_list + i * step, struct.pack(fmt, frames.frame_mfn(i)))
        op.status = G.GNTST_okay
    v.write_virt(uop, bytes(op))
    return 0


def _query_size(v, uop: int, count: int) -> int:
    if count != 1:
        return -E.EINVAL
    cls = _pick(v, G.gnttab_query_size_64, G.gnttab_query_size_32)
    op = cls.from_buffer_copy(v.read_virt(uop, ctypes.sizeof(cls)))
    if _self(v, op.dom):
        op.nr_frames, op.max_nr_frames = v.domain.grants.nr_frames, MAX_GRANT_FRAMES
        op.status = G.GNTST_okay
    else:
        op.status = G.GNTST_permission_denied
    v.write_virt(uop, bytes(op))
    return 0


def _set_version(v, uop: int, count: int) -> int:
    """Only v1 is offered: asking for v2 gets -ENOSYS, as the issue allows."""
    if count != 1:
        return -E.EINVAL
    (version,) = struct.unpack("<I", v.read_virt(uop, 4))
    if version == 2:
        return -E.ENOSYS
    if version != 1:
        return -E.EINVAL
    v.write_virt(uop, struct.pack("<I", v.domain.grants.version))
    return 0


def _get_version(v, uop: int, count: int) -> int:
    """gnttab_get_version { domid_t dom; uint16_t pad; uint32_t version }"""
    if count != 1:
        return -E.EINVAL
    dom, _pad = struct.unpack("<HH", v.read_virt(uop, 4))
    if not _self(v, dom):
        return -E.EPERM
    v.write_virt(uop + 4, struct.pack("<I", v.domain.grants.version))
    return 0


def _dump_table(v, uop: int, count: int) -> int:
    """Print the table to the hypervisor log (`hv dmesg`)."""
    if count != 1:
        return -E.EINVAL
    cls = _pick(v, G.gnttab_dump_table_64, G.gnttab_dump_table_32)
    op = cls.from_buffer_copy(v.read_virt(uop, ctypes.sizeof(cls)))
    if not _self(v, op.dom):
        op.status = G.GNTST_permission_denied
    else:
        dom = v.domain
        lines = [f"grant table of d{dom.domid}: {dom.grants.nr_frames} frames, v1"]
        for ref, flags, domid, frame in dom.grants.live_entries():
            lines.append(f"  ref {ref}: flags {flags:#06x} dom {domid} frame {frame:#x}")
        dom.console_write(("\n".join(lines) + "\n").encode())
        op.status = G.GNTST_okay
    v.write_virt(uop, bytes(op))
    return 0


# ---- mapping other domains' pages --------------------------------------------------------
def _map_one(v, op) -> None:
    from hvcore.arch.x86.pv import foreign
    if not op.flags & (G.GNTMAP_host_map | G.GNTMAP_device_map):
        op.status = G.GNTST_bad_gntref
        return
    granter = v.domain.domid if op.dom == XEN.DOMID_SELF else op.dom
    try:
        op.handle, maddr = foreign.map_grant(v, granter, op.ref, op.flags, op.host_addr)
    except GrantError as err:
        op.status = err.status
        return
    op.dev_bus_addr = maddr
    op.status = G.GNTST_okay


def _unmap_one(v, op) -> None:
    from hvcore.arch.x86.pv import foreign
    try:
        foreign.unmap_grant(v, op.handle, op.host_addr)
    except GrantError as err:
        op.status = err.status
        return
    op.status = G.GNTST_okay


def _map_grant_ref(v, uop: int, count: int) -> int:
    return _ops(v, uop, count, _pick(v, G.gnttab_map_grant_ref_64, G.gnttab_map_grant_ref_32),
                _map_one)


def _unmap_grant_ref(v, uop: int, count: int) -> int:
    return _ops(v, uop, count,
                _pick(v, G.gnttab_unmap_grant_ref_64, G.gnttab_unmap_grant_ref_32), _unmap_one)


def _copy(v, uop: int, count: int) -> int:
    """gnttab_copy: done by the host, which can reach both domains' memory."""
    from hvcore.arch.x86.pv import foreign
    cls = _pick(v, G.gnttab_copy_64, G.gnttab_copy_32)
    return _ops(v, uop, count, cls, foreign.copy_one)


_HANDLERS = {
    G.GNTTABOP_setup_table: _setup_table,
    G.GNTTABOP_query_size: _query_size,
    G.GNTTABOP_set_version: _set_version,
    G.GNTTABOP_get_version: _get_version,
    G.GNTTABOP_dump_table: _dump_table,
    G.GNTTABOP_map_grant_ref: _map_grant_ref,
    G.GNTTABOP_unmap_grant_ref: _unmap_grant_ref,
    G.GNTTABOP_copy: _copy,
}
