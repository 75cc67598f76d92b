"""A PV vCPU: its Xen-visible state and the run loop that services its traps.

The loop runs the engine until the guest traps, then decides, as Xen's entry code would:
a hypercall (`syscall` from 64-bit kernel mode, `int $0x82` from 32-bit ring 1), a
privileged instruction to emulate (#GP), or an exception to bounce to the guest's trap
table. Event upcalls are delivered on the way back into the guest.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from unicorn import UcError
from unicorn import x86_const as X

from hvcore import engine as eng
from hvcore.arch.x86 import paging
from hvcore.arch.x86.pv import layout

if TYPE_CHECKING:
    from hvcore.domain import Domain

# Exceptions whose frame carries an error code.
ERROR_CODE_VECTORS = frozenset({8, 10, 11, 12, 13, 14, 17, 21})

CR0_TS = 1 << 3
DR6_RESET = 0xFFFF0FF0
DR7_RESET = 0x00000400
DR6_BS = 1 << 14          # single step



@dataclass
class TrapInfo:
    """One entry of the guest's virtual IDT (struct trap_info)."""
    vector: int
    flags: int      # bits 0-1: DPL for `int N`; bit 2: mask events on entry
    cs: int
    address: int

    @property
    def dpl(self) -> int:
        return self.flags & 3

    @property
    def masks_events(self) -> bool:
        return bool(self.flags & 4)


@dataclass
class Callback:
    cs: int = 0
    address: int = 0
    mask_events: bool = False


@dataclass
class GuestCpuState:
    """What Xen keeps per vCPU for a PV guest, beyond the registers in the engine."""
    kernel_mode: bool = True
    trap_table: dict[int, TrapInfo] = field(default_factory=dict)
    event_callback: Callback = field(default_factory=Callback)
    failsafe_callback: Callback = field(default_factory=Callback)
    syscall_callback: Callback = field(default_factory=Callback)
    syscall32_callback: Callback = field(default_factory=Callback)
    sysenter_callback: Callback = field(default_factory=Callback)
    nmi_callback: Callback = field(default_factory=Callback)
    kernel_ss: int = 0
    kernel_sp: int = 0
    guest_table: int = 0          # kernel top-level table (machine address)
    guest_table_user: int = 0     # 64-bit user top-level table (0 = none)
    iopl: int = 0                 # virtual IOPL (physdev_op set_iopl)
    iobmp: int = 0
    iobmp_limit: int = 0
    cr0_ts: bool = False
    debugreg: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0, 0, DR6_RESET, DR7_RESET])
    fs_base: int = 0
    gs_base_kernel: int = 0
    gs_base_user: int = 0
    gdt_frames: list[int] = field(default_factory=list)
    gdt_entries: int = 0
    ldt_base: int = 0
    ldt_entries: int = 0
    vcpu_info_paddr: int = 0
    timer_deadline_ns: int | None = None
    blocked: bool = False
    poll_ports: tuple[int, ...] = ()
    poll_deadline_ns: int | None = None
    up: bool = True               # Xen's !_VPF_down
    initialised: bool = True      # Xen's is_initialised (VCPUOP_initialise on vCPU1..)


@dataclass
class GuestEntry:
    """Where a vCPU first enters guest code (set by VCPUOP_initialise; entered by iret
    when the scheduler first runs it, so a bad context faults that vCPU, not the caller)."""
    rip: int
    cs: int
    rflags: int
    rsp: int
    ss: int
    data_selectors: tuple[int, int, int, int]     # ds, es, fs, gs


