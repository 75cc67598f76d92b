"""Guest time as Xen keeps it: the native TSC, system time in ns since boot, wallclock.

As with Xen's default TSC mode, guests read the real (host) TSC with a native `rdtsc`;
the engine passes it through. We measure its rate once per process and publish
vcpu_time_info (tsc_timestamp, system_time, tsc_to_system_mul, tsc_shift) so that
Xen's formula  system_time + ((tsc - tsc_timestamp) << shift) * mul >> 32  gives
nanoseconds since the domain was created. No hook on rdtsc: the engine skips
instruction hooks while a stop is pending, so a hooked rdtsc could not be trusted.
"""
from __future__ import annotations

import functools
import time as _time
from dataclasses import dataclass, field

from unicorn import UC_ARCH_X86, UC_MODE_64, Uc
from unicorn import x86_const as X

_CALIBRATION_S = 0.02


class _NativeTsc:
    """The engine's TSC (the host's), read by running `rdtsc` in a scratch engine."""

    def __init__(self) -> None:
        self.uc = Uc(UC_ARCH_X86, UC_MODE_64)
        self.uc.mem_map(0x1000, 0x1000)
        self.uc.mem_write(0x1000, b"\x0f\x31")

    def read(self) -> int:
        self.uc.emu_start(0x1000, 0x1002)
        return (self.uc.reg_read(X.UC_X86_REG_RDX) & 0xFFFFFFFF) << 32 | \
            self.uc.reg_read(X.UC_X86_REG_RAX) & 0xFFFFFFFF

    def paired(self) -> tuple[int, int]:
        """(tsc, monotonic ns) taken as close together as we can."""
        t0 = _time.monotonic_ns()
        tsc = self.read()
        t1 = _time.monotonic_ns()
        return tsc, (t0 + t1) // 2


@functools.lru_cache(maxsize=1)
def native_tsc() -> _NativeTsc:
    return _NativeTsc()


@functools.lru_cache(maxsize=1)
def tsc_hz() -> int:
    return _rate_since(native_tsc().paired())


def _rate_since(start: tuple[int, int], at_least_s: float = _CALIBRATION_S) -> int:
    """The TSC's rate from a (tsc, ns) sample to now, at least `at_least_s` apart."""
    tsc0, ns0 = start
    _time.sleep(max(0.0, at_least_s - (_time.monotonic_ns() - ns0) / 1e9))
    tsc1, ns1 = native_tsc().paired()
    return int((tsc1 - tsc0) * 1e9 / (ns1 - ns0))


class HostTsc:
    """The TSC an HVM guest's `rdtsc` reads (the host's) for its local APIC's
    TSC-deadline timer, whose rate only says when to look at the TSC again (the TSC
    decides when it fires). The rate is the process's if measured already, else
    measured from a sample taken when the APIC was made: a guest that arms a deadline
    sooner than _CALIBRATION_S after that gets the rate measured so far (at least
    1 ms), so its wrmsr never waits for the full calibration."""
    EARLIEST_S = 0.001

    def __init__(self) -> None:
        self._start = native_tsc().paired()
        self._hz: int | None = None

    def now(self) -> int:
        return native_tsc().read()

    def hz(self) -> int:
        if self._hz is not None:
            return self._hz
        if tsc_hz.cache_info().currsize:
            self._hz = tsc_hz()
            return self._hz
        elapsed_s = (_time.monotonic_ns() - self._start[1]) / 1e9
        rate = _rate_since(self._start, self.EARLIEST_S)
        if elapsed_s >= _CALIBRATION_S:
            self._hz = rate
        return rate


def scale_for(hz: int) -> tuple[int, int]:
    """(tsc_to_system_mul, tsc_shift) for a TSC running at `hz`, as Xen computes them."""
    ratio = 1e9 / hz
    shift = 0
    while ratio >= 1.0:
        ratio /= 2
        shift += 1
    while ratio < 0.5:
        ratio *= 2
        shift -= 1
    return int(ratio * (1 << 32)), shift


@dataclass
class DomainTime:
    boot_ns: int = field(default_factory=_time.monotonic_ns)
    wall_at_boot_ns: int = field(default_factory=_time.time_ns)
    last_refresh_ns: int = field(default_factory=_time.monotonic_ns)

    def __post_init__(self) -> None:
        self.hz = tsc_hz()
        self.tsc_to_system_mul, self.tsc_shift = scale_for(self.hz)
        self.anchor_tsc, anchor_ns = native_tsc().paired()
        self.anchor_system_time = anchor_ns - self.boot_ns

    def system_time_ns(self) -> int:
        """System time exactly as the guest computes it from the TSC (so a timer never
        fires before the guest's own clock says its deadline has come)."""
        return self.system_time_at(self.tsc_now())

    def system_time_at(self, tsc: int) -> int:
        delta = tsc - self.anchor_tsc
        delta = delta << self.tsc_shift if self.tsc_shift >= 0 else delta >> -self.tsc_shift
        return self.anchor_system_time + (delta * self.tsc_to_system_mul >> 32)

    def record_now(self) -> tuple[int, int]:
        """(tsc_timestamp, system_time) for a fresh vcpu_time_info: the same clock as
        system_time_ns(), re-anchored at the current TSC."""
        tsc = self.tsc_now()
        return tsc, self.system_time_at(tsc)

    def tsc_now(self) -> int:
        """The TSC a guest `rdtsc` reads now."""
        return native_tsc().read()

    def refresh_clock_ns(self) -> int:
        """The clock that paces refresh_times (the host's; the guest's when deterministic)."""
        return _time.monotonic_ns()

    def wallclock_at_boot(self) -> tuple[int, int]:
        """(wc_sec, wc_nsec): wall time when system time was 0, as Xen publishes it."""
        return divmod(self.wall_at_boot_ns, 1_000_000_000)


# Xen refreshes every vCPU's time record at least about once a second; guests count on
# it: some (GRUB) compute (tsc - tsc_timestamp) * mul in 64 bits, which overflows after
# a few seconds of TSC at GHz rates.
REFRESH_NS = 250_000_000


def publish_vcpu_time(v) -> None:
    """Rewrite the vCPU's vcpu_time_info under its version seqlock (odd while changing)."""
    from hvcore.public import xen as XEN
    cls = XEN.vcpu_info_64 if v.is_64bit else XEN.vcpu_info_32
    info = v.domain.mem.struct_at(cls, v.state.vcpu_info_paddr)
    t = v.domain.time
    record = info.time
    record.version = (record.version + 1) | 1
    record.tsc_timestamp, record.system_time = t.record_now()
    record.tsc_to_system_mul, record.tsc_shift = t.tsc_to_system_mul, t.tsc_shift
    record.version += 1
    del record, info


def refresh_times(dom) -> None:
    """Republish the time records that are older than REFRESH_NS (cheap when fresh)."""
    now = dom.time.refresh_clock_ns()
    if now - dom.time.last_refresh_ns < REFRESH_NS:
        return
    dom.time.last_refresh_ns = now
    for v in dom.vcpus:
        if v.state.vcpu_info_paddr:
            publish_vcpu_time(v)
