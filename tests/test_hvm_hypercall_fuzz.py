"""Hostile hypercall arguments from an HVM (PVH) guest: every hypercall number, random
sub-ops and arguments, made on a vCPU of a real HVM domain with its Xen side, in 32-bit
protected mode and in long mode. Nothing may escape as a Python exception, every result
is success or one of Xen's errnos, and the PV-only calls are not there (-ENOSYS), as in
Xen's HVM hypercall table."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_hvm_delivery import firmware  # noqa: F401 - fixture
from test_hypercall_fuzz import SAME_EXAMPLES_EVERY_RUN, _args, _valid

from hvcore import hypercalls
from hvcore.arch.x86.hvm.cpu_state import CS, DESC_L, Segment
from hvcore.hvm.domain import build_hvm_domain
from hvcore.hvm.xen import attach_xen
from hvcore.public import errno as E
from hvcore.public import sched as S
from hvcore.public import vcpu as VC
from hvcore.public import xen as XEN

# calls that end or park the vCPU for good: made elsewhere (tests/test_pvh.py)
_PARKING = {(XEN.HYPERVISOR_sched_op, S.SCHEDOP_shutdown), (XEN.HYPERVISOR_sched_op, S.SCHEDOP_block),
            (XEN.HYPERVISOR_sched_op, S.SCHEDOP_poll), (XEN.HYPERVISOR_sched_op, S.SCHEDOP_remote_shutdown),
            (XEN.HYPERVISOR_vcpu_op, VC.VCPUOP_down), (XEN.HYPERVISOR_vcpu_op, VC.VCPUOP_initialise)}
_PV_ONLY = (XEN.HYPERVISOR_mmu_update, XEN.HYPERVISOR_update_va_mapping, XEN.HYPERVISOR_iret,
            XEN.HYPERVISOR_set_trap_table, XEN.HYPERVISOR_set_callbacks,
            XEN.HYPERVISOR_stack_switch, XEN.HYPERVISOR_fpu_taskswitch)
_RAM_MIB = 16


def _long_mode(dom) -> None:
    """Identity-map the first GiB with 2 MiB pages and enter 64-bit mode."""
    from unicorn import x86_const as X
    engine, state = dom.vcpus[0].engine, dom.vcpus[0].state
    dom.mem.write_u64(0x10000, 0x11000 | 3)
    dom.mem.write_u64(0x11000, 0x12000 | 3)
    for i in range(512):
        dom.mem.write_u64(0x12000 + 8 * i, (i << 21) | 0x83)
    engine.set_reg(X.UC_X86_REG_CR3, 0x10000)
    engine.set_reg(X.UC_X86_REG_CR4, engine.reg(X.UC_X86_REG_CR4) | 0x20)
    engine.uc.msr_write(0xC0000080, 0x500)                       # EFER.LME | LMA
    engine.set_reg(X.UC_X86_REG_CR0, engine.reg(X.UC_X86_REG_CR0) | 0x80000001)
    code = state.segment(CS)
    state.load_segment(CS, Segment(code.selector, 0, 0xFFFFFFFF, code.flags | DESC_L))


@pytest.fixture(scope="module", params=["32-bit", "64-bit"])
def view(request, firmware):  # noqa: F811
    hypercalls.load_families()
    dom = build_hvm_domain(1, "fuzz", _RAM_MIB, None, lambda data: None, firmware=firmware)
    xen = attach_xen(dom, rings=True)
    dom.vcpus[0].state.enter_flat32(0x100000, 0, 0)
    if request.param == "64-bit":
        _long_mode(dom)
    assert xen.views[0].is_64bit == (request.param == "64-bit")
    yield xen.views[0]
    dom.destroy()


@settings(max_examples=2000, deadline=None, derandomize=SAME_EXAMPLES_EVERY_RUN,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nr=st.sampled_from(sorted(n for n in range(64) if n != XEN.HYPERVISOR_iret)),
       sub=st.one_of(st.integers(0, 24), st.integers(0, (1 << 32) - 1)),
       args=st.tuples(_args, _args, _args, _args))
def test_any_hypercall_from_an_hvm_guest_gives_success_or_xen_errno(view, nr, sub, args):
    if (nr, sub) in _PARKING:
        return
    mask = (1 << 64) - 1 if view.is_64bit else 0xFFFFFFFF
    args = tuple(a & mask for a in (sub, *args))
    result = hypercalls.call(view, nr, args)
    assert _valid(result), (nr, [hex(a) for a in args], result)
    assert view.hvm.domain.running, (nr, [hex(a) for a in args])


@pytest.mark.parametrize("nr", _PV_ONLY)
def test_pv_only_hypercalls_are_not_in_the_hvm_table(view, nr):
    assert hypercalls.call(view, nr, (0, 0, 0, 0, 0)) == -E.ENOSYS
