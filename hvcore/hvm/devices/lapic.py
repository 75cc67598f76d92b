"""The local APIC of one vCPU (xAPIC, memory-mapped at FEE00000; Intel SDM vol. 3 ch. 10).

Registers (offsets in the page): ID 020, version 030, TPR 080, APR 090, PPR 0A0, EOI
0B0, LDR 0D0, DFR 0E0, SVR 0F0, ISR 100-170, TMR 180-1F0, IRR 200-270, ESR 280, ICR
300 (low, a write sends) and 310 (high: destination), LVT timer 320, thermal 330,
performance 340, LINT0 350, LINT1 360, error 370, timer initial count 380, current
count 390, divide configuration 3E0.

Every readable register is kept current in the page (hvcore/hvm/mmio.py), so reads are
plain loads; writes reach `mmio_write`. The timer counts a 1 GHz bus clock (Xen's
vlapic: one tick a nanosecond) divided by TDCR, in host time: one-shot or periodic
(LVT timer bits 17-18 = 00b, 01b), or TSC-deadline (10b, SDM 10.5.4.1): then TICR and
TCCR are not used and the IA32_TSC_DEADLINE MSR arms it; it fires once the TSC reaches
the deadline, which it then clears. LINT0 in ExtINT mode is the 8259A's INTR input (the virtual
wire mode our BIOS sets up); the vCPU asks `intr_pending` / `acknowledge`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

from hvcore.hvm.mmio import MmioPage, ReadWatch
from hvcore.hvm.platform import Device
from hvcore.time import HostTsc

if TYPE_CHECKING:
    from hvcore.hvm.apic_bus import ApicBus

LAPIC_BASE = 0xFEE00000
VERSION = 0x00050014                 # version 14h, max LVT entry 5 (six LVTs)
BUS_HZ = 1_000_000_000

ID, VER, TPR, APR, PPR, EOI, LDR, DFR, SVR = 0x20, 0x30, 0x80, 0x90, 0xA0, 0xB0, 0xD0, 0xE0, 0xF0
ISR, TMR, IRR, ESR, ICR_LOW, ICR_HIGH = 0x100, 0x180, 0x200, 0x280, 0x300, 0x310
LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR = (
    0x320, 0x330, 0x340, 0x350, 0x360, 0x370)
LVTS = (LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR)
TICR, TCCR, TDCR = 0x380, 0x390, 0x3E0

SVR_ENABLE = 1 << 8
LVT_MASKED = 1 << 16
LVT_LEVEL = 1 << 15
TIMER_ONE_SHOT, TIMER_PERIODIC, TIMER_TSC_DEADLINE = 0, 1 << 17, 2 << 17
TIMER_MODE_MASK = 3 << 17
ICR_DELIVERY_PENDING = 1 << 12
ICR_LEVEL_ASSERT = 1 << 14
ICR_LEVEL_TRIGGER = 1 << 15
ICR_LOGICAL = 1 << 11
DM_FIXED, DM_LOWEST, DM_SMI, DM_NMI, DM_INIT, DM_STARTUP, DM_EXTINT = 0, 1, 2, 4, 5, 6, 7
ESR_SEND_ILLEGAL, ESR_RECEIVE_ILLEGAL, ESR_ILLEGAL_REGISTER = 1 << 5, 1 << 6, 1 << 7

# what a write may change in each register (the rest reads back as the model says)
_LVT_WRITABLE = {LVT_TIMER: 0x700FF, LVT_THERMAL: 0x107FF, LVT_PERF: 0x107FF,
                 LVT_LINT0: 0x1A7FF, LVT_LINT1: 0x1A7FF, LVT_ERROR: 0x100FF}


class TscSource(Protocol):
    def now(self) -> int: ...
    def hz(self) -> int: ...



def _highest(bits: int) -> int:
    return bits.bit_length() - 1


@dataclass
class LocalApic(Device):
    apic_id: int
    bus: "ApicBus"
    page: MmioPage = field(default_factory=lambda: MmioPage(LAPIC_BASE))
    clock: Callable[[], float] = time.monotonic
    tsc: "TscSource" = field(default_factory=lambda: HostTsc())
    name: str = "lapic"
    wake: Callable[[], None] = lambda: None        # the vCPU: kick or unhalt
    tpr: int = 0
    svr: int = 0xFF
    ldr: int = 0
    dfr: int = 0xFFFFFFFF
    esr: int = 0
    esr_pending: int = 0
    icr_low: int = 0
    icr_high: int = 0
    lvt: dict[int, int] = field(default_factory=dict)
    ticr: int = 0
    tdcr: int = 0
    irr: int = 0
    isr: int = 0
    tmr: int = 0
    nmi_pending: bool = False
    timer_start: float = 0.0
    timer_due: float | None = None
    tsc_deadline: int = 0               # IA32_TSC_DEADLINE, armed while non-zero
    dirty: bool = False                 # the page needs `publish` (a store landed over it)
    # the read hook that keeps TCCR current in the page: wanted only while it counts
    count_watch: ReadWatch | None = None

    def __post_init__(self) -> None:
        self.reset()

    @property
    def ports(self):
        return ()

    # ---- state ------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on / INIT state: software disabled, every LVT masked."""
        self.tpr, self.svr, self.ldr, self.dfr = 0, 0xFF, 0, 0xFFFFFFFF
        self.esr = self.esr_pending = self.icr_low = self.icr_high = 0
        self.lvt = {reg: LVT_MASKED for reg in LVTS}
        self.ticr = self.tdcr = self.irr = self.isr = self.tmr = 0
        self.timer_due, self.nmi_pending, self.tsc_deadline = None, False, 0
        self._count_moves()
        self.publish()

    # ---- snapshots: timer deadlines as seconds after the save ----------------------------
    _SAVED = ("apic_id", "tpr", "svr", "ldr", "dfr", "esr", "esr_pending", "icr_low",
              "icr_high", "ticr", "tdcr", "irr", "isr", "tmr", "nmi_pending", "tsc_deadline")

    def save(self) -> dict:
        now = self.clock()
        return {**{name: getattr(self, name) for name in self._SAVED},
                "lvt": sorted(self.lvt.items()), "timer_start": self.timer_start - now,
                "timer_due": None if self.timer_due is None else self.timer_due - now}

    def load(self, state: dict) -> None:
        now = self.clock()
        for name in self._SAVED:
            setattr(self, name, state[name])
        self.lvt = {offset: value for offset, value in state["lvt"]}
        self.timer_start = now + state["timer_start"]
        due = state["timer_due"]
        self.timer_due = None if due is None else now + due
        if self.tsc_deadline and self.tsc_deadline_mode:     # the TSC jumped: look again
            self.timer_due = self._when_tsc_reaches(self.tsc_deadline)
        self._count_moves()
        self.publish()

    @property
    def enabled(self) -> bool:
        return bool(self.svr & SVR_ENABLE)

    def ppr(self) -> int:
        isrv = _highest(self.isr) if self.isr else 0
        return self.tpr if (self.tpr >> 4) >= (isrv >> 4) else isrv & 0xF0

    def register(self, offset: int) -> int:
        """What a read of `offset` returns."""
        simple = {ID: self.apic_id << 24, VER: VERSION, TPR: self.tpr, APR: 0,
                  PPR: self.ppr(), LDR: self.ldr, DFR: self.dfr, SVR: self.svr, ESR: self.esr,
                  ICR_LOW: self.icr_low & ~ICR_DELIVERY_PENDING, ICR_HIGH: self.icr_high,
                  TICR: self.ticr, TCCR: self.current_count(), TDCR: self.tdcr}
        if offset in simple:
            return simple[offset]
        if offset in self.lvt:
            return self.lvt[offset]
        for base, bits in ((ISR, self.isr), (TMR, self.tmr), (IRR, self.irr)):
            if base <= offset < base + 0x80:
                return (bits >> (32 * ((offset - base) >> 4))) & 0xFFFFFFFF
        return 0

    def publish(self) -> None:
        """Every readable register into the page."""
        for offset in range(0, 0x400, 0x10):
            self.page.write32(offset, self.register(offset))
        self.dirty = False

    def _publish_vectors(self) -> None:
        page = self.page
        for i in range(8):
            shift = 32 * i
            page.write32(ISR + 16 * i, self.isr >> shift)
            page.write32(TMR + 16 * i, self.tmr >> shift)
            page.write32(IRR + 16 * i, self.irr >> shift)
        page.write32(PPR, self.ppr())

    # ---- writes from the guest ---------------------------------------------------------
    def mmio_write(self, offset: int, size: int, value: int) -> None:
        if size != 4 or offset & 0xF:
            self.dirty = True          # only aligned dword accesses are defined
            self.wake()
            return
        self._write(offset, value)
        self.page.write32(offset, self.register(offset))
        if self.register(offset) != value:
            self.dirty = True          # the store lands as written: put it right
            self.wake()

    def _write(self, offset: int, value: int) -> None:
        if offset == ID:
            self.apic_id = value >> 24
        elif offset == TPR:
            self.tpr = value & 0xFF
            self._publish_vectors()
            self._maybe_wake()
        elif offset == EOI:
            self.eoi()
        elif offset == LDR:
            self.ldr = value & 0xFF000000
        elif offset == DFR:
            self.dfr = value | 0x0FFFFFFF
        elif offset == SVR:
            self._write_svr(value)
        elif offset == ESR:
            self.esr, self.esr_pending = self.esr_pending, 0
        elif offset == ICR_HIGH:
            self.icr_high = value & 0xFF000000
        elif offset == ICR_LOW:
            self.icr_low = value & 0xCCFFF
            self.bus.send_ipi(self, self.icr_low, self.icr_high >> 24)
        elif offset in self.lvt:
            self._write_lvt(offset, value)
        elif offset == TICR:
            self._start_timer(value)
        elif offset == TDCR:
            self.tdcr = value & 0xB
        elif offset in (VER, APR, PPR, TCCR) or ISR <= offset < ESR:
            pass                        # read-only
        else:
            self._error(ESR_ILLEGAL_REGISTER)

    def _write_svr(self, value: int) -> None:
        self.svr = value & 0x1FF
        if not self.enabled:
            for reg in LVTS:
                self.lvt[reg] |= LVT_MASKED

    def _write_lvt(self, offset: int, value: int) -> None:
        value &= _LVT_WRITABLE[offset]
        if not self.enabled:
            value |= LVT_MASKED
        if offset == LVT_TIMER and value & TIMER_MODE_MASK == TIMER_MODE_MASK:
            value &= ~TIMER_MODE_MASK           # 11b is reserved: treated as one-shot
        was_deadline = self.tsc_deadline_mode
        self.lvt[offset] = value
        if offset == LVT_TIMER and was_deadline != self.tsc_deadline_mode:
            self._disarm()                      # a move into or out of TSC-deadline mode
        if offset == LVT_LINT0:
            self._maybe_wake()

    def _error(self, bit: int) -> None:
        self.esr_pending |= bit
        lvt = self.lvt[LVT_ERROR]
        if not lvt & LVT_MASKED:
            self.accept(lvt & 0xFF, level=False)

    # ---- the timer ---------------------------------------------------------------------
    def divisor(self) -> int:
        code = (self.tdcr & 3) | ((self.tdcr >> 1) & 4)
        return 1 << ((code + 1) & 7)

    def period(self) -> float:
        return self.ticr * self.divisor() / BUS_HZ

    @property
    def tsc_deadline_mode(self) -> bool:
        return self.lvt[LVT_TIMER] & TIMER_MODE_MASK == TIMER_TSC_DEADLINE

    def _disarm(self) -> None:
        self.ticr = self.tsc_deadline = 0
        self.timer_due = None
        self._count_moves()

    def _start_timer(self, count: int) -> None:
        if self.tsc_deadline_mode:
            return                              # TICR writes are ignored in this mode
        self.ticr = count
        self.timer_start = self.clock()
        self.timer_due = self.timer_start + self.period() if count else None
        self._count_moves()

    def _count_moves(self) -> None:
        """TCCR in the page as of now; it needs its read hook only while counting."""
        self.page.write32(TCCR, self.current_count())
        if self.count_watch is not None:
            self.count_watch.want(self.timer_due is not None)

    def current_count(self) -> int:
        if self.timer_due is None or not self.ticr or self.tsc_deadline_mode:
            return 0
        left = (self.timer_due - self.clock()) * BUS_HZ / self.divisor()
        return max(0, min(self.ticr, int(left)))

    def refresh_count(self, offset: int) -> None:
        """The read hook on TCCR: the count as of now, before the load completes."""
        self.page.write32(TCCR, self.current_count())

    # ---- IA32_TSC_DEADLINE (the vCPU's rdmsr/wrmsr of 6E0h) ----------------------------
    def read_tsc_deadline(self) -> int:
        """Reads 0 outside TSC-deadline mode, and once the timer has fired."""
        return self.tsc_deadline if self.tsc_deadline_mode else 0

    def write_tsc_deadline(self, value: int) -> None:
        """Arms the timer for TSC >= `value` (a past value fires at once); 0 disarms.
        Ignored outside TSC-deadline mode."""
        if not self.tsc_deadline_mode:
            return
        self.tsc_deadline = value
        self.timer_due = self._when_tsc_reaches(value) if value else None
        if value:
            self.tick(self.clock())             # already passed: the interrupt now

    def _when_tsc_reaches(self, value: int) -> float:
        """The host time (our clock) at which the TSC reaches `value`."""
        hz = self.tsc.hz()
        ahead = value - self.tsc.now()
        return self.clock() + max(0, ahead) / hz

    def deadline(self) -> float | None:
        return self.timer_due

    def tick(self, now: float) -> None:
        due = self.timer_due
        if due is None or due > now:
            return
        lvt = self.lvt[LVT_TIMER]
        if self.tsc_deadline_mode:
            self._deadline_tick(lvt)
            return
        if lvt & TIMER_MODE_MASK == TIMER_PERIODIC and self.ticr:
            period = self.period()
            following = due + period
            self.timer_due = following if following > now else now + period
            self.timer_start = self.timer_due - period
        else:
            self.timer_due = None
            self._count_moves()
        if not lvt & LVT_MASKED:
            self.accept(lvt & 0xFF, level=False)

    def _deadline_tick(self, lvt: int) -> None:
        """The TSC itself decides: the host clock only said when to look (its rate was
        measured), so a guest that reads the TSC in its handler sees it past the
        deadline. Firing clears the MSR: one interrupt per write."""
        left = self.tsc_deadline - self.tsc.now()
        if left > 0:
            self.timer_due = self.clock() + max(left / self.tsc.hz(), 1e-6)
            return
        self.tsc_deadline, self.timer_due = 0, None
        if not lvt & LVT_MASKED:
            self.accept(lvt & 0xFF, level=False)

    # ---- interrupts in -----------------------------------------------------------------
    def accept(self, vector: int, level: bool) -> None:
        """A fixed interrupt arrives (an IPI, the IOAPIC, a local source)."""
        if vector < 16:
            self.esr_pending |= ESR_RECEIVE_ILLEGAL
            return
        if not self.enabled:
            return
        bit = 1 << vector
        self.irr |= bit
        self.tmr = (self.tmr | bit) if level else (self.tmr & ~bit)
        self._publish_vectors()
        self._maybe_wake()

    def nmi(self) -> None:
        self.nmi_pending = True
        self.wake()

    def _maybe_wake(self) -> None:
        if self.intr_pending():
            self.wake()

    # ---- what the vCPU asks ------------------------------------------------------------
    def _extint(self) -> bool:
        lint0 = self.lvt[LVT_LINT0]
        return (not lint0 & LVT_MASKED and (lint0 >> 8) & 7 == DM_EXTINT
                and self.bus.pic.intr_pending())

    def _deliverable(self) -> int | None:
        if not self.irr:
            return None
        vector = _highest(self.irr)
        return vector if (vector >> 4) > (self.ppr() >> 4) else None

    def intr_pending(self) -> bool:
        return self._deliverable() is not None or self._extint()

    def acknowledge(self) -> int:
        """INTA: the interrupt the CPU takes now (the 8259A's through ExtINT first, as
        it bypasses the APIC's priorities)."""
        if self._extint():
            return self.bus.pic.acknowledge()
        vector = self._deliverable()
        if vector is None:
            return self.svr & 0xFF               # spurious
        self.irr &= ~(1 << vector)
        self.isr |= 1 << vector
        self._publish_vectors()
        return vector

    def eoi(self) -> None:
        if not self.isr:
            return
        vector = _highest(self.isr)
        self.isr &= ~(1 << vector)
        if self.tmr & (1 << vector):
            self.bus.eoi(vector)
        self._publish_vectors()
        self._maybe_wake()
