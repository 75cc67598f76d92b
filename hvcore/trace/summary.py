"""`hv trace summary FILE`: per domain, counts of every kind of event and, per hypercall
and per trap, counts, latency percentiles and a histogram (xenalyze's view of xentrace
data, for our records); vCPU run and blocked time."""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import TextIO

from hvcore.trace import format as fmt
from hvcore.trace.reader import TraceFile
from hvcore.trace.show import hypercall_name, trap_name
from hvcore.trace.stats import BUCKET_LABELS, Latencies


@dataclass
class DomainSummary:
    info: dict = field(default_factory=dict)
    end: str = "(still running or cut)"
    first_ns: int = 0
    last_ns: int = 0
    counts: collections.Counter = field(default_factory=collections.Counter)
    hypercalls: dict[str, Latencies] = field(default_factory=lambda: collections.defaultdict(Latencies))
    traps: dict[str, Latencies] = field(default_factory=lambda: collections.defaultdict(Latencies))
    run_ns: collections.Counter = field(default_factory=collections.Counter)
    blocked_ns: collections.Counter = field(default_factory=collections.Counter)
    blocked_since: dict[int, int] = field(default_factory=dict)


def collect(trace: TraceFile) -> dict[int, DomainSummary]:
    doms: dict[int, DomainSummary] = collections.defaultdict(DomainSummary)
    for e in trace.events(each_insn=False):
        d = doms[e.domid]
        d.first_ns = d.first_ns or e.t_ns
        d.last_ns = max(d.last_ns, e.t_ns)
        d.counts[e.kind_name] += e.fields[0] if e.kind in (fmt.INSN, fmt.BLOCK) else 1
        _account(d, e)
    return doms


def _account(d: DomainSummary, e) -> None:
    f = e.fields
    if e.kind == fmt.HYPERCALL:
        d.hypercalls[hypercall_name(f[0])].add(f[1])
    elif e.kind == fmt.TRAP:
        d.traps[trap_name(f[0], f[1])].add(f[2])
    elif e.kind == fmt.SCHED:
        _account_sched(d, e.vcpu, e.t_ns, f[0], f[1])
    elif e.kind == fmt.DOMAIN:
        d.info = e.info
    elif e.kind == fmt.END:
        d.end = e.info.get("reason", "?")


def _account_sched(d: DomainSummary, vcpu: int, t_ns: int, op: int, duration: int) -> None:
    if op == fmt.SCHED_RUN:
        d.run_ns[vcpu] += duration
    elif op == fmt.SCHED_BLOCK:
        d.blocked_since[vcpu] = t_ns
    elif op == fmt.SCHED_WAKE and vcpu in d.blocked_since:
        d.blocked_ns[vcpu] += t_ns - d.blocked_since.pop(vcpu)


def write(trace: TraceFile, out: TextIO) -> None:
    for domid, d in sorted(collect(trace).items()):
        name = d.info.get("name", "?")
        out.write(f"d{domid} {name!r} ({d.info.get('abi', '?')}, {d.info.get('vcpus', '?')} vCPU(s)):"
                  f" {(d.last_ns - d.first_ns) / 1e9:.3f} s traced, ended: {d.end}\n")
        counts = ", ".join(f"{k} {n}" for k, n in sorted(d.counts.items())
                           if k not in ("domain", "end"))
        out.write(f"  events: {counts or 'none'}\n")
        _table(out, "hypercall", d.hypercalls)
        _table(out, "trap", d.traps)
        for vcpu in sorted(set(d.run_ns) | set(d.blocked_ns)):
            out.write(f"  vCPU{vcpu}: ran {d.run_ns[vcpu] / 1e9:.3f} s,"
                      f" blocked {d.blocked_ns[vcpu] / 1e9:.3f} s\n")
    if trace.truncated:
        out.write("(the file ends with a cut record: written while the trace was still open)\n")


def _table(out: TextIO, what: str, rows: dict[str, Latencies]) -> None:
    if not rows:
        return
    out.write(f"  {what + 's (latency in us)':32} {'count':>7} {'total':>10} {'mean':>8}"
              f" {'p50':>8} {'p99':>8} {'max':>8}\n")
    for name, lat in sorted(rows.items(), key=lambda kv: -kv[1].count):
        out.write(f"    {name:30} {lat.count:7} {lat.total_us():10.1f}"
                  f" {lat.total_us() / lat.count:8.1f} {lat.percentile(50):8.1f}"
                  f" {lat.percentile(99):8.1f} {lat.percentile(100):8.1f}\n")
        bars = "  ".join(f"{label}:{n}" for label, n in zip(BUCKET_LABELS, lat.histogram()) if n)
        out.write(f"      histogram (us): {bars}\n")
