"""Grant mappings of other domains' pages into a PV guest (Xen's create_grant_host_mapping).

The host pins the grant and tells us the granted frame; the granting domain's RAM memfd
comes with the first reply, and we map it here once. Mapping handle N puts the page at
machine address FOREIGN_PHYS_BASE + N * 4096 in every engine of this domain, and the
guest's L1 entry (at `host_addr`, or the PTE machine address with GNTMAP_contains_pte)
points there. Unmapping clears the PTE, removes the page from the engines and only then
asks the host to drop the pin, so the granting guest's end_access fails while any
mapping is alive and succeeds right after.
"""
from __future__ import annotations

import ctypes
import mmap
from dataclasses import dataclass

from hvcore.arch.x86 import paging as P
from hvcore.grant_table import MAX_MAPTRACK, GrantError
from hvcore.memory import PAGE_SIZE, ForeignRegion
from hvcore.public import grant_table as G

FOREIGN_PHYS_BASE = 0x1_0000_0000     # above 4 GiB and our own frames; MAX_MAPTRACK pages


@dataclass
class ForeignMapping:
    granter: int
    ref: int
    readonly: bool
    maddr: int
    pte_paddr: int | None
    region: ForeignRegion
    frame: int = -1             # the granter's frame behind it


@dataclass
class ForeignRam:
    """Another domain's RAM memfd, mapped in this process (only grant pages are used)."""
    map: mmap.mmap
    anchor: ctypes.c_char
    nr_pages: int

    @property
    def base(self) -> int:
        return ctypes.addressof(self.anchor)


def _ask(dom, message: dict) -> dict:
    if dom.host is None:
        raise GrantError(G.GNTST_bad_domain, "no other domains here")
    return dom.host.ask(message)


def _foreign_ram(dom, granter: int, reply: dict) -> ForeignRam:
    rams = dom.__dict__.setdefault("foreign_ram", {})
    fds = reply.get("_fds") or []
    if fds:                              # the host sends a granter's RAM once
        old = rams.pop(granter, None)
        size = reply["nr_pages"] * PAGE_SIZE
        ram = mmap.mmap(fds[0], size)
        import os
        os.close(fds[0])
        rams[granter] = ForeignRam(ram, ctypes.c_char.from_buffer(ram), reply["nr_pages"])
        if old is not None:
            _close_quietly(old)
    return rams[granter]


def _pte_for(v, flags: int, host_addr: int) -> int:
    from hvcore.hypercalls.mm import l1e_paddr
    if v.domain.hvm is not None:
        # for a translated guest Xen puts the page in its physical map at host_addr;
        # our HVM engines cannot take a page inside RAM (hvm/xen.py's add_to_physmap)
        raise GrantError(G.GNTST_general_error,
                         "host mappings into an HVM guest's physical map: not supported")
    if flags & G.GNTMAP_contains_pte:
        pte = host_addr if host_addr & 7 == 0 and v.domain.is_ram_pfn(host_addr >> 12) else None
    else:
        pte = l1e_paddr(v, host_addr)
    if pte is None:
        raise GrantError(G.GNTST_general_error, f"no L1 entry for {host_addr:#x}")
    return pte


def _pte_value(v, maddr: int, flags: int) -> int:
    val = maddr | P.PAGE_PRESENT | P.PAGE_ACCESSED | P.PAGE_DIRTY
    if not flags & G.GNTMAP_readonly:
        val |= P.PAGE_RW
    if v.is_64bit or flags & G.GNTMAP_application_map:
        val |= P.PAGE_USER             # 64-bit PV kernels run in ring 3
    return val


def _engines(dom):
    return [vcpu.engine for vcpu in dom.vcpus]


