"""SMP PV guests: vCPU1.. brought up by the guest (VCPUOP_initialise/up/down/is_up),
IPIs to the right vCPU, and Xen's errnos for hostile vcpu_op arguments."""
import ctypes
import struct

import pytest
from unicorn import x86_const as X

from conftest import kernel, run_hv
from hvcore import hypercalls
from hvcore.arch.x86.pv import layout as L
from hvcore.arch.x86.pv.vcpu_context import context_class
from hvcore.hypercalls import event_channel_op as ev
from hvcore.public import errno as E
from hvcore.public import event_channel as EV
from hvcore.public import vcpu as VC
from hvcore.public import xen as XEN
from loaders.elf import LoaderError, load_kernel
from loaders.pv_builder import build_pv_domain


@pytest.mark.parametrize("abi", ["pv64", "pv32"])
def test_smp_guest_brings_up_its_vcpus(guests, abi):
    result = run_hv("run", kernel(abi, "smp"), "vcpus=4", "--timeout", "60", timeout=90)
    out = result.stdout
    assert result.code == 0, out + result.stderr
    assert "smp: 4 vCPUs" in out
    for cpu in (1, 2, 3):
        assert f"smp: vCPU{cpu} up on its own stack" in out
    assert "smp: vCPU1 got the IPI" in out
    assert "smp: counter 3 after 3 secondaries" in out
    assert "smp: vCPU1 resumed after VCPUOP_down" in out
    assert "FAIL" not in out and "smp: PASS" in out


def test_smp_guest_with_one_vcpu_says_so(guests):
    result = run_hv("run", kernel("pv64", "smp"), "--timeout", "30", timeout=60)
    assert result.code == 1 and "FAIL: boot with vcpus=2 or more" in result.stdout


def test_too_many_vcpus_is_one_line(guests):
    result = run_hv("run", kernel("pv64", "smp"), "vcpus=33", timeout=60)
    assert result.code == 2
    assert result.stderr.strip() == "hv: vcpus: 33 is out of range (1..32)"


@pytest.fixture(params=["pv64", "pv32"])
def boot_vcpu(request, guests):
    hypercalls.load_families()
    dom = build_pv_domain(load_kernel(str(kernel(request.param, "hello"))), 16, "", 1, "smp",
                          lambda data: None, vcpus=3)
    yield dom.vcpus[0]
    dom.destroy()


def _scratch(v) -> int:
    """Free, mapped, writable guest memory: the padding above the (unused) boot stack."""
    return v.reg(X.UC_X86_REG_RSP) & (0xFFFFFFFF if not v.is_64bit else (1 << 64) - 1)


def _context(v, rip: int, cr3_pfn: int, **fields) -> int:
    """A vcpu_guest_context in the guest's layout, written after start_info; its address."""
    c = context_class(v)()
    c.flags = 1 << 2                                  # VGCF_in_kernel
    if v.is_64bit:
        c.user_regs.rip, c.user_regs.rsp, c.user_regs.cs = rip, rip + 0x100000, L.FLAT_RING3_CS64
        c.user_regs.ss, c.ctrlreg[3] = L.FLAT_RING3_SS64, cr3_pfn << 12
    else:
        c.user_regs.eip, c.user_regs.esp, c.user_regs.cs = rip, rip + 0x100000, L.FLAT_RING1_CS
        c.user_regs.ss, c.ctrlreg[3] = L.FLAT_RING1_SS, cr3_pfn << 12
    for name, value in fields.items():
        target, attr = (c.user_regs, name[5:]) if name.startswith("regs_") else (c, name)
        setattr(target, attr, value)
    addr = _scratch(v)
    v.write_virt(addr, bytes(c))
    return addr


def _vcpu_op(v, cmd, vcpuid, arg=0):
    return hypercalls.call(v, XEN.HYPERVISOR_vcpu_op, (cmd, vcpuid, arg, 0, 0))


def _root_pfn(v) -> int:
    return v.state.guest_table >> 12


