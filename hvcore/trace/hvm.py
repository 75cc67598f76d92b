"""`--trace` for an HVM or PVH domain: the PV tracer (hvcore/trace/tracer.py) given what
differs. Addresses are linear (CS base + EIP) and code is disassembled in the vCPU's
mode; port I/O is recorded on the domain's I/O bus; interrupts are recorded where the
vCPU delivers them; event channels and hypercalls go through the Xen side's domain,
which is where hvcore/hypercalls records them for PV guests too.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from hvcore.trace import format as fmt
from hvcore.trace.code_records import HvmCodeDescriber
from hvcore.trace.spec import DomainSpec
from hvcore.trace.symbols import SymbolTable
from hvcore.trace.tracer import Tracer, now_ns

if TYPE_CHECKING:
    from hvcore.arch.x86.hvm.vcpu import HvmVcpu
    from hvcore.hvm.domain import HvmDomain


def start_tracer(dom: "HvmDomain", spec: DomainSpec, path: str, spec_text: str,
                 abi: str) -> Tracer:
    """The domain's tracer, hooked in (TraceSetupError, OSError: as for PV)."""
    describer = HvmCodeDescriber(dom.domid, SymbolTable(dom.symbols))
    tr = Tracer(dom, spec, path, spec_text, abi=abi, describer=describer)
    dom.tracer = tr
    if dom.xen is not None:
        dom.xen.dom.tracer = tr            # evtchn_set_pending records (event_channel_op)
    if "io" in spec.kinds:
        tr.wrap_io(dom.io, "read", "write")
    if tr.trap_on or tr.evtchn_on:
        for v in dom.vcpus:
            _record_interrupts(tr, v)
    return tr


def _record_interrupts(tr: Tracer, v: "HvmVcpu") -> None:
    """The vCPU's `deliver` replaced (on this vCPU only) by one that records external
    interrupts and NMIs as traps, and Xen's callback vector as an upcall. Exceptions
    and `int N` are recorded by the loop as the exits they are."""
    deliver = v.deliver

    def recording_deliver(event) -> bool:
        if not event.external:
            return deliver(event)
        upcall = tr.evtchn_on and v.xen is not None and v.xen.callback_vector(v) == event.vector
        t0, rip = now_ns(), v.linear_rip()
        ok = deliver(event)
        if tr.trap_on:
            tr.trap(v.id, t0, now_ns(), fmt.TRAP_INTERRUPT, event.vector, rip, 0)
        if upcall:
            tr.evtchn(fmt.EVTCHN_UPCALL, v.id, 0)
        return ok
    v.deliver = recording_deliver