def map_grant(v, granter: int, ref: int, flags: int, host_addr: int) -> tuple[int, int]:
    """GNTTABOP_map_grant_ref for one op: returns (handle, machine address)."""
    dom = v.domain
    readonly = bool(flags & G.GNTMAP_readonly)
    pte = _pte_for(v, flags, host_addr) if flags & G.GNTMAP_host_map else None
    maptrack = dom.maptrack
    if len(maptrack.entries) >= maptrack.limit:
        raise GrantError(G.GNTST_no_device_space, "maptrack full")
    reply = _ask(dom, {"event": "grant_map", "dom": granter, "ref": ref, "readonly": readonly})
    if reply["status"] != G.GNTST_okay:
        raise GrantError(reply["status"], reply.get("error", ""))
    ram = _foreign_ram(dom, granter, reply)         # first: it may carry the RAM's fd
    if granter == dom.domid and not readonly and not _own_frame_writable(dom, reply["frame"]):
        _ask(dom, {"event": "grant_unmap", "dom": granter, "ref": ref, "readonly": readonly})
        raise GrantError(G.GNTST_general_error, f"frame {reply['frame']:#x} is a page table")
    handle = maptrack.add(None)
    maddr = FOREIGN_PHYS_BASE + handle * PAGE_SIZE
    region = ForeignRegion(maddr, ram.map, ram.base, reply["frame"] * PAGE_SIZE)
    dom.mem.add(region)
    for engine in _engines(dom):
        engine.map_host_memory(maddr, PAGE_SIZE, region.host_addr)
    if pte is not None:
        dom.mem.write_u64(pte, _pte_value(v, maddr, flags))
    maptrack.entries[handle] = ForeignMapping(granter, ref, readonly, maddr, pte, region,
                                               reply["frame"])
    _flush_all(dom)
    return handle, maddr


def unmap_grant(v, handle: int, host_addr: int) -> None:
    """GNTTABOP_unmap_grant_ref for one op."""
    dom = v.domain
    mapping = dom.maptrack.get(handle) if 0 <= handle < MAX_MAPTRACK else None
    if not isinstance(mapping, ForeignMapping):
        raise GrantError(G.GNTST_bad_handle, f"handle {handle}")
    if mapping.pte_paddr is not None:
        from hvcore.hypercalls.mm import l1e_paddr
        if host_addr and host_addr != mapping.pte_paddr \
                and l1e_paddr(v, host_addr) != mapping.pte_paddr:   # a VA, or the PTE itself
            raise GrantError(G.GNTST_general_error, f"{host_addr:#x} is not where {handle} is mapped")
        if dom.mem.read_u64(mapping.pte_paddr) & P.PADDR_MASK == mapping.maddr:
            dom.mem.write_u64(mapping.pte_paddr, 0)
    release(dom, handle, mapping)


def _own_frame_writable(dom, frame: int) -> bool:
    """A writable mapping of one of our own frames through our own grant holds a
    writable type reference, as Xen's get_page_type(PGT_writable_page) does: refused
    while the frame is a page table, and it cannot become one while mapped."""
    from hvcore.hypercalls.mm import page_types
    from hvcore.arch.x86.pv.page_types import WRITABLE
    return page_types(dom).get(frame, WRITABLE)


def release(dom, handle: int, mapping: ForeignMapping) -> None:
    """Take the page out of this domain, then let the host drop its pin."""
    for engine in _engines(dom):
        engine.uc.mem_unmap(mapping.maddr, PAGE_SIZE)
    dom.mem.remove(mapping.region)
    dom.maptrack.remove(handle)
    _flush_all(dom)
    if mapping.granter == dom.domid and not mapping.readonly:
        from hvcore.hypercalls.mm import page_types
        page_types(dom).put(mapping.frame)
    if dom.host is not None:
        dom.host.ask({"event": "grant_unmap", "dom": mapping.granter, "ref": mapping.ref,
                      "readonly": mapping.readonly})


def copy_one(v, op) -> None:
    """One gnttab_copy, done by the host (it reaches both domains' memory)."""
    def side(ptr, is_gref: bool) -> dict:
        return {"gref": ptr.u.ref if is_gref else None,
                "gmfn": None if is_gref else ptr.u.gmfn,
                "dom": ptr.domid, "offset": ptr.offset}
    message = {"event": "grant_copy",
               "source": side(op.source, bool(op.flags & G.GNTCOPY_source_gref)),
               "dest": side(op.dest, bool(op.flags & G.GNTCOPY_dest_gref)),
               "len": op.len}
    try:
        op.status = _ask(v.domain, message)["status"]
    except GrantError as err:
        op.status = err.status


def _flush_all(dom) -> None:
    for vcpu in dom.vcpus:
        vcpu.flush_tlb()


def _close_quietly(ram: ForeignRam) -> None:
    del ram.anchor
    try:
        ram.map.close()
    except BufferError:
        pass
