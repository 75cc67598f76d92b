"""Xen's interfaces inside an HVM guest: hypercalls through the vmcall page, shared_info
and grant frames added to the guest's physical map, event channels delivered as an
interrupt vector, HVM params naming the xenstore and console rings.

The guest's Xen state is a `hvcore.domain.Domain` over the same memory, so the
hypercall families in hvcore/hypercalls serve HVM guests with the code they serve PV
guests with; each vCPU has a `XenVcpu` view that looks to them like a PV vCPU. The
vmcall itself raises #UD in the engine (it has no VMX): the vCPU's run loop asks
`XenInterface.vmcall` first, as Xen's #UD intercept would see a VMCALL exit.

Special pages (direct boot only, where no firmware owns the memory map): the xenstore
and console rings sit in the legacy video area, 0xA0000 and 0xA1000, which the memory
maps we give (XENMEM_memory_map, the PVH start info) report as reserved. The first hole
in that map is the end of RAM: where guests (GRUB among them) add shared_info and the
grant frames, mapped there from the hypervisor's own pages.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from unicorn import x86_const as X

from hvcore.arch.x86 import paging
from hvcore.arch.x86.hvm.cpu_state import CS
from hvcore.domain import Domain, HypercallRecord
from hvcore.grant_table import GrantFrames
from hvcore.hvm.physmap import Page
from hvcore.memory import FrameAllocator, MemoryRegion, PAGE_SHIFT, PAGE_SIZE
from hvcore.public import errno as E
from hvcore.public import hvm as H
from hvcore.public import xen as XEN
from hvcore.vcpu import GuestCpuState

if TYPE_CHECKING:
    from hvcore.arch.x86.hvm.vcpu import HvmVcpu
    from hvcore.hvm.domain import HvmDomain

VMCALL, VMMCALL = b"\x0f\x01\xc1", b"\x0f\x01\xd9"
XEN_PHYS_BASE = 0xE000_0000          # where our own pages sit in the domain's memory map
STORE_PFN, CONSOLE_PFN = 0xA0, 0xA1  # the special pages (direct boot)
STORE_EVTCHN, CONSOLE_EVTCHN = 1, 2
LOW_RAM_END, HIGH_RAM = 0xA0000, 0x100000
_ARGS = {True: (X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX, X.UC_X86_REG_R10,
                X.UC_X86_REG_R8),
         False: (X.UC_X86_REG_RBX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX, X.UC_X86_REG_RSI,
                 X.UC_X86_REG_RDI)}


class XenVcpu:
    """An HVM vCPU as the hypercall handlers see a vCPU."""

    def __init__(self, domain: Domain, hvm: "HvmVcpu") -> None:
        self.domain = domain
        self.hvm = hvm
        self.id = hvm.id
        self.engine = hvm.engine
        self.state = GuestCpuState()
        self.hypercalls_made = 0
        self.traps_taken = 0
        self.upcall_vector: int | None = None      # HVMOP_set_evtchn_upcall_vector

    @property
    def is_64bit(self) -> bool:
        """The hypercall ABI follows the caller's mode, as Xen's hvm_hypercall does."""
        return self.hvm.state.code64

    def reg(self, r: int) -> int:
        return self.engine.reg(r)

    def set_reg(self, r: int, value: int) -> None:
        self.engine.set_reg(r, value)

    def flush_tlb(self) -> None:
        self.engine.flush_tlb()

    def _ram_address(self, linear: int, write: bool) -> int:
        """Guest handles are linear addresses; the guest's RAM and the pages it added to
        its map (XENMEM_add_to_physmap) are reachable through them, our other pages in
        the domain's map are not."""
        paddr = self.hvm.mem.translate(linear, write)
        reached = self.hvm.domain.physmap.resolve(paddr)
        if reached == paddr and paddr >= self.hvm.domain.ram.size:
            raise paging.PageFault(linear, 0)
        return reached

    def read_virt(self, va: int, length: int) -> bytes:
        return self.domain.mem.read_paged(self._ram_address, va, length)

    def write_virt(self, va: int, data: bytes) -> None:
        self.domain.mem.write_paged(self._ram_address, va, data)

    @property
    def upcall_pending(self) -> bool:
        return self.domain.mem.read(self.state.vcpu_info_paddr, 1) != b"\0"

    @property
    def upcall_mask(self) -> int:
        return self.domain.mem.read(self.state.vcpu_info_paddr + 1, 1)[0]

    @upcall_mask.setter
    def upcall_mask(self, value: int) -> None:
        self.domain.mem.write(self.state.vcpu_info_paddr + 1, bytes([value]))