def test_secondaries_start_down_and_uninitialised(boot_vcpu):
    v = boot_vcpu
    dom = v.domain
    assert [o.state.up for o in dom.vcpus] == [True, False, False]
    assert [_vcpu_op(v, VC.VCPUOP_is_up, i) for i in range(3)] == [1, 0, 0]
    assert _vcpu_op(v, VC.VCPUOP_is_up, 3) == -E.ENOENT
    # each vCPU has its own engine and its own vcpu_info slot in shared_info
    assert len({id(o.engine) for o in dom.vcpus}) == 3
    assert [o.state.vcpu_info_paddr - dom.shared_info_paddr for o in dom.vcpus] == [0, 64, 128]


def test_hostile_vcpu_op_arguments(boot_vcpu):
    v = boot_vcpu
    good = _context(v, v.rip, _root_pfn(v))
    assert _vcpu_op(v, VC.VCPUOP_up, 1) == -E.EINVAL              # not initialised yet
    assert _vcpu_op(v, VC.VCPUOP_initialise, 3, good) == -E.ENOENT
    assert _vcpu_op(v, VC.VCPUOP_initialise, 0xFFFFFFFF, good) == -E.ENOENT
    assert _vcpu_op(v, VC.VCPUOP_up, 7) == -E.ENOENT
    assert _vcpu_op(v, VC.VCPUOP_initialise, 1, 16) == -E.EFAULT  # unmapped context
    assert _vcpu_op(v, VC.VCPUOP_initialise, 1, _context(v, v.rip, 0x7FFFFFFF)) == -E.EINVAL
    assert _vcpu_op(v, VC.VCPUOP_initialise, 1, _context(v, v.rip, _root_pfn(v),
                                                         ldt_base=0x123)) == -E.EINVAL
    assert _vcpu_op(v, VC.VCPUOP_initialise, 1, _context(v, v.rip, _root_pfn(v),
                                                         gdt_ents=9000)) == -E.EINVAL
    if v.is_64bit:
        bad_rip = _context(v, 0x0000_8000_0000_0000, _root_pfn(v))
        assert _vcpu_op(v, VC.VCPUOP_initialise, 1, bad_rip) == -E.EINVAL
    assert not v.domain.vcpus[1].state.initialised             # refusals changed nothing
    good = _context(v, v.rip, _root_pfn(v))                    # (one scratch area for all)
    assert _vcpu_op(v, VC.VCPUOP_initialise, 1, good) == 0
    assert _vcpu_op(v, VC.VCPUOP_initialise, 1, good) == -E.EEXIST
    assert _vcpu_op(v, VC.VCPUOP_initialise, 0, good) == -E.EEXIST   # the boot vCPU
    assert _vcpu_op(v, VC.VCPUOP_initialise, 1, 16) == -E.EFAULT     # copied in first, as Xen
    assert _vcpu_op(v, VC.VCPUOP_up, 1) == 0
    assert _vcpu_op(v, VC.VCPUOP_is_up, 1) == 1
    # timers are set by a vCPU for itself only
    timer = _scratch(v) + 4096 * 2
    v.write_virt(timer, struct.pack("<QI4x", 1, 0))
    assert _vcpu_op(v, VC.VCPUOP_set_singleshot_timer, 1, timer) == -E.EINVAL
    assert _vcpu_op(v, VC.VCPUOP_down, 1) == 0 and _vcpu_op(v, VC.VCPUOP_is_up, 1) == 0


