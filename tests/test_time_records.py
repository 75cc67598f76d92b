"""vcpu_time_info stays fresh, as Xen keeps it: the record is republished under its
version seqlock, and Xen's formula over it gives the hypervisor's own system time."""
import time

import pytest

from conftest import kernel
from hvcore import hypercalls
from hvcore.public import xen as XEN
from hvcore.time import REFRESH_NS, refresh_times
from loaders.elf import load_kernel
from loaders.pv_builder import build_pv_domain


@pytest.fixture(params=["pv64", "pv32"])
def dom(request, guests):
    hypercalls.load_families()
    d = build_pv_domain(load_kernel(str(kernel(request.param, "hello"))), 16, "", 1, "t",
                        lambda data: None)
    yield d
    d.destroy()


def _record(d):
    cls = XEN.vcpu_info_64 if d.is_64bit else XEN.vcpu_info_32
    t = d.mem.struct_at(cls, d.vcpus[0].state.vcpu_info_paddr).time
    return t.version, t.tsc_timestamp, t.system_time, t.tsc_to_system_mul, t.tsc_shift


def _guest_formula(record, tsc: int) -> int:
    """What a guest computes, in 64-bit arithmetic as GRUB and Mini-OS do."""
    _version, stamp, system, mul, shift = record
    delta = tsc - stamp
    delta = delta << shift if shift >= 0 else delta >> -shift
    return system + (((delta * mul) & (2**64 - 1)) >> 32)


def test_records_are_republished_and_agree_with_system_time(dom):
    first = _record(dom)
    dom.time.last_refresh_ns = time.monotonic_ns()       # as if just published
    refresh_times(dom)                                   # fresh: nothing to do
    assert _record(dom) == first
    dom.time.last_refresh_ns -= 2 * REFRESH_NS
    time.sleep(0.01)
    refresh_times(dom)
    second = _record(dom)
    assert second[0] % 2 == 0 and second[0] > first[0]    # seqlock: even, moved on
    assert second[1] > first[1]                           # a new TSC stamp
    tsc = dom.time.tsc_now() + dom.time.hz // 10        # 100 ms on: well past the record
    assert abs(_guest_formula(second, tsc) - dom.time.system_time_at(tsc)) < 1_000


def test_a_64_bit_guest_formula_overflows_without_refresh(dom):
    """Why the refresh matters: after some seconds of TSC, the boot-time record gives
    nonsense to a guest that multiplies in 64 bits."""
    record = _record(dom)
    later = record[1] + dom.time.hz * 30                 # 30 s of TSC on
    true_ns = record[2] + 30 * 10**9
    assert abs(_guest_formula(record, later) - true_ns) > 10**9
