"""The vCPU run loop with tracing: `VCPU.run_slice` hands over to this one when its
domain has a tracer, so the untraced loop stays as it is.

Same steps as VCPU.run_slice; around them: instruction/block ids drained after each run
of the engine, each exit timed and recorded as a hypercall or a trap, upcalls noticed
(RIP moved to the event callback), and the slice recorded as a run of the vCPU.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import x86_const as X

from hvcore import engine as eng
from hvcore.public.arch_x86 import HYPERCALL_VECTOR
from hvcore.trace import format as fmt
from hvcore.trace.mmu_records import MMU_HYPERCALLS, requests
from hvcore.trace.tracer import Tracer, now_ns

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU

_ARGS_64 = (X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX, X.UC_X86_REG_R10,
            X.UC_X86_REG_R8)
_ARGS_32 = (X.UC_X86_REG_EBX, X.UC_X86_REG_ECX, X.UC_X86_REG_EDX, X.UC_X86_REG_ESI,
            X.UC_X86_REG_EDI)
_TRAP_KINDS = {eng.EXIT_SYSCALL: 1, eng.EXIT_TRAP: 2, eng.EXIT_INVALID: 3,
               eng.EXIT_IO_DENIED: 4, eng.EXIT_UNMAPPED: 5}


def run_slice(tr: Tracer, v: "VCPU", slice_us: int) -> None:
    from hvcore.arch.x86.pv import traps   # late: traps imports vcpu
    start = now_ns()
    tr.current_vcpu = v.id
    if tr.blocked[v.id]:
        tr.blocked[v.id] = False
        if tr.sched_on:
            tr.sched(v.id, start, fmt.SCHED_WAKE)
    with v.engine.time_slice(slice_us):
        while v.runnable():
            _deliver_events(tr, v, traps)
            exit = v.engine.run(v.rip)
            t0 = now_ns()
            if tr.code and tr.drain_code(v, t0) and exit.kind == eng.EXIT_TIMEOUT:
                continue                  # stopped to empty a full trace buffer
            if exit.kind in (eng.EXIT_TIMEOUT, eng.EXIT_STOPPED):
                break
            v.traps_taken += 1
            _handle(tr, v, exit, t0, traps)
    _end_slice(tr, v, start)


def _end_slice(tr: Tracer, v: "VCPU", start: int) -> None:
    end = now_ns()
    if tr.sched_on:
        tr.sched(v.id, start, fmt.SCHED_RUN, end - start)
    if v.state.blocked and v.domain.running:
        tr.blocked[v.id] = True
        if tr.sched_on:
            tr.sched(v.id, end, fmt.SCHED_BLOCK)
    tr.writer.maybe_flush(end)


def _deliver_events(tr: Tracer, v: "VCPU", traps) -> None:
    if not tr.evtchn_on:
        traps.deliver_pending_events(v)
        return
    before = v.rip
    traps.deliver_pending_events(v)
    if v.rip != before:
        tr.evtchn(fmt.EVTCHN_UPCALL, v.id, 0)


def is_hypercall(v: "VCPU", exit: eng.Exit) -> bool:
    """As traps.handle_exit decides: syscall from 64-bit kernel mode, int $0x82 from
    ring 1 of a 32-bit guest."""
    if exit.kind == eng.EXIT_SYSCALL:
        return v.is_64bit and v.state.kernel_mode
    return (exit.kind == eng.EXIT_TRAP and exit.vector == HYPERCALL_VECTOR
            and not v.is_64bit and v.engine.cpl == 1)


def _handle(tr: Tracer, v: "VCPU", exit: eng.Exit, t0: int, traps) -> None:
    if is_hypercall(v, exit):
        if tr.hypercall_on or tr.mmu_on:
            _traced_hypercall(tr, v, exit, t0, traps)
        else:
            traps.handle_exit(v, exit)
        return
    rip = v.rip if tr.trap_on else 0
    traps.handle_exit(v, exit)
    if tr.trap_on:
        tr.trap(v.id, t0, now_ns(), _TRAP_KINDS.get(exit.kind, 6), exit.vector, rip,
                exit.address)


def _traced_hypercall(tr: Tracer, v: "VCPU", exit: eng.Exit, t0: int, traps) -> None:
    mask = (1 << 64) - 1 if v.is_64bit else 0xFFFFFFFF
    nr = v.reg(X.UC_X86_REG_RAX) & 0xFFFFFFFF
    args = tuple(v.reg(r) & mask for r in (_ARGS_64 if v.is_64bit else _ARGS_32))
    rip = v.rip
    entries = requests(v, nr, args) if tr.mmu_on and nr in MMU_HYPERCALLS else None
    traps.handle_exit(v, exit)
    t1 = now_ns()
    result = v.reg(X.UC_X86_REG_RAX) & mask
    result -= (mask + 1) if result > mask >> 1 else 0
    if tr.hypercall_on:
        tr.hypercall(v.id, t0, t1, nr, result, rip, args)
    if entries:
        tr.mmu(v.id, t0, result, entries)
