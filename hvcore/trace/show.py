"""`hv trace show FILE`: one line per event, times in seconds from the trace's start."""
from __future__ import annotations

from typing import Iterable, TextIO

from hvcore.public import xen as XEN
from hvcore.trace import format as fmt
from hvcore.trace.reader import Event, TraceFile


def hypercall_name(nr: int) -> str:
    return XEN.hypercall_names.get(nr, f"#{nr}")


def trap_name(kind: int, vector: int) -> str:
    if kind == 2:
        from hvcore.arch.x86.pv.traps import _EXC_NAMES
        return _EXC_NAMES.get(vector, f"int {vector:#x}")
    if kind == fmt.TRAP_SOFTWARE_INT:
        return f"int {vector:#x}"
    if kind == fmt.TRAP_INTERRUPT:
        return f"irq vector {vector:#x}"
    return fmt.TRAP_KINDS.get(kind, "?")


def us(ns: int) -> str:
    return f"{ns / 1000:.1f}us"


def describe(e: Event) -> str:
    f = e.fields
    if e.kind == fmt.HYPERCALL:
        nr, dur, result, *args = f
        return f"{hypercall_name(nr)}({', '.join(hex(a) for a in args)}) = {result}  {us(dur)}"
    if e.kind == fmt.TRAP:
        kind, vector, dur, rip, address = f
        extra = f" cr2={address:#x}" if vector == 14 and kind == 2 else ""
        return f"{trap_name(kind, vector)} rip={rip:#x}{extra}  {us(dur)}"
    if e.kind == fmt.EVTCHN:
        op, vcpu, port = f
        return f"upcall to vcpu {vcpu}" if op == fmt.EVTCHN_UPCALL else f"pending port {port} -> vcpu {vcpu}"
    if e.kind == fmt.IO:
        direction, size, port, value = f
        return f"{fmt.IO_DIRECTIONS[direction]} port {port:#x} size {size} value {value:#x}"
    if e.kind == fmt.MMU:
        op, result, a, b = f
        names = {1: ("ptr", "val"), 2: ("va", "val"), 3: ("cmd", "arg1")}[op]
        return f"{fmt.MMU_OPS[op]} {names[0]}={a:#x} {names[1]}={b:#x} rc={result}"
    if e.kind == fmt.SCHED:
        op, dur = f
        return f"{fmt.SCHED_OPS.get(op, '?')}" + (f" {us(dur)}" if op == fmt.SCHED_RUN else "")
    return _describe_other(e)


def _describe_other(e: Event) -> str:
    if e.kind in (fmt.INSN, fmt.BLOCK):
        c = e.code
        if c is None:
            return f"id {e.fields[0]} (no code record)"
        where = f"{c.address:#x} <{c.symbol}>" if c.symbol else f"{c.address:#x}"
        return f"{where}  {c.text}" if e.kind == fmt.INSN else f"{where} ({c.size} bytes)"
    if e.kind == fmt.DOMAIN:
        i = e.info
        return f"domain {i.get('name')!r} {i.get('abi')}, {i.get('vcpus')} vCPU(s), trace {i.get('spec')!r}"
    if e.kind == fmt.END:
        return f"end: {e.info.get('reason')}"
    return ""


def show(trace: TraceFile, out: TextIO, kinds: set[str] | None = None,
         limit: int | None = None) -> int:
    """Print the events; returns how many were printed."""
    t0 = trace.meta.get("t0_ns", 0)
    printed = 0
    for e in _wanted(trace, kinds):
        if limit is not None and printed >= limit:
            break
        out.write(f"{(e.t_ns - t0) / 1e9:12.6f} d{e.domid} v{e.vcpu} {e.kind_name:9} {describe(e)}\n")
        printed += 1
    if trace.truncated:
        out.write("(the file ends with a cut record: written while the trace was still open)\n")
    return printed


def _wanted(trace: TraceFile, kinds: set[str] | None) -> Iterable[Event]:
    for e in trace:
        if kinds is None or e.kind_name in kinds:
            yield e