class XenSide(Domain):
    """The HVM guest's Xen state: what SCHEDOP_shutdown (or a crash found by a
    hypercall) does to it stops the HVM domain itself."""

    def shutdown(self, reason: str) -> None:
        super().shutdown(reason)
        self.hvm.hvm.shutdown(reason)

    def crash(self, report: str) -> None:
        super().crash(report)
        self.hvm.hvm.crash(report)


@dataclass
class XenInterface:
    hvm: "HvmDomain"
    dom: Domain
    views: list[XenVcpu] = field(default_factory=list)
    params: dict[int, int] = field(default_factory=dict)
    physmap: dict[tuple[int, int], int] = field(default_factory=dict)   # (space, idx) -> gpfn
    rings: bool = False
    gsi_asserted: int | None = None     # the callback GSI we hold asserted (type 0 form)

    # ---- hypercalls ---------------------------------------------------------------------
    def vmcall(self, hv: "HvmVcpu") -> bool:
        """The #UD at CS:RIP was a vmcall/vmmcall: serve it as a hypercall. False: a real
        invalid opcode, for the guest's #UD handler."""
        from hvcore.hypercalls import call
        try:
            code = hv.mem.read(hv.state.segment(CS).base + hv.rip, 3)
        except Exception:                   # noqa: BLE001 - unreadable: not ours
            return False
        if code not in (VMCALL, VMMCALL):
            return False
        view = self.views[hv.id]
        wide = view.is_64bit
        mask = (1 << 64) - 1 if wide else 0xFFFFFFFF
        nr = hv.engine.reg(X.UC_X86_REG_RAX) & 0xFFFFFFFF
        args = tuple(hv.engine.reg(r) & mask for r in _ARGS[wide])
        record = HypercallRecord(hv.id, nr, XEN.hypercall_names.get(nr, f"#{nr}"), args)
        self.dom.hypercall_log.append(record)
        view.hypercalls_made += 1
        # Xen refuses hypercalls from guest user mode (hvm_hypercall: -EPERM)
        result = call(view, nr, args) if hv.state.cpl == 0 else -E.EPERM
        record.result = result
        hv.engine.set_reg(X.UC_X86_REG_RAX, result & mask)
        hv.engine.set_reg(X.UC_X86_REG_RIP, hv.rip + len(code))
        if view.state.blocked:             # SCHEDOP_block/poll: asleep until an event
            hv.halted = hv.xen_blocked = True
        return True

    # ---- events as an interrupt vector ---------------------------------------------------
    def callback_vector(self, hv: "HvmVcpu") -> int | None:
        """The vector to raise now: the callback (vector form) while the vCPU's
        evtchn_upcall_pending is set, as Xen's hvm_vcpu_has_pending_irq."""
        self.sync_callback_gsi()
        view = self.views[hv.id]
        vector = view.upcall_vector
        via = self.params.get(H.HVM_PARAM_CALLBACK_IRQ, 0)
        if vector is None and via >> H.HVM_PARAM_CALLBACK_TYPE_SHIFT == H.HVM_PARAM_CALLBACK_TYPE_VECTOR:
            vector = via & 0xFF
        if vector is None or vector < 0x10 or not view.upcall_pending:
            return None
        return vector

    def sync_callback_gsi(self) -> None:
        """HVM_PARAM_CALLBACK_IRQ's GSI form (type 0, GSI in the low byte, 0: none):
        the line is asserted while vCPU 0's evtchn_upcall_pending is set and let go once
        the guest clears it, as Xen's hvm_set_callback_irq_level and
        hvm_maybe_deassert_evtchn_irq do (checked here on the way into the guest).
        GSIs 0-15 are the 8259A's lines too; every GSI is the IOAPIC pin of its number."""
        via = self.params.get(H.HVM_PARAM_CALLBACK_IRQ, 0)
        gsi = via & 0xFF if via >> H.HVM_PARAM_CALLBACK_TYPE_SHIFT == H.HVM_PARAM_CALLBACK_TYPE_GSI else 0
        wanted = gsi if gsi and self.views and self.views[0].upcall_pending else None
        if wanted == self.gsi_asserted:
            return
        if self.gsi_asserted is not None:
            self._drive_gsi(self.gsi_asserted, False)
        self.gsi_asserted = wanted
        if wanted is not None:
            self._drive_gsi(wanted, True)

    def _drive_gsi(self, gsi: int, level: bool) -> None:
        if gsi < 16:
            self.hvm.interrupts.set_irq(gsi, level)
        self.hvm.ioapic.set_pin(gsi, level)
        if level and self.hvm.irqs.on_raise is not None:
            self.hvm.irqs.on_raise()

    def wakes(self, hv: "HvmVcpu") -> bool:
        """A vCPU asleep in SCHEDOP_block/poll wakes once an event (or its timer) came."""
        if hv.xen_blocked and not self.views[hv.id].state.blocked:
            hv.xen_blocked = False
            return True
        return False

    def between_slices(self) -> None:
        from hvcore.scheduler import fire_timers
        from hvcore.time import refresh_times
        fire_timers(self.dom)
        refresh_times(self.dom)
        self.sync_callback_gsi()

    def next_deadline(self) -> float | None:
        """When the next Xen timer is due (time.monotonic), if one is armed."""
        from hvcore.scheduler import next_deadline_ns
        import time
        wake = next_deadline_ns(self.dom)
        if wake is None:
            return None
        return time.monotonic() + max(0, wake - self.dom.time.system_time_ns()) / 1e9

    # ---- the physical map ----------------------------------------------------------------
    def add_to_physmap(self, space: int, idx: int, gpfn: int) -> int:
        """XENMEM_add_to_physmap for shared_info and grant frames."""
        if space == H.XENMAPSPACE_shared_info and idx == 0:
            region, offset = self.dom.hv_region, self.dom.shared_info_paddr - self.dom.hv_region.paddr
        elif space == H.XENMAPSPACE_grant_table and idx < self.dom.grants.nr_frames \
                and not idx & H.XENMAPIDX_grant_table_status:
            region, offset = self.dom.grants.region, idx * PAGE_SIZE
        else:
            return -E.EINVAL
        if not self._free_gpfn(gpfn, (space, idx)):
            return -E.EINVAL
        old = self.physmap.pop((space, idx), None)
        if old is not None:
            self.hvm.physmap.unmap_page(old)
        # over RAM the page hides the frame beneath (Xen takes it out of the p2m), beside
        # RAM it fills a hole: hvcore/hvm/physmap.py remaps either without a copy
        self.hvm.physmap.map_page(gpfn, Page(region.host_addr + offset, region.paddr + offset))
        self.physmap[(space, idx)] = gpfn
        if space == H.XENMAPSPACE_shared_info:
            self.latch_width(self.hvm.vcpus[0])
        return 0

    def _free_gpfn(self, gpfn: int, key: tuple[int, int]) -> bool:
        """In RAM or beside it, below the IOAPIC and local APIC pages, not another
        mapping, not a special page (the rings dom0 serves from RAM)."""
        taken = {g for k, g in self.physmap.items() if k != key}
        special = {self.params.get(H.HVM_PARAM_STORE_PFN), self.params.get(H.HVM_PARAM_CONSOLE_PFN)}
        return gpfn < 0xFEC00 and gpfn not in taken and gpfn not in special

    def latch_width(self, hv: "HvmVcpu") -> None:
        """shared_info's layout follows the mode of the guest when it sets its callback
        or maps the page (Xen's hvm_latch_shinfo_size)."""
        self.dom.is_64bit = hv.state.code64

    def e820(self) -> list[tuple[int, int, int]]:
        """The memory map a direct-booted guest is given: RAM, the legacy hole
        (reserved: the special pages live in it), RAM above 1 MiB."""
        size = self.hvm.ram.size
        return [(0, LOW_RAM_END, H.XEN_HVM_MEMMAP_TYPE_RAM),
                (LOW_RAM_END, HIGH_RAM - LOW_RAM_END, H.XEN_HVM_MEMMAP_TYPE_RESERVED),
                (HIGH_RAM, size - HIGH_RAM, H.XEN_HVM_MEMMAP_TYPE_RAM)]

    def memory_map(self) -> bytes:
        """XENMEM_memory_map's e820 entries (addr u64, size u64, type u32)."""
        return b"".join(struct.pack("<QQI", a, s, t) for a, s, t in self.e820())