def test_initialised_vcpu_enters_its_context(boot_vcpu):
    v = boot_vcpu
    t = v.domain.vcpus[2]
    ctx = _context(v, v.rip, _root_pfn(v), regs_rflags=0x3202 if v.is_64bit else 0,
                   **({"regs_rdi": 0x1234} if v.is_64bit else {"regs_eflags": 0x3202,
                                                              "regs_ebx": 0x1234}))
    assert _vcpu_op(v, VC.VCPUOP_initialise, 2, ctx) == 0
    assert t.state.initialised and not t.state.up and t.entry is not None
    assert t._enter()
    ring = 3 if v.is_64bit else 1
    assert (t.rip, t.engine.cpl) == (v.rip, ring)
    assert t.reg(X.UC_X86_REG_RDI if v.is_64bit else X.UC_X86_REG_EBX) == 0x1234
    assert t.state.iopl == 3                          # IOPL is virtual...
    assert t.reg(X.UC_X86_REG_EFLAGS) & 0x3200 == 0x200    # ...and IF always on
    assert t.cr3 != 0 and t.state.guest_table == v.state.guest_table


def test_ipi_and_bind_vcpu_go_to_the_right_vcpu(boot_vcpu):
    v = boot_vcpu
    dom = v.domain
    scratch = _scratch(v) + 4096 * 2

    def op(cmd, payload, out=16):
        v.write_virt(scratch, payload.ljust(out, b"\0"))
        rc = hypercalls.call(v, XEN.HYPERVISOR_event_channel_op, (cmd, scratch, 0, 0, 0))
        return rc, v.read_virt(scratch, out)

    assert op(EV.EVTCHNOP_bind_ipi, struct.pack("<I", 5))[0] == -E.ENOENT
    rc, out = op(EV.EVTCHNOP_bind_ipi, struct.pack("<I", 2))
    assert rc == 0
    port = struct.unpack_from("<I", out, 4)[0]
    assert op(EV.EVTCHNOP_send, struct.pack("<I", port))[0] == 0
    assert dom.vcpus[2].upcall_pending and not dom.vcpus[1].upcall_pending
    # an IPI stays on its vCPU; a per-vCPU VIRQ too; an unbound port may move
    assert op(EV.EVTCHNOP_bind_vcpu, struct.pack("<II", port, 1))[0] == -E.EINVAL
    assert op(EV.EVTCHNOP_bind_vcpu, struct.pack("<II", port, 9))[0] == -E.ENOENT
    rc, out = op(EV.EVTCHNOP_bind_virq, struct.pack("<II", XEN.VIRQ_TIMER, 1))
    assert rc == 0
    timer_port = struct.unpack_from("<I", out, 8)[0]
    assert op(EV.EVTCHNOP_bind_vcpu, struct.pack("<II", timer_port, 2))[0] == -E.EINVAL
    assert op(EV.EVTCHNOP_bind_virq, struct.pack("<II", XEN.VIRQ_CONSOLE, 1))[0] == -E.EINVAL
    rc, out = op(EV.EVTCHNOP_alloc_unbound, struct.pack("<HH", XEN.DOMID_SELF, XEN.DOMID_SELF))
    unbound = struct.unpack_from("<I", out, 4)[0]
    assert op(EV.EVTCHNOP_bind_vcpu, struct.pack("<II", unbound, 1))[0] == 0
    ev.set_pending(dom, unbound)
    assert dom.vcpus[1].upcall_pending


def test_timer_fires_on_its_own_vcpu(boot_vcpu):
    from hvcore.scheduler import fire_timers
    v = boot_vcpu
    dom = v.domain
    t = dom.vcpus[1]
    v.state.blocked = t.state.blocked = True
    t.state.timer_deadline_ns = 1                      # long past
    fire_timers(dom)
    assert not t.state.blocked and v.state.blocked and t.state.timer_deadline_ns is None


def test_context_layouts_are_under_the_header_check():
    from test_abi_layout import STRUCTS
    assert {"vcpu_guest_context_64", "vcpu_guest_context_32"} <= set(STRUCTS)
    assert ctypes.sizeof(STRUCTS["vcpu_guest_context_64"]) == 5168


def test_builder_refuses_bad_vcpu_counts(guests):
    image = load_kernel(str(kernel("pv64", "hello")))
    for bad in (0, 33):
        with pytest.raises(LoaderError, match="vcpus"):
            build_pv_domain(image, 16, "", 1, "x", lambda d: None, vcpus=bad)
