"""The tracer of one domain, in the domain's own process (`Domain.tracer`).

Only built when `--trace` asks for this domain; otherwise `Domain.tracer` is None and the
run loop, event channels and port I/O pay one None check. Records are packed as they
come (one struct call each) and handed to the writer, which writes them in batches.
"""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from hvcore.trace import format as fmt
from hvcore.trace.native import CodeTrace
from hvcore.trace.spec import DomainSpec
from hvcore.trace.symbols import SymbolTable, UnknownSymbol
from hvcore.trace.writer import TraceWriter

if TYPE_CHECKING:
    from hvcore.domain import Domain

now_ns = time.monotonic_ns
_pack_hypercall = fmt.HYPERCALL_RECORD.pack
_HYPERCALL_SIZE = fmt.HYPERCALL_BODY.size
_I64_MIN, _I64_MAX, _U64_MASK = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


def as_i64(value: int) -> int:
    """A hypercall result as the record's signed 64-bit field holds it."""
    if _I64_MIN <= value <= _I64_MAX:
        return value
    return ((value - _I64_MIN) & _U64_MASK) + _I64_MIN


class TraceSetupError(Exception):
    """The spec names something this domain does not have (an unknown symbol)."""


class Tracer:
    """`abi` and `describer` are given for HVM domains (hvcore/trace/hvm.py): their mode
    is the vCPU's, not the kernel's, and code is read through the vCPU's own paging."""

    def __init__(self, dom: "Domain", spec: DomainSpec, path: str, spec_text: str = "",
                 abi: str | None = None, describer=None) -> None:
        self.dom = dom
        self.domid = dom.domid
        self.spec = spec
        kinds = spec.kinds
        self.hypercall_on, self.trap_on = "hypercall" in kinds, "trap" in kinds
        self.evtchn_on, self.mmu_on, self.sched_on = ("evtchn" in kinds, "mmu" in kinds,
                                                      "sched" in kinds)
        self.symbols = SymbolTable(dom.symbols)
        self.describer = None
        self.code: dict[str, CodeTrace] = {}
        self.current_vcpu = 0
        self.blocked = [False] * len(dom.vcpus)
        ranges = {kind: self._ranges(kind) for kind in ("insn", "block") if kind in kinds}
        self.writer = TraceWriter(path)
        self.out = self.writer.pending          # records go here; written in batches
        self.out.append(fmt.json_record(fmt.DOMAIN, dom.domid, now_ns(), {
            "domid": dom.domid, "name": dom.name, "vcpus": len(dom.vcpus), "pid": os.getpid(),
            "abi": abi or ("x86_64" if dom.is_64bit else "x86_32"), "spec": spec_text}))
        engines = [v.engine for v in dom.vcpus]
        if ranges:                   # Capstone only when instructions are traced
            from hvcore.trace.code_records import CodeDescriber
            self.describer = describer or CodeDescriber(dom.domid, dom.is_64bit, self.symbols)
        for kind, spans in ranges.items():
            self.code[kind] = CodeTrace(kind == "block", engines, spans)
        if "io" in kinds and abi is None:
            self.wrap_io(dom, "io_read", "io_write")

    def _ranges(self, kind: str) -> list[tuple[int, int]] | None:
        spans = self.spec.code_ranges.get(kind)
        if spans is None:
            return None
        try:
            return spans + [self.symbols.range_of(s) for s in self.spec.code_symbols.get(kind, [])]
        except UnknownSymbol as err:
            raise TraceSetupError(f"--trace {kind}: {err}") from None

    # ---- records --------------------------------------------------------------------
    def hypercall(self, vcpu: int, t0: int, t1: int, nr: int, result: int,
                  args: tuple[int, ...]) -> None:
        if self.spec.hypercalls is None or nr in self.spec.hypercalls:
            self.out.append(_pack_hypercall(fmt.HYPERCALL, vcpu, self.domid, _HYPERCALL_SIZE,
                                            t0, nr, min(t1 - t0, fmt.MAX_DURATION_NS),
                                            as_i64(result), *args))

    def trap(self, vcpu: int, t0: int, t1: int, kind: int, vector: int, rip: int,
             address: int) -> None:
        if self.spec.vectors is None or vector in self.spec.vectors:
            self.out.append(fmt.TRAP_RECORD.pack(
                fmt.TRAP, vcpu, self.domid, fmt.TRAP_BODY.size, t0, kind, vector & 0xFFFF,
                min(t1 - t0, fmt.MAX_DURATION_NS), rip, address))

    def evtchn(self, op: int, vcpu: int, port: int) -> None:
        """An event channel made pending (Xen's evtchn_set_pending) or an upcall."""
        if self.spec.ports is None or port in self.spec.ports or op == fmt.EVTCHN_UPCALL:
            self.out.append(fmt.EVTCHN_RECORD.pack(
                fmt.EVTCHN, vcpu, self.domid, fmt.EVTCHN_BODY.size, now_ns(), op, vcpu, port))

    def mmu(self, vcpu: int, t0: int, result: int, entries: list[tuple[int, int, int]]) -> None:
        pack, add = fmt.MMU_RECORD.pack, self.writer.add
        for op, a, b in entries:
            add(pack(fmt.MMU, vcpu, self.domid, fmt.MMU_BODY.size, t0, op, result, a, b))

    def sched(self, vcpu: int, t_ns: int, op: int, duration: int = 0) -> None:
        self.out.append(fmt.SCHED_RECORD.pack(fmt.SCHED, vcpu, self.domid, fmt.SCHED_BODY.size,
                                              t_ns, op, min(duration, fmt.MAX_DURATION_NS)))

    def io(self, direction: int, port: int, size: int, value: int) -> None:
        ports = self.spec.io_ports
        if ports is None or any(lo <= port < hi for lo, hi in ports):
            self.out.append(fmt.IO_RECORD.pack(fmt.IO, self.current_vcpu, self.domid,
                                               fmt.IO_BODY.size, now_ns(), direction, size,
                                               port, value & 0xFFFFFFFF))

    def drain_code(self, v, t_ns: int) -> bool:
        """Instruction/block ids of the run that just ended; True if a full buffer
        stopped it (not a real exit: the loop goes on)."""
        stopped = False
        for kind, trace in self.code.items():
            got = trace.drain()
            stopped |= got.stopped
            if got.stopped and kind == "insn" and v.engine.icount is not None:
                v.engine.icount.uncount()    # its stop came after the count (replay/clock.py)
            for code_id, address, size in got.fresh:
                self.out.append(self.describer.insn(v, t_ns, code_id, address, size)
                                if kind == "insn" else
                                self.describer.block(t_ns, code_id, address, size))
            if got.ids:
                self.out.append(fmt.ids_record(fmt.INSN if kind == "insn" else fmt.BLOCK,
                                               v.id, self.domid, t_ns, got.ids))
        return stopped

    def wrap_io(self, target, read_name: str, write_name: str) -> None:
        """Port I/O recorded where the domain does it: `target`'s read(port, size) and
        write(port, size, value) replaced by recording ones (PV: the domain's io_read and
        io_write; HVM: its I/O bus), so an untraced domain pays nothing."""
        read, write = getattr(target, read_name), getattr(target, write_name)

        def io_read(port: int, size: int) -> int:
            value = read(port, size)
            self.io(0, port, size, value)
            return value

        def io_write(port: int, size: int, value: int) -> None:
            self.io(1, port, size, value)
            write(port, size, value)
        setattr(target, read_name, io_read)
        setattr(target, write_name, io_write)

    # ---- the end -----------------------------------------------------------------------
    def close(self, reason: str) -> None:
        if self.writer.fd < 0:
            return
        for trace in self.code.values():
            trace.close()
        self.code = {}
        self.out.append(fmt.json_record(fmt.END, self.domid, now_ns(), {"reason": reason}))
        self.writer.close()
