"""The guest-physical map an HVM domain's engines see: RAM, the A20 gate, and pages put
over RAM or beside it (XENMEM_add_to_physmap).

The engine cannot split a region mapped from host memory: `mem_protect` or a partial
unmap copies it, and the copy no longer shares the memfd with dom0 (see
../shared/notes/unicorn.md). So the map keeps its own list of the pieces it mapped
(RAM is one piece while nothing is put over it and A20 is on, the normal case, exactly
as before), and a change unmaps the whole pieces it touches and maps their span again
as runs of the same host memory: a page over RAM makes three pieces of one. The engine
pays for its regions only when one is mapped or unmapped (a rebuild of its map, a few
microseconds per region), never on a guest access.

A20 (the 8042's output port bit 1 or port 92h bit 1, hvcore/hvm/devices): while it is
off the CPU forces address bit 20 to 0, so each odd MiB shows the even MiB below it
(FFFF:0010 in real mode reads physical 0): one piece per MiB, the odd ones second views
of the host memory below, mapped only while A20 is off (turning it off or on costs
about 1 ms for 16 MiB of RAM, 0.1 s for 256 MiB). Devices' DMA is not masked (A20M#
is a CPU pin), so `dom.mem`, which devices use, is unaffected; the vCPUs' own walks
(`LinearMemory.a20_mask`) are.

A page put over RAM hides the RAM page beneath (Xen takes the frame out of the p2m);
taking it away shows that page again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hvcore import engine as eng
from hvcore.memory import PAGE_SHIFT, PAGE_SIZE, MemoryRegion

A20_BIT = 1 << 20


@dataclass(frozen=True)
class Page:
    """A page of hypervisor memory in the guest's map: its host address and its
    address in the domain's PhysicalMemory (where the hypervisor reaches it)."""
    host_addr: int
    paddr: int


@dataclass
class GuestPhysMap:
    ram: MemoryRegion
    engines: list[eng.Engine] = field(default_factory=list)
    a20: bool = True
    pages: dict[int, Page] = field(default_factory=dict)            # gpfn -> page
    on_a20: list[Callable[[int], None]] = field(default_factory=list)   # told the mask
    _pieces: list[tuple[int, int]] = field(default_factory=list)    # (paddr, size), RAM

    def __post_init__(self) -> None:
        self._pieces = [(paddr, size) for paddr, size, _host in self._runs(0, self.ram.size)]

    @property
    def a20_mask(self) -> int:
        return ~0 if self.a20 else ~A20_BIT

    def attach(self, engine: eng.Engine) -> None:
        """Map the domain's RAM (and the pages beside it) into a new vCPU's engine."""
        self.engines.append(engine)
        for paddr, size, host in self._runs(0, self.ram.size):
            engine.map_host_memory(paddr, size, host)
        for gpfn, page in self.pages.items():
            if not self._in_ram(gpfn):
                engine.map_host_memory(gpfn << PAGE_SHIFT, PAGE_SIZE, page.host_addr)

    # ---- changes ------------------------------------------------------------------------
    def set_a20(self, on: bool) -> None:
        if on == self.a20:
            return
        self.a20 = on
        self._remap(0, self.ram.size)
        for tell in self.on_a20:
            tell(self.a20_mask)

    def map_page(self, gpfn: int, page: Page) -> None:
        """`page` at `gpfn` (over RAM, or beside it), in place of what was there."""
        if gpfn in self.pages:
            self.unmap_page(gpfn)
        self.pages[gpfn] = page
        if self._in_ram(gpfn):
            self._remap_page(gpfn)
            return
        for engine in self.engines:
            engine.map_host_memory(gpfn << PAGE_SHIFT, PAGE_SIZE, page.host_addr)
            engine.flush_tlb()

    def unmap_page(self, gpfn: int) -> None:
        """Take the page at `gpfn` away: RAM shows through again (outside RAM: a hole)."""
        if self.pages.pop(gpfn, None) is None:
            return
        if self._in_ram(gpfn):
            self._remap_page(gpfn)
            return
        for engine in self.engines:
            engine.uc.mem_unmap(gpfn << PAGE_SHIFT, PAGE_SIZE)
            engine.flush_tlb()

    def resolve(self, paddr: int) -> int:
        """Where the hypervisor reaches guest-physical `paddr` in the domain's
        PhysicalMemory (a page put over RAM is not the RAM beneath)."""
        page = self.pages.get(paddr >> PAGE_SHIFT)
        return paddr if page is None else page.paddr + (paddr & (PAGE_SIZE - 1))

    # ---- the pieces ---------------------------------------------------------------------
    def _in_ram(self, gpfn: int) -> bool:
        return gpfn << PAGE_SHIFT < self.ram.size

    def _remap_page(self, gpfn: int) -> None:
        """Where the CPU sees `gpfn`: itself, and with A20 off its odd-MiB alias."""
        paddr = gpfn << PAGE_SHIFT
        self._remap(paddr, paddr + PAGE_SIZE)
        if not self.a20 and (paddr | A20_BIT) < self.ram.size:
            self._remap(paddr | A20_BIT, (paddr | A20_BIT) + PAGE_SIZE)

    def _host(self, paddr: int) -> int:
        """The host memory the CPU reaches at `paddr` (in RAM)."""
        paddr &= self.a20_mask
        page = self.pages.get(paddr >> PAGE_SHIFT)
        if page is not None:
            return page.host_addr + (paddr & (PAGE_SIZE - 1))
        return self.ram.host_addr + paddr

    def _runs(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """[start, end) as (paddr, size, host) runs of contiguous host memory."""
        cuts = {start, end}
        if not self.a20:
            cuts.update(range(start - start % A20_BIT + A20_BIT, end, A20_BIT))
        for gpfn in self.pages:                     # where it may show: itself, its alias
            for paddr in (gpfn << PAGE_SHIFT, (gpfn << PAGE_SHIFT) | A20_BIT):
                if start <= paddr < end:
                    cuts.update((paddr, min(paddr + PAGE_SIZE, end)))
        runs: list[list[int]] = []
        edges = sorted(cuts)
        for a, b in zip(edges, edges[1:]):
            host = self._host(a)
            if runs and runs[-1][2] + runs[-1][1] == host:
                runs[-1][1] += b - a
            else:
                runs.append([a, b - a, host])
        return [(a, size, host) for a, size, host in runs]

    def _remap(self, start: int, end: int) -> None:
        """Map [start, end) again: the whole pieces it overlaps or borders go (a
        neighbour may join up again), their span comes back as the runs it now has."""
        touched = [(a, size) for a, size in self._pieces if a <= end and a + size >= start]
        span_start = min(a for a, _size in touched)
        span_end = max(a + size for a, size in touched)
        runs = self._runs(span_start, span_end)
        for engine in self.engines:
            for paddr, size in touched:
                engine.uc.mem_unmap(paddr, size)
            for paddr, size, host in runs:
                engine.map_host_memory(paddr, size, host)
            engine.flush_tlb()
        kept = [piece for piece in self._pieces if piece not in touched]
        self._pieces = sorted(kept + [(a, size) for a, size, _host in runs])
