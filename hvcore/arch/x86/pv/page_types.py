"""Page types and type counts of a PV domain's frames, as Xen's arch/x86/mm.c keeps them.

A frame is, at any moment, a writable page, or an L1/L2/L3/L4 page table, never two at
once; each holds a type count of the references that need it as that type (a writable
L1 entry needs its target writable; an L2 entry needs its target to be an L1 table; a
pin or a CR3 needs its frame to be a top-level table). The type can only change when
the count drops to 0. Taking a page-table type validates every entry of the frame and
takes the types its entries need, recursively; dropping the last reference drops them.
So a page table can never be mapped writable, and every table reachable from a CR3 has
been checked. Frames outside the domain's RAM (shared_info, grant frames, other domains'
grant-mapped pages) take no types: they can never become page tables.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hvcore.arch.x86 import paging as P
from hvcore.arch.x86.pv import layout as L

if TYPE_CHECKING:
    from hvcore.domain import Domain

NONE, L1, L2, L3, L4, WRITABLE = "none", 1, 2, 3, 4, "writable"
PAGE_TABLE_TYPES = (L1, L2, L3, L4)
_HV_SLOTS_64 = range(L.HYPERVISOR_L4_FIRST_SLOT, L.HYPERVISOR_L4_LAST_SLOT + 1)
_ENTRIES = {n: struct.Struct(f"<{n}Q") for n in (4, 512)}


@dataclass
class PageInfo:
    type: object = NONE
    count: int = 0
    pinned: bool = False


@dataclass
class PageTypes:
    """The type state of every RAM frame of one domain (keyed by MFN == PFN)."""
    dom: "Domain"
    pages: dict[int, PageInfo] = field(default_factory=dict)

    def info(self, mfn: int) -> PageInfo:
        page = self.pages.get(mfn)
        if page is None:
            page = self.pages[mfn] = PageInfo()
        return page

    def type_of(self, mfn: int) -> object:
        """The frame's type while something needs it, else NONE."""
        page = self.pages.get(mfn)
        return page.type if page is not None and page.count else NONE

    # ---- get_page_type / put_page_type ---------------------------------------------
    def get(self, mfn: int, wanted: object) -> bool:
        """Take one reference of type `wanted` (validating a table on first use)."""
        if not self.dom.is_ram_pfn(mfn):
            return wanted == WRITABLE and self.dom.owns_mfn(mfn)
        page = self.info(mfn)
        if page.count:
            if page.type != wanted:
                return False
            page.count += 1
            return True
        if wanted in PAGE_TABLE_TYPES:
            grants = self.dom.grants
            if grants is not None and not grants.become_table(mfn):
                return False                       # another domain maps it writable
            page.type, page.count = wanted, 1      # set first: a table may map itself RO
            if not self._validate(mfn, wanted):
                page.type, page.count = NONE, 0
                if grants is not None:
                    grants.stop_being_table(mfn)
                return False
            return True
        page.type, page.count = wanted, 1
        return True

    def put(self, mfn: int) -> None:
        page = self.pages.get(mfn)
        if page is None or not page.count:
            return
        page.count -= 1
        if page.count == 0:
            if page.type in PAGE_TABLE_TYPES:
                self._devalidate(mfn, page.type)
                if self.dom.grants is not None:
                    self.dom.grants.stop_being_table(mfn)
            page.type = NONE

    # ---- what a table's entries need -------------------------------------------------
    def entries(self, mfn: int, level: int) -> list[tuple[int, int]]:
        """(index, entry) of the present entries the guest controls in a table."""
        count = 4 if level == 3 and not self.dom.is_64bit else 512
        table = _ENTRIES[count].unpack(self.dom.mem.read(mfn << 12, count * 8))
        return [(i, e) for i, e in enumerate(table)
                if e & P.PAGE_PRESENT and not self.is_xen_slot(level, i, e)]

    def is_xen_slot(self, level: int, index: int, entry: int) -> bool:
        """Xen's own slots: the hypervisor L4 slots (64-bit), the compat M2P in the top
        L2 (32-bit PAE). They point at our frames and are never the guest's to change."""
        if self.dom.is_64bit:
            return level == 4 and index in _HV_SLOTS_64
        return level == 2 and index >= L.COMPAT_L2_FIRST_XEN_SLOT and \
            self.dom.hv_region.contains(entry & P.PADDR_MASK)

    def get_entry(self, level: int, entry: int) -> bool:
        """The references a present entry at `level` needs (get_page_from_lNe)."""
        target = (entry & P.PADDR_MASK) >> 12
        if level == 1:
            if self.dom.is_ram_pfn(target):
                return self.get(target, WRITABLE) if entry & P.PAGE_RW else True
            if self.dom.holds_foreign_mapping(target << 12):
                return True                         # a grant mapping of another domain's page
            return self.dom.owns_mfn(target)        # shared_info, grant frames: never tables
        if entry & P.PAGE_PSE or not self.dom.is_ram_pfn(target):
            return False                            # no superpages, only our own frames
        return self.get(target, level - 1)

    def put_entry(self, level: int, entry: int) -> None:
        target = (entry & P.PADDR_MASK) >> 12
        if level == 1 and not entry & P.PAGE_RW:
            return
        self.put(target)

    def _validate(self, mfn: int, level: int) -> bool:
        taken = []
        for _i, e in self.entries(mfn, level):
            if not self.get_entry(level, e):
                for done in reversed(taken):
                    self.put_entry(level, done)
                return False
            taken.append(e)
        return True

    def _devalidate(self, mfn: int, level: int) -> None:
        for _i, e in self.entries(mfn, level):
            self.put_entry(level, e)

    # ---- pins --------------------------------------------------------------------
    def pin(self, mfn: int, level: int) -> bool:
        if not self.dom.is_ram_pfn(mfn) or self.info(mfn).pinned:
            return False
        if not self.get(mfn, level):
            return False
        self.info(mfn).pinned = True
        return True

    def unpin(self, mfn: int) -> bool:
        page = self.pages.get(mfn)
        if page is None or not page.pinned:
            return False
        page.pinned = False
        self.put(mfn)
        return True

    def pinned(self) -> dict[int, int]:
        return {mfn: page.type for mfn, page in self.pages.items() if page.pinned}
