"""Guest time as Xen keeps it: a TSC, system time in ns since boot, and the wallclock.

The guest's TSC is virtual (rdtsc is hooked): it counts at 1 GHz from domain creation,
so vcpu_time_info can say tsc_to_system_mul = 2^31 with tsc_shift = 1, and
system_time = tsc exactly, which any guest computes right with Xen's formula.
"""
from __future__ import annotations

import time as _time
from dataclasses import dataclass, field

TSC_KHZ = 1_000_000
TSC_TO_SYSTEM_MUL = 0x8000_0000
TSC_SHIFT = 1


@dataclass
class DomainTime:
    boot_ns: int = field(default_factory=_time.monotonic_ns)
    wall_at_boot_ns: int = field(default_factory=_time.time_ns)

    def system_time_ns(self) -> int:
        return _time.monotonic_ns() - self.boot_ns

    def tsc_now(self) -> int:
        return self.system_time_ns()      # 1 GHz: one tick per ns

    def wallclock_at_boot(self) -> tuple[int, int]:
        """(wc_sec, wc_nsec): wall time when system time was 0, as Xen publishes it."""
        return divmod(self.wall_at_boot_ns, 1_000_000_000)
