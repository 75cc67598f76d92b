"""`hv trace timeline FILE -o PAGE.html`: a self-contained page (inline SVG drawn by
inline JavaScript, no network) with one lane per vCPU of each domain against time:
running slices, blocked periods, hypercalls, traps and event-channel activity.
The page's data is the JSON in its `timeline-data` script element."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hvcore.trace import format as fmt
from hvcore.trace.reader import TraceFile
from hvcore.trace.show import hypercall_name, trap_name

MAX_MARKS = 20000         # per lane and layer; beyond that the page shows the first ones
PAGE = Path(__file__).with_name("timeline_page.html")


@dataclass
class Lane:
    domid: int
    vcpu: int
    name: str
    layers: dict[str, list] = field(default_factory=lambda: {
        "run": [], "blocked": [], "hypercall": [], "trap": [], "event": []})
    dropped: int = 0
    blocked_since: int | None = None

    def mark(self, layer: str, item: list) -> None:
        marks = self.layers[layer]
        if len(marks) < MAX_MARKS:
            marks.append(item)
        else:
            self.dropped += 1


def build(trace: TraceFile) -> dict:
    """The page's data: times in microseconds from the first event."""
    lanes: dict[tuple[int, int], Lane] = {}
    t0, t_end = None, 0
    for e in trace.events(each_insn=False):
        if e.kind in (fmt.INSN, fmt.BLOCK):
            continue
        t0 = e.t_ns if t0 is None else t0
        t_end = max(t_end, e.t_ns + (e.fields[1] if e.kind == fmt.SCHED else 0))
        if e.kind in (fmt.DOMAIN, fmt.END):
            continue
        key = (e.domid, e.vcpu)
        if key not in lanes:
            name = trace.domains.get(e.domid, {}).get("name", "?")
            lanes[key] = Lane(e.domid, e.vcpu, name)
        _place(lanes[key], e, t0)
    t0 = t0 or 0
    for lane in lanes.values():            # still blocked at the end of the trace
        if lane.blocked_since is not None:
            lane.mark("blocked", [lane.blocked_since, (t_end - t0) / 1000 - lane.blocked_since])
    return {"duration_us": (t_end - t0) / 1000,
            "lanes": [{"label": f"d{l.domid} {l.name} vCPU{l.vcpu}", "dropped": l.dropped,
                       **l.layers} for _, l in sorted(lanes.items())]}


def _place(lane: Lane, e, t0: int) -> None:
    at, f = (e.t_ns - t0) / 1000, e.fields
    if e.kind == fmt.SCHED:
        if f[0] == fmt.SCHED_RUN:
            lane.mark("run", [at, f[1] / 1000])
        elif f[0] == fmt.SCHED_BLOCK:
            lane.blocked_since = at
        elif lane.blocked_since is not None:
            lane.mark("blocked", [lane.blocked_since, at - lane.blocked_since])
            lane.blocked_since = None
    elif e.kind == fmt.HYPERCALL:
        lane.mark("hypercall", [at, f[1] / 1000, f"{hypercall_name(f[0])} = {f[2]}"])
    elif e.kind == fmt.TRAP:
        lane.mark("trap", [at, f[2] / 1000, f"{trap_name(f[0], f[1])} at {f[3]:#x}"])
    elif e.kind == fmt.EVTCHN:
        label = "upcall" if f[0] == fmt.EVTCHN_UPCALL else f"port {f[2]} pending"
        lane.mark("event", [at, 0, label])
    elif e.kind in (fmt.IO, fmt.MMU):
        lane.mark("event", [at, 0, f"{e.kind_name} {f}"])


def write(trace: TraceFile, path: str, title: str) -> None:
    data = json.dumps(build(trace)).replace("</", "<\\/")
    page = PAGE.read_text().replace("@TITLE@", _escape(title)).replace("@DATA@", data)
    Path(path).write_text(page)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
