"""The HVM vCPU's run loop with tracing: `HvmVcpu.run_slice` hands over to this one when
its domain has a tracer, so the untraced loop stays as it is (one None check a slice).

The steps are the vCPU's own (enter_guest, slice_over, _serve_exit); around them:
instruction/block ids drained after each run of the engine, each exit timed and
recorded as a vmcall hypercall (PVH and other Xen-aware guests) or a trap, and the
slice recorded as a run of the vCPU. External interrupts are recorded where they are
delivered (hvcore/trace/hvm.py wraps the vCPU's `deliver`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import x86_const as X

from hvcore import engine as eng
from hvcore.arch.x86.hvm import msr
from hvcore.trace import format as fmt
from hvcore.trace.run_loop import begin_slice, end_slice
from hvcore.trace.tracer import Tracer, now_ns

if TYPE_CHECKING:
    from hvcore.arch.x86.hvm.vcpu import HvmVcpu

_TRAP_KINDS = {eng.EXIT_SYSCALL: 1, eng.EXIT_TRAP: 2, eng.EXIT_INVALID: 3,
               eng.EXIT_IO_DENIED: 4, eng.EXIT_UNMAPPED: 5}


def run_slice(tr: Tracer, v: "HvmVcpu", slice_us: int) -> None:
    start = now_ns()
    begin_slice(tr, v, start)
    engine, code = v.engine, tr.code
    with engine.time_slice(slice_us):
        while v.domain.running and not v.halted:
            exit = v.enter_guest()
            if exit is None:
                break
            t0 = now_ns()
            if code and tr.drain_code(v, t0) and exit.kind == eng.EXIT_TIMEOUT:
                continue                  # stopped to empty a full trace buffer
            if exit.kind in (eng.EXIT_TIMEOUT, eng.EXIT_STOPPED):
                v.slice_over()
                break
            if not _serve(tr, v, exit, t0):
                break
    end_slice(tr, v, start, v.halted)


def _serve(tr: Tracer, v: "HvmVcpu", exit: eng.Exit, t0: int) -> bool:
    """One exit served by the vCPU, recorded as a hypercall if it was a vmcall the Xen
    side took, else as a trap (what the exit was, before serving changed RIP)."""
    log = v.domain.xen.dom.hypercall_log if v.domain.xen is not None else None
    before = log[-1] if log else None
    rip = v.linear_rip() if tr.trap_on else 0
    kind, address = _TRAP_KINDS.get(exit.kind, 6), exit.address
    if exit.kind == eng.EXIT_TRAP and exit.vector == msr.VMEXIT_MSR:
        kind, address = fmt.TRAP_MSR, v.engine.reg(X.UC_X86_REG_RCX) & 0xFFFFFFFF
    elif exit.kind == eng.EXIT_TRAP and v.raised_by_int():
        kind = fmt.TRAP_SOFTWARE_INT
    ok = v._serve_exit(exit)
    t1 = now_ns()
    made = log[-1] if log else None
    if made is not None and made is not before:
        if tr.hypercall_on:
            tr.hypercall(v.id, t0, t1, made.nr, made.result or 0, made.args)
    elif tr.trap_on:
        vector = 0xFFFF if kind == fmt.TRAP_MSR else exit.vector
        tr.trap(v.id, t0, t1, kind, vector, rip, address)
    return ok
