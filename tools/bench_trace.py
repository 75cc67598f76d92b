"""Benchmark rows for the cost of tracing (`hv run --trace`, hvcore/trace/), run by
tools/bench.py:

- trace:insn    guest instructions per second with every instruction traced
                (bench_loop, trace file in /tmp); target >= 2 million/s.
- trace:hcall   what tracing `all` adds to each hypercall of a guest that does nothing
                else (bench_ops xen_version, the cheapest hypercall): the worst case.
- trace:boot    what tracing `all` adds to a real boot: Debian's PV GRUB to its prompt
                (tools/bench_boot.py), CPU time of `hv run` and its domain process.
Both overheads compare untraced and traced runs taken back to back (alternating which
goes first), in CPU time, which the other work on a shared machine disturbs much less
than wall time; target < 10% of run time.
"""
from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from tools.bench import BenchError, Guest, Row, Settings, run_guest_loop

INSN_TARGET_MIPS = 2.0
OVERHEAD_TARGET_PERCENT = 10.0
MIN_HCALL_SECONDS = 0.3        # per side and sample: shorter ones drown in the noise


def trace_rows() -> list[Row]:
    target = f"< {OVERHEAD_TARGET_PERCENT:g} %"
    return [Row("trace:insn", "trace: insn (every guest instruction), guest instructions/s",
                "pv64", "M/s", target=f">= {INSN_TARGET_MIPS:g}"),
            Row("trace:hcall", "trace: `all` on a hypercall-only guest (xen_version loop), "
                "CPU added per hypercall", "pv64", "%", target=target),
            Row("trace:boot", "trace: `all` on Debian's PV GRUB boot to its prompt, CPU added",
                "pv64", "%", target=target)]


class _TraceTo:
    """`prepare` for Guest.run: a tracer of `spec` writing to a fresh file in /tmp."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        fd, self.path = tempfile.mkstemp(prefix="hv-bench-", suffix=".trace")
        os.close(fd)

    def __call__(self, dom) -> None:
        from hvcore.trace import writer
        from hvcore.trace.spec import for_domain, parse
        from hvcore.trace.tracer import Tracer
        writer.create(self.path, {"t0_ns": 0, "spec": self.spec})
        dom.tracer = Tracer(dom, for_domain(parse(self.spec), dom.domid, dom.name), self.path)

    def remove(self) -> None:
        os.unlink(self.path)


def bench_trace_insn(s: Settings, log) -> Row:
    row = trace_rows()[0]
    guest = Guest.get("bench_loop", "pv64")
    _, insns = guest.loop
    tracer = _TraceTo("insn")
    try:
        def timed(iters: int) -> float:
            elapsed, text = guest.run(f"iters={iters}", prepare=tracer)
            if f"bench_loop: iters {iters} insns/iter {insns}" not in text:
                raise BenchError(f"pv64/bench_loop under trace: unexpected output {text!r}")
            return elapsed
        n1 = 1000
        per_iter = max((timed(200_000) - timed(n1)) / (200_000 - n1), 1e-9)   # calibration
        n2 = n1 + max(10_000, int(s.cpu_seconds / per_iter))
        row.params.update(n1=n1, n2=n2, insns_per_iter=insns)
        for i in range(s.samples):
            t1, t2 = timed(n1), timed(n2)
            mips = insns * (n2 - n1) / max(t2 - t1, 1e-9) / 1e6
            row.values.append(mips)
            log(f"  trace:insn sample {i + 1}/{s.samples}: {mips:.2f} M insn/s")
        row.extra = {"trace_bytes_per_insn": os.path.getsize(tracer.path) / (insns * n2)}
    finally:
        tracer.remove()
    row.meets = statistics.median(row.values) >= INSN_TARGET_MIPS
    return row


def bench_trace_hypercalls(s: Settings, log) -> Row:
    row = trace_rows()[1]
    guest = Guest.get("bench_ops", "pv64")
    tracer = _TraceTo("all")

    def cpu(iters: int, traced: bool) -> float:
        start = time.thread_time()
        _, text = guest.run(f"op=xenver iters={iters}", prepare=tracer if traced else None)
        if f"bench_ops: op xenver iters {iters} " not in text:
            raise BenchError(f"pv64/bench_ops: unexpected output {text!r}")
        return time.thread_time() - start
    try:
        per_op = max((cpu(2000, True) - cpu(0, True)) / 2000, 1e-7)
        n1 = 100
        n2 = n1 + max(1000, int(max(s.op_seconds, MIN_HCALL_SECONDS) / per_op))
        row.params.update(n1=n1, n2=n2)
        for i in range(s.samples):
            first = bool(i % 2)            # alternate which side goes first
            took = {traced: cpu(n2, traced) - cpu(n1, traced) for traced in (first, not first)}
            row.values.append(_percent(took[False], took[True]))
            log(f"  trace:hcall sample {i + 1}/{s.samples}: {took[False] / (n2 - n1) * 1e6:.2f}"
                f" -> {took[True] / (n2 - n1) * 1e6:.2f} us CPU per hypercall,"
                f" {row.values[-1]:+.1f} %")
    finally:
        tracer.remove()
    row.meets = statistics.median(row.values) < OVERHEAD_TARGET_PERCENT
    return row


def bench_trace_boot(s: Settings, log) -> Row:
    from tools.bench_boot import grub_boot_seconds, make_boot_disk
    row = trace_rows()[2]
    with tempfile.TemporaryDirectory() as tmp:
        disk = make_boot_disk(Path(tmp))
        trace_args = ("--trace", "all", "--trace-out", f"{tmp}/boot.trace")

        def cpu(traced: bool) -> float:
            before = _children_cpu()
            grub_boot_seconds("pv64", disk, 60, *(trace_args if traced else ()))
            return _children_cpu() - before
        cpu(True)                               # warm-up
        for i in range(min(s.samples, 5)):
            first = bool(i % 2)
            took = {traced: cpu(traced) for traced in (first, not first)}
            row.values.append(_percent(took[False], took[True]))
            log(f"  trace:boot sample {i + 1}: {took[False]:.2f} -> {took[True]:.2f} s CPU,"
                f" {row.values[-1]:+.1f} %")
    row.meets = statistics.median(row.values) < OVERHEAD_TARGET_PERCENT
    return row


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (hv run, which waited for its domain)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _percent(plain: float, traced: float) -> float:
    return (traced / max(plain, 1e-9) - 1) * 100
