"""Guest time from retired instructions (`hv run --deterministic`).

Each engine counts the instructions it runs in a C code hook (hv_count_hook in
hvcore/native/preempt.c), which also ends a slice after a budget of instructions
instead of the slice timer. The domain's clock is the sum of its engines' counts plus
the time skipped while every vCPU was blocked waiting for a timer: one instruction is
one nanosecond, and the TSC runs at 1 GHz, so the TSC, Xen's system time and the
clock agree exactly. The guest reads the TSC through an `rdtsc` hook, the time records
in shared_info are published from the clock, and timers (set_timer_op, VCPUOP) fire
when the clock reaches them: nothing the guest sees comes from the host's clock.

The instruction count is the number of instructions the engine started: one that
faults is counted again when it is run again. That is still a function of the guest's
path alone, which is all determinism needs.
"""
from __future__ import annotations

import contextlib
import ctypes
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

from unicorn import UC_HOOK_CODE
from unicorn import x86_const as X

from hvcore.time import DomainTime, scale_for

if TYPE_CHECKING:
    from hvcore.domain import Domain
    from hvcore.engine import Engine

TSC_HZ = 1_000_000_000           # one instruction, one TSC tick, one nanosecond
INSNS_PER_US = 100               # a slice of SLICE_US microseconds runs this many per us
# The wall clock a deterministic guest boots at (2024-01-01T00:00:00Z): the host's
# would make every run differ.
WALL_AT_BOOT_NS = 1_704_067_200 * 1_000_000_000
NO_STOP = (1 << 64) - 1


class _Slot(ctypes.Structure):
    """struct hv_slot (hvcore/native/preempt.c)."""
    _fields_ = [("uc", ctypes.c_void_p), ("preempt", ctypes.c_int32),
                ("stop_next", ctypes.c_int32), ("doorbell", ctypes.c_void_p),
                ("icount", ctypes.c_uint64), ("icount_stop", ctypes.c_uint64),
                ("counting", ctypes.c_int32)]


class InsnCounter:
    """One engine's instruction count, and the count at which it stops next."""

    def __init__(self, engine: "Engine") -> None:
        from hvcore.native import preempt_library
        lib = preempt_library()
        lib.hv_slot_of.restype = ctypes.POINTER(_Slot)
        lib.hv_slot_of.argtypes = [ctypes.c_void_p]
        self.slot = lib.hv_slot_of(engine._uch).contents
        self.slot.icount, self.slot.icount_stop, self.slot.counting = 0, NO_STOP, 1
        hook_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                                     ctypes.c_void_p)
        self._hook = hook_type(("hv_count_hook", lib))
        engine.add_native_hook(UC_HOOK_CODE, self._hook, ctypes.addressof(self.slot), 1, 0)
        self.limit = NO_STOP         # a stop no slice may run past (replay's next event)

    @property
    def count(self) -> int:
        return self.slot.icount

    @count.setter
    def count(self, value: int) -> None:
        self.slot.icount = value

    def uncount(self) -> None:
        """A hook after ours stopped the engine before the instruction we counted."""
        self.slot.icount -= 1

    def stop_at(self, count: int) -> None:
        self.slot.icount_stop = min(count, self.limit)

    @contextlib.contextmanager
    def time_slice(self, slice_us: int) -> Iterator[None]:
        """Stands in for Engine.time_slice: a slice is a number of instructions."""
        with self.insn_slice(slice_us * INSNS_PER_US):
            yield

    @contextlib.contextmanager
    def insn_slice(self, budget: int) -> Iterator[None]:
        """A slice of exactly `budget` instructions (the HVM loop times each turn to
        its next device deadline in instructions: hvcore/replay/hvm.py)."""
        self.stop_at(self.count + budget)
        try:
            yield
        finally:
            self.slot.icount_stop = NO_STOP


@dataclass
class InstructionClock(DomainTime):
    """DomainTime whose TSC is the domain's instruction count (plus time skipped idle)."""
    boot_ns: int = 0
    wall_at_boot_ns: int = WALL_AT_BOOT_NS
    last_refresh_ns: int = 0
    counters: list[InsnCounter] = field(default_factory=list)
    idle_ns: int = 0                 # skipped while all vCPUs were blocked on a timer
    skips: list[tuple[int, int]] = field(default_factory=list)   # (from, to) of each skip

    def __post_init__(self) -> None:
        self.hz = TSC_HZ
        self.tsc_to_system_mul, self.tsc_shift = scale_for(TSC_HZ)
        self.anchor_tsc, self.anchor_system_time = 0, 0

    def tsc_now(self) -> int:
        return sum(c.slot.icount for c in self.counters) + self.idle_ns

    def system_time_ns(self) -> int:
        return self.tsc_now()

    def refresh_clock_ns(self) -> int:
        return self.tsc_now()

    def skip_to(self, ns: int) -> None:
        """Every vCPU is blocked until `ns`: time jumps there (no host time passes)."""
        now = self.tsc_now()
        if ns > now:
            self.idle_ns += ns - now
            self.skips.append((now, ns))

    def boundary_before(self, now: int) -> int | None:
        """The clock value before the last instruction run up to `now` (a skip is no
        instruction: the one before it is meant); None before the first."""
        before = now - 1
        for start, end in reversed(self.skips):
            if start < before + 1 <= end:
                before = start - 1
        return before if before >= 0 else None


def make_deterministic(dom: "Domain") -> InstructionClock:
    """Put a freshly built domain (before its first instruction) on the instruction
    clock: counters on its engines, `rdtsc`/`rdtscp` hooked, its time records and
    wall clock in shared_info written again (the builder wrote the host's)."""
    from loaders.pv_builder import _fill_shared_info
    clock = InstructionClock()
    dom.time = clock
    for v in dom.vcpus:
        counter = InsnCounter(v.engine)
        clock.counters.append(counter)
        v.engine.icount = counter
        v.engine.time_slice = counter.time_slice       # slices end by count, not timer
        hook_tsc_reads(v, clock, lambda v=v: v.id)   # TSC_AUX: the vCPU, as Linux sets it
    if dom.shared_info_paddr:
        _fill_shared_info(dom)
    return clock


def hook_tsc_reads(v, clock: InstructionClock, tsc_aux: Callable[[], int]) -> None:
    """Natively, rdtsc reads the host's TSC: in deterministic mode it reads the clock
    (rdtscp also `tsc_aux()` into ECX)."""
    def rdtsc() -> None:
        tsc = clock.tsc_now()
        v.engine.set_reg(X.UC_X86_REG_RAX, tsc & 0xFFFFFFFF)
        v.engine.set_reg(X.UC_X86_REG_RDX, tsc >> 32)

    def rdtscp() -> None:
        rdtsc()
        v.engine.set_reg(X.UC_X86_REG_RCX, tsc_aux())
    v.engine.add_inline_insn_hook(X.UC_X86_INS_RDTSC, rdtsc)
    v.engine.add_inline_insn_hook(X.UC_X86_INS_RDTSCP, rdtscp)