def attach_xen(hvm: "HvmDomain", rings: bool) -> XenInterface:
    """Give an HVM domain its Xen side. `rings`: a direct-booted guest gets the xenstore
    and console rings in its special pages (HVM params name them)."""
    hv_region = hvm.mem.add(MemoryRegion(f"hv-d{hvm.domid}-xen", XEN_PHYS_BASE, 4 * PAGE_SIZE))
    dom = XenSide(domid=hvm.domid, name=hvm.name, is_64bit=False, mem=hvm.mem, ram=hvm.ram,
                 hv_region=hv_region, frames=FrameAllocator(hvm.mem, hv_region),
                 nr_pages=hvm.nr_pages, max_pages=hvm.nr_pages,
                 console_write=lambda data: _after_serial(hvm, data))
    dom.shared_info_paddr = dom.frames.alloc()
    dom.grants = GrantFrames(hvm.domid, hvm.nr_pages)
    hvm.mem.add(dom.grants.region)
    xen = XenInterface(hvm, dom, rings=rings)
    dom.hvm = hvm.xen = xen
    dom.console_evtchn, dom.store_evtchn = CONSOLE_EVTCHN, STORE_EVTCHN
    if rings:
        dom.console_pfn, dom.store_pfn = CONSOLE_PFN, STORE_PFN
        for pfn in (STORE_PFN, CONSOLE_PFN):
            hvm.mem.zero(pfn << PAGE_SHIFT, PAGE_SIZE)
        xen.params.update({H.HVM_PARAM_STORE_PFN: STORE_PFN, H.HVM_PARAM_STORE_EVTCHN: STORE_EVTCHN,
                           H.HVM_PARAM_CONSOLE_PFN: CONSOLE_PFN,
                           H.HVM_PARAM_CONSOLE_EVTCHN: CONSOLE_EVTCHN})
    for v in hvm.vcpus:
        view = XenVcpu(dom, v)
        view.state.vcpu_info_paddr = dom.shared_info_paddr + v.id * 64
        dom.vcpus.append(view)
        xen.views.append(view)
        v.xen = xen
    _fill_shared_info(dom)
    return xen


def _fill_shared_info(dom: Domain) -> None:
    """Time records and the wallclock, as the PV builder leaves them; events unmasked
    (an HVM guest's vector callback does not look at evtchn_upcall_mask)."""
    from loaders.pv_builder import _fill_shared_info as fill_pv
    fill_pv(dom)
    for v in dom.vcpus:
        v.upcall_mask = 0


def _after_serial(hvm: "HvmDomain", data: bytes) -> None:
    """console_io output goes out after what the guest wrote before it on its serial
    consoles (port E9, the UART), which wait in the domain's console buffer."""
    hvm.flush_console()
    hvm.console_write(data)
