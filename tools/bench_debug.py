"""Benchmark rows: what debugging costs a guest that is not stopped (tools/bench.py).

The CPU row's compute loop (guests/kernels/bench_loop.c, pv64) runs in a fresh domain
with a gdb server listening (as `hv run --gdb PORT` before gdb connects), then also with
one breakpoint, or one write watchpoint, set on a function the loop never reaches (as
gdb's `break`/`watch` leave them while the guest runs on); each sample pairs that run
with an undebugged one (taking turns at going first) at two iteration counts, and the
figure is the ratio of their loop speeds (1.0: no cost). The points are set through the
server's own table, as its packet handler does for gdb's Z packets (the tests drive
real gdb; here its start-up would swamp the figure).
"""
from __future__ import annotations

import statistics

from tools.bench import (CPU_TARGET_RATIO, BenchError, Guest, Row, Settings, paired,
                         run_guest_loop)

# (key, title, the kind of point set, or None)
CASES = (
    ("debug:server", "debug: gdb server listening, no point set; loop speed, debugged / not",
     None),
    ("debug:break", "debug: one breakpoint away from the loop; loop speed, debugged / not",
     "SOFTWARE"),
    ("debug:watch", "debug: one write watchpoint away from the loop; loop speed, debugged"
     " / not", "WATCH_WRITE"),
)


class _Debugged:
    """`prepare(dom)` for Guest.run: a gdb server in the domain, maybe with a point;
    `close()` after the run lets its port go."""

    def __init__(self, kind: str | None, address: int) -> None:
        self.kind, self.address = kind, address
        self.servers: list = []

    def __call__(self, dom) -> None:
        from hvcore.gdb import breakpoints
        from hvcore.gdb.server import GdbServer
        server = GdbServer(dom, 0, wait=False)
        dom.debugger = server
        server.start()
        self.servers.append(server)
        if self.kind is not None and not server.points.insert(
                getattr(breakpoints, self.kind), self.address, 8):
            raise BenchError(f"cannot set a {self.kind} point at {self.address:#x}")

    def close(self) -> None:
        for server in self.servers:
            server.listener.close()
        self.servers.clear()


def _away_from_the_loop(guest: Guest) -> int:
    """A function bench_loop never calls (its failure path)."""
    from elftools.elf.elffile import ELFFile
    with open(guest.path, "rb") as f:
        symbols = ELFFile(f).get_section_by_name(".symtab")
        found = [sym["st_value"] for sym in symbols.iter_symbols() if sym.name == "fail"]
    if not found:
        raise BenchError(f"{guest.path}: no `fail` symbol for the breakpoint")
    return found[0]


def bench_debug_rows(s: Settings, log) -> list[Row]:
    guest = Guest.get("bench_loop", "pv64")
    _body, insns = guest.loop
    address = _away_from_the_loop(guest)
    probe = guest.run("iters=1000000")[0]
    delta = max(10_000, int(s.cpu_seconds / max(probe / 1_000_000, 1e-9)))
    n1, n2 = max(1, delta // 10), max(1, delta // 10) + delta
    rows = []
    for key, title, kind in CASES:
        # a watchpoint is asked-for work (every store checked): measured, no target
        target = "" if kind == "WATCH_WRITE" else f">= {CPU_TARGET_RATIO}"
        row = Row(key, title, "pv64", "ratio", target=target)
        row.params.update(n1=n1, n2=n2)
        prepare = _Debugged(kind, address)

        def debugged(n: int) -> float:
            try:
                return guest.run(f"iters={n}", prepare=prepare)[0]
            finally:
                prepare.close()

        def plain(n: int) -> float:
            return run_guest_loop(guest, n, insns)[0]

        for i in range(s.samples):
            d1, p1 = paired(i, lambda: debugged(n1), lambda: plain(n1))
            d2, p2 = paired(i, lambda: debugged(n2), lambda: plain(n2))
            row.values.append((p2 - p1) / max(d2 - d1, 1e-9))
            log(f"  {key} sample {i + 1}/{s.samples}: {row.values[-1]:.3f}")
        if target:
            row.meets = statistics.median(row.values) >= CPU_TARGET_RATIO
        rows.append(row)
    return rows