class VCPU:
    def __init__(self, domain: "Domain", vcpu_id: int, engine: eng.Engine) -> None:
        self.domain = domain
        self.id = vcpu_id
        self.engine = engine
        self.state = GuestCpuState()
        self.hv_l4 = 0           # compat guests: our L4 whose slot 0 holds the guest L3
        self.gdt_virt = layout.PERDOMAIN_VIRT_START + vcpu_id * layout.GDT_VIRT_STRIDE
        self.gdt_l1_paddr = 0    # L1 entries mapping this vCPU's GDT pages
        self.zero_page = 0
        self.traps_taken = 0
        self.hypercalls_made = 0
        self.entry: GuestEntry | None = None
        self._tlb: dict[tuple[int, int], tuple[int, bool]] = {}

    # ---- register access --------------------------------------------------------
    def reg(self, r: int) -> int:
        return self.engine.reg(r)

    def set_reg(self, r: int, v: int) -> None:
        self.engine.set_reg(r, v)

    @property
    def is_64bit(self) -> bool:
        return self.domain.is_64bit

    @property
    def rip(self) -> int:
        return self.reg(X.UC_X86_REG_RIP)

    @rip.setter
    def rip(self, value: int) -> None:
        self.set_reg(X.UC_X86_REG_RIP, value)

    def guest_cs(self) -> int:
        return self.reg(X.UC_X86_REG_CS)

    def in_kernel(self) -> bool:
        """Guest kernel mode: a flag for 64-bit PV (all in ring 3), ring 1 for 32-bit."""
        if self.is_64bit:
            return self.state.kernel_mode
        return self.engine.cpl == 1

    @property
    def cr3(self) -> int:
        return self.reg(X.UC_X86_REG_CR3)

    # ---- guest virtual memory ---------------------------------------------------
    def flush_tlb(self) -> None:
        """After any page-table change: the engine's TLB and our own translation cache."""
        self.engine.flush_tlb()
        self._tlb.clear()

    def translate(self, va: int, access: int = paging.ACCESS_READ) -> int:
        """As `_walk`, through a small cache of page translations (cleared on flush_tlb;
        every guest page-table change goes through a hypercall that flushes)."""
        key = (self.cr3, va >> 12)
        hit = self._tlb.get(key)
        if hit is not None and (hit[1] or access != paging.ACCESS_WRITE):
            return hit[0] | (va & 0xFFF)
        paddr = self._walk(va, access)
        if len(self._tlb) > 4096:
            self._tlb.clear()
        self._tlb[key] = (paddr & ~0xFFF, access == paging.ACCESS_WRITE or self._tlb_writable(va))
        return paddr

    def _tlb_writable(self, va: int) -> bool:
        try:
            self._walk(va, paging.ACCESS_WRITE)
            return True
        except paging.PageFault:
            return False

    def _walk(self, va: int, access: int = paging.ACCESS_READ) -> int:
        """Guest virtual -> guest physical through the live page tables (raises PageFault).

        The hypervisor touches guest memory with supervisor rights, as Xen does (ring 0),
        whichever mode the guest is in; Xen's own area is refused by the callers."""
        if not self.is_64bit:
            va &= 0xFFFFFFFF
        va = paging.canonical(va)
        if self.is_64bit and layout.HYPERVISOR_VIRT_START <= va < layout.HYPERVISOR_VIRT_END:
            raise paging.PageFault(va, paging.PFEC_PRESENT)   # Xen's area: never for guests
        return paging.walk(self.domain.mem, self.cr3, va, access, user=False).paddr

    def read_virt(self, va: int, length: int) -> bytes:
        return self.domain.mem.read_paged(self.translate, va, length)

    def write_virt(self, va: int, data: bytes) -> None:
        self.domain.mem.write_paged(self.translate, va, data)

    # ---- vcpu_info (in shared_info or where the guest registered it) -----------
    @property
    def upcall_pending(self) -> bool:
        return self.domain.mem.read(self.state.vcpu_info_paddr, 1)[0] != 0

    @property
    def upcall_mask(self) -> int:
        return self.domain.mem.read(self.state.vcpu_info_paddr + 1, 1)[0]

    @upcall_mask.setter
    def upcall_mask(self, value: int) -> None:
        self.domain.mem.write(self.state.vcpu_info_paddr + 1, bytes([value & 0xFF]))

    def set_ts(self, on: bool) -> None:
        """The guest's virtual CR0.TS (fpu_taskswitch, clts): the next FPU use raises #NM."""
        self.state.cr0_ts = on
        cr0 = self.reg(X.UC_X86_REG_CR0)
        self.set_reg(X.UC_X86_REG_CR0, cr0 | CR0_TS if on else cr0 & ~CR0_TS)

    def set_cr2(self, value: int) -> None:
        # vcpu_info.arch.cr2: offset 16 in the 64-bit layout, 8 in the 32-bit one
        off = 16 if self.is_64bit else 8
        paddr = self.state.vcpu_info_paddr + off
        if self.is_64bit:
            self.domain.mem.write_u64(paddr, value)
        else:
            self.domain.mem.write_u32(paddr, value & 0xFFFFFFFF)
        self.set_reg(X.UC_X86_REG_CR2, value)

    # ---- running ----------------------------------------------------------------
    def runnable(self) -> bool:
        return self.state.up and not self.state.blocked and self.domain.running

    def run_slice(self, slice_us: int) -> None:
        """Run guest code for up to `slice_us` microseconds, servicing every trap."""
        from hvcore.arch.x86.pv import traps   # late: traps imports this module
        if self.entry is not None and not self._enter():
            return
        if self.domain.tracer is not None:     # the same loop, with records
            from hvcore.trace.run_loop import run_slice
            run_slice(self.domain.tracer, self, slice_us)
            return
        with self.engine.time_slice(slice_us):
            while self.runnable():
                traps.deliver_pending_events(self)
                exit = self.engine.run(self.rip)
                if exit.kind in (eng.EXIT_TIMEOUT, eng.EXIT_STOPPED):
                    return
                self.traps_taken += 1
                traps.handle_exit(self, exit)

    def _enter(self) -> bool:
        """First entry into guest code from a VCPUOP_initialise context."""
        e, self.entry = self.entry, None
        try:
            self.engine.iret_to(e.rip, e.cs, e.rflags, e.rsp, e.ss)
        except eng.EngineError as why:
            from hvcore.crash import crash_domain
            crash_domain(self, f"vCPU{self.id} cannot enter guest code: {why}")
            return False
        for reg, sel in zip((X.UC_X86_REG_DS, X.UC_X86_REG_ES, X.UC_X86_REG_FS,
                             X.UC_X86_REG_GS), e.data_selectors):
            try:
                self.set_reg(reg, sel)
            except UcError:
                self.set_reg(reg, 0)      # a selector that does not load is left null
        return True
