"""The vCPU run loop with tracing: `VCPU.run_slice` hands over to this one when its
domain has a tracer, so the untraced loop stays as it is.

Same steps as VCPU.run_slice; around them: instruction/block ids drained after each run
of the engine, each exit timed and recorded as a hypercall or a trap, upcalls noticed
(the event mask they set), and the slice recorded as a run of the vCPU. A hypercall's
record comes from the one dispatch makes for the domain's log (number, arguments,
result): no register is read twice. The commonest exit, a 64-bit guest's hypercall, is
handled inline with what it needs in locals (it is what tracing costs most on).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from hvcore import engine as eng
from hvcore.public.arch_x86 import HYPERCALL_VECTOR
from hvcore.trace import format as fmt
from hvcore.trace.mmu_records import MMU_HYPERCALLS, requests
from hvcore.trace.tracer import Tracer, as_i64, now_ns

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU

_TRAP_KINDS = {eng.EXIT_SYSCALL: 1, eng.EXIT_TRAP: 2, eng.EXIT_INVALID: 3,
               eng.EXIT_IO_DENIED: 4, eng.EXIT_UNMAPPED: 5}
_PACK_HYPERCALL_TAIL = fmt.HYPERCALL_TAIL.pack
_HYPERCALL_SIZE = fmt.HYPERCALL_BODY.size
_MAX_NS = fmt.MAX_DURATION_NS
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


def run_slice(tr: Tracer, v: "VCPU", slice_us: int) -> None:
    from hvcore.arch.x86.pv import traps   # late: traps imports vcpu
    start = now_ns()
    begin_slice(tr, v, start)
    engine, state, log, out = v.engine, v.state, v.domain.hypercall_log, tr.out
    run, handle_exit, pack, domid, vcpu = engine.run, traps.handle_exit, _PACK_HYPERCALL_TAIL, tr.domid, v.id
    # the part of a hypercall record that is the same all slice, packed once
    head = fmt.RECORD_PREFIX.pack(fmt.HYPERCALL, vcpu, domid, _HYPERCALL_SIZE)
    inline = v.domain.is_64bit and tr.hypercall_on and tr.spec.hypercalls is None
    mmu_on = tr.mmu_on
    deliver, evtchn_on, code = traps.deliver_pending_events, tr.evtchn_on, tr.code
    timeout, stopped, syscall = eng.EXIT_TIMEOUT, eng.EXIT_STOPPED, eng.EXIT_SYSCALL
    with engine.time_slice(slice_us):
        while v.runnable():
            if not evtchn_on:
                deliver(v)
            elif v.upcall_pending and not v.upcall_mask:   # (a call saved when not)
                _deliver_events(tr, v, deliver)
            exit = run(v.rip)
            t0 = now_ns()
            kind = exit.kind
            if code and tr.drain_code(v, t0) and kind == timeout:
                continue                  # stopped to empty a full trace buffer
            if kind == timeout or kind == stopped:
                break
            v.traps_taken += 1
            if not (inline and kind == syscall and state.kernel_mode):
                _handle(tr, v, exit, t0, traps)
                continue
            calls = v.hypercalls_made
            handle_exit(v, exit)
            t1 = now_ns()
            if v.hypercalls_made != calls:           # dispatch counted and logged one
                made = log[-1]
                result = made.result or 0
                out.append(head + pack(t0, made.nr, t1 - t0 if t1 - t0 < _MAX_NS else _MAX_NS,
                                       result if _I64_MIN <= result <= _I64_MAX
                                       else as_i64(result), *made.args))
                if mmu_on and made.nr in MMU_HYPERCALLS:
                    tr.mmu(vcpu, t0, result, requests(v, made.nr, made.args))
    end_slice(tr, v, start, v.state.blocked)


def begin_slice(tr: Tracer, v, start: int) -> None:
    tr.current_vcpu = v.id
    if tr.blocked[v.id]:
        tr.blocked[v.id] = False
        if tr.sched_on:
            tr.sched(v.id, start, fmt.SCHED_WAKE)


def end_slice(tr: Tracer, v, start: int, blocked: bool) -> None:
    """The slice as a sched run record; `blocked`: the vCPU now waits (PV: SCHEDOP_block;
    HVM: hlt too)."""
    end = now_ns()
    if tr.sched_on:
        tr.sched(v.id, start, fmt.SCHED_RUN, end - start)
    if blocked and v.domain.running:
        tr.blocked[v.id] = True
        if tr.sched_on:
            tr.sched(v.id, end, fmt.SCHED_BLOCK)
    tr.writer.maybe_flush(end)


def _deliver_events(tr: Tracer, v: "VCPU", deliver) -> None:
    """As traps.deliver_pending_events; an upcall is seen as the mask it sets."""
    if v.upcall_pending and not v.upcall_mask:
        deliver(v)
        if v.upcall_mask:
            tr.evtchn(fmt.EVTCHN_UPCALL, v.id, 0)


def is_hypercall(v: "VCPU", exit: eng.Exit) -> bool:
    """As traps.handle_exit decides: syscall from 64-bit kernel mode, int $0x82 from
    ring 1 of a 32-bit guest."""
    if exit.kind == eng.EXIT_SYSCALL:
        return v.domain.is_64bit and v.state.kernel_mode
    return (exit.kind == eng.EXIT_TRAP and exit.vector == HYPERCALL_VECTOR
            and not v.domain.is_64bit and v.engine.cpl == 1)


def _handle(tr: Tracer, v: "VCPU", exit: eng.Exit, t0: int, traps) -> None:
    """Any exit, the general way. MMU requests are read from the guest's arrays after
    the call (Xen only writes their done counts)."""
    if not is_hypercall(v, exit):
        rip = v.rip if tr.trap_on else 0
        traps.handle_exit(v, exit)
        if tr.trap_on:
            tr.trap(v.id, t0, now_ns(), _TRAP_KINDS.get(exit.kind, 6), exit.vector, rip,
                    exit.address)
        return
    log = v.domain.hypercall_log
    before = log[-1] if log else None
    traps.handle_exit(v, exit)
    t1 = now_ns()
    made = log[-1] if log else None
    if made is None or made is before:
        return                            # crashed before the hypercall ran
    if tr.hypercall_on:
        tr.hypercall(v.id, t0, t1, made.nr, made.result or 0, made.args)
    if tr.mmu_on and made.nr in MMU_HYPERCALLS:
        tr.mmu(v.id, t0, made.result or 0, requests(v, made.nr, made.args))
