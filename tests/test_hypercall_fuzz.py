"""Hostile hypercall arguments: every hypercall, random sub-ops and arguments, made on a
booted guest's vCPU. Nothing may escape as a Python exception, and every result must be
success or one of Xen's errno values (Xen's rule: a bad guest gets an errno)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import kernel
from hvcore import hypercalls
from hvcore.hypercalls import NO_RESULT
from hvcore.public import errno as E
from loaders.elf import load_kernel
from loaders.pv_builder import build_pv_domain

# values that hit edges: pointers into the guest, into Xen's area, unmapped, huge
_INTERESTING = [0, 1, 2, 3, 4, 7, 8, 13, 31, 32, 64, 255, 256, 4095, 4096, 0x7FF0, 0x7FFF,
                0xFFFF, 0xFFFFFFFF, 0x80000000, 1 << 63, (1 << 64) - 1,
                0xFFFF800000000000, 0xFFFF808000000000, 0xFFFFFFFF80000000,
                0xFFFFFFFF80001000, 0xFFFFFFFF80400000, 0xC0000000, 0xC0001000, 0xF5800000]
_args = st.one_of(st.sampled_from(_INTERESTING), st.integers(0, (1 << 64) - 1))
# iret and the shutdown/block sub-ops end or park the guest: fuzz them on fresh domains
_NUMBERS = sorted(n for n in range(64) if n != 23)


@pytest.fixture(scope="module", params=["pv64", "pv32"])
def vcpu(request, guests):
    hypercalls.load_families()
    dom = build_pv_domain(load_kernel(str(kernel(request.param, "hello"))), 16, "", 1,
                          "fuzz", lambda data: None)
    yield dom.vcpus[0]
    dom.destroy()


def _valid(result) -> bool:
    if result is NO_RESULT:
        return True
    assert isinstance(result, int), result
    return result >= 0 or -result in E.ALL


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nr=st.sampled_from(_NUMBERS), args=st.tuples(_args, _args, _args, _args, _args))
def test_any_hypercall_gives_success_or_xen_errno(vcpu, nr, args):
    mask = (1 << 64) - 1 if vcpu.is_64bit else 0xFFFFFFFF
    args = tuple(a & mask for a in args)
    result = hypercalls.call(vcpu, nr, args)
    assert _valid(result), (nr, [hex(a) for a in args], result)
