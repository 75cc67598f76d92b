"""Event channel operations on a booted vCPU (hypercalls made with real guest memory)."""
import struct

import pytest
from unicorn import x86_const as X

from conftest import kernel
from hvcore import hypercalls
from hvcore.hypercalls import event_channel_op as ev
from hvcore.public import event_channel as EV
from hvcore.public import xen as XEN
from loaders.elf import load_kernel
from loaders.pv_builder import build_pv_domain


@pytest.fixture(params=["pv64", "pv32"])
def vcpu(request, guests):
    hypercalls.load_families()
    dom = build_pv_domain(load_kernel(str(kernel(request.param, "hello"))), 16, "", 1, "ev",
                          lambda data: None)
    yield dom.vcpus[0]
    dom.destroy()


def _op(v, cmd, payload: bytes, out_len: int = 16):
    scratch = v.reg(X.UC_X86_REG_RSI) + 2048          # inside start_info's page
    v.write_virt(scratch, payload.ljust(out_len, b"\0"))
    rc = hypercalls.call(v, XEN.HYPERVISOR_event_channel_op, (cmd, scratch, 0, 0, 0))
    return rc, v.read_virt(scratch, out_len)


def test_reset_closes_every_port_and_clears_pending(vcpu):
    rc, out = _op(vcpu, EV.EVTCHNOP_bind_virq, struct.pack("<II", XEN.VIRQ_DEBUG, 0))
    assert rc == 0
    virq_port = struct.unpack_from("<I", out, 8)[0]
    rc, out = _op(vcpu, EV.EVTCHNOP_bind_ipi, struct.pack("<I", 0))
    assert rc == 0
    ipi_port = struct.unpack_from("<I", out, 4)[0]
    assert _op(vcpu, EV.EVTCHNOP_send, struct.pack("<I", ipi_port))[0] == 0
    assert ev.port_pending(vcpu.domain, ipi_port)

    assert _op(vcpu, EV.EVTCHNOP_reset, struct.pack("<H", XEN.DOMID_SELF))[0] == 0

    for port in (virq_port, ipi_port):
        rc, out = _op(vcpu, EV.EVTCHNOP_status, struct.pack("<H2xI", XEN.DOMID_SELF, port), 24)
        assert rc == 0 and struct.unpack_from("<I", out, 8)[0] == EV.EVTCHNSTAT_closed
    assert not ev.port_pending(vcpu.domain, ipi_port)
    # another domain's channels are not ours to reset
    assert _op(vcpu, EV.EVTCHNOP_reset, struct.pack("<H", 7))[0] == -1     # -EPERM


def test_status_reports_public_codes(vcpu):
    rc, out = _op(vcpu, EV.EVTCHNOP_bind_virq, struct.pack("<II", XEN.VIRQ_TIMER, 0))
    port = struct.unpack_from("<I", out, 8)[0]
    rc, out = _op(vcpu, EV.EVTCHNOP_status, struct.pack("<H2xI", XEN.DOMID_SELF, port), 24)
    status, vcpu_id, virq = struct.unpack_from("<III", out, 8)
    assert (rc, status, vcpu_id, virq) == (0, EV.EVTCHNSTAT_virq, 0, XEN.VIRQ_TIMER)
    # binding the same VIRQ twice is refused
    assert _op(vcpu, EV.EVTCHNOP_bind_virq, struct.pack("<II", XEN.VIRQ_TIMER, 0))[0] == -17
