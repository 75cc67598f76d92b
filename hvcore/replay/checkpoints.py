"""Reverse execution for gdb (`reverse-stepi`, `reverse-continue`) in a deterministic run.

While a debugger serves a deterministic domain, the run loop keeps in-process
checkpoints: at the start of a round (between slices), one before the first instruction
and then one each CHECKPOINT_EVERY clock units. A checkpoint is the domain as its kind's
snapshot code captures it (`DomainKind`: hvcore/snapshot/pv.py for PV, memory, page
types, channels, vCPU and Xen state; hvcore/snapshot/hvm.py for HVM and PVH, memory,
CPUs, devices and the Xen side), each engine's whole saved context, the instruction
counters and the replay session's place in its event log. Going back to clock value T means: restore the latest checkpoint
at or before T, then run forward, re-applying the logged outside events at their points,
until the clock is exactly T (the counters' limit stops the vCPU there).

While re-executing what has run before, the console output and backend kicks that the
first pass already made are held back (the high-water mark says how far that was).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from hvcore.domain import Domain
    from hvcore.gdb.breakpoints import Hit
    from hvcore.replay.record import Session
    from hvcore.snapshot.state import DomainSnapshot

CHECKPOINT_EVERY = 20_000_000        # clock units (instructions) between checkpoints
MAX_CHECKPOINTS = 64                 # beyond, every other one goes (the first stays)


@dataclass(frozen=True)
class DomainKind:
    """What going back needs from a kind of domain (PV, or HVM/PVH: hvcore/replay/hvm.py)."""
    capture: Callable[[Any], "DomainSnapshot"]
    restore: Callable[[Any, "DomainSnapshot"], None]   # all but time: the clock is ours
    one_round: Callable[[Any], None]                   # a deterministic round of its run loop
    pc: Callable[[Any], int]                           # a vCPU's address as its code hooks see it


def pv_kind() -> DomainKind:
    from hvcore.scheduler import run_round
    from hvcore.snapshot.pv import capture_state, restore_state
    return DomainKind(capture_state, restore_state, lambda dom: run_round(dom, None),
                      lambda v: v.rip)


@dataclass
class Checkpoint:
    clock: int
    snap: "DomainSnapshot"
    contexts: list                   # each engine's uc.context_save()
    counts: list[int]
    session: dict = field(default_factory=dict)


class Reverser:
    def __init__(self, dom: "Domain", session: "Session", kind: DomainKind | None = None) -> None:
        self.dom = dom
        self.session = session
        self.kind = kind or pv_kind()
        self.checkpoints: list[Checkpoint] = []

    # ---- taking checkpoints (the run loop, at the top of a round) ---------------------
    def maybe_take(self) -> None:
        now = self.session.clock.tsc_now()
        if self.checkpoints and now - self.checkpoints[-1].clock < CHECKPOINT_EVERY:
            return
        if self.checkpoints and self.checkpoints[-1].clock >= now:
            return                   # back in the past: that stretch has its checkpoints
        self.checkpoints.append(self._take(now))
        if len(self.checkpoints) > MAX_CHECKPOINTS:
            self.checkpoints = self.checkpoints[:1] + self.checkpoints[2::2]

    def _take(self, now: int) -> Checkpoint:
        engines = [v.engine for v in self.dom.vcpus]
        return Checkpoint(now, self.kind.capture(self.dom), [e.uc.context_save() for e in engines],
                          [c.count for c in self.session.clock.counters],
                          self.session.save_position())

    # ---- going back ---------------------------------------------------------------------
    def step_back(self) -> bool:
        """To the instruction boundary before the current one; False at the beginning."""
        now = self.session.clock.tsc_now()
        target = self.session.clock.boundary_before(now)
        if target is None or not self.checkpoints or target < self.checkpoints[0].clock:
            return False
        self.go_to(target)
        return True

    def continue_back(self) -> "Hit | None":
        """Back to the last breakpoint or watchpoint hit before now, and that hit; None
        when there was none since the first checkpoint, where the vCPU is left then."""
        end = self.session.clock.tsc_now()
        for index in range(len(self.checkpoints) - 1, -1, -1):
            start = self.checkpoints[index].clock
            if start >= end:
                continue
            hits = self._scan(index, end)
            if hits:
                self.go_to(hits[-1][0])
                return hits[-1][1]
            end = start
        self.go_to(self.checkpoints[0].clock)
        return None

    def _scan(self, index: int, end: int) -> list[tuple[int, "Hit"]]:
        """(clock, hit) of every debugger stop in [checkpoint `index`, end)."""
        self._restore(self.checkpoints[index])
        hits: list[tuple[int, "Hit"]] = []
        passing = let_pass(self.dom, self.kind.pc)

        def note() -> None:
            hit = passing()
            if hit is not None and self.session.clock.tsc_now() < end:
                hits.append((self.session.clock.tsc_now(), hit))
        self._run_until(end, note)
        return hits

    def go_to(self, target: int) -> None:
        index = bisect.bisect_right([c.clock for c in self.checkpoints], target) - 1
        self._restore(self.checkpoints[max(index, 0)])
        self._run_until(target, let_pass(self.dom, self.kind.pc))

    def _restore(self, cp: Checkpoint) -> None:
        self.session.note_high_water()
        # the clock first: HVM devices load their timers relative to it
        for v, count in zip(self.dom.vcpus, cp.counts):
            v.engine.icount.count = count
        self.session.restore_position(cp.session)
        self.kind.restore(self.dom, cp.snap)
        for v, ctx in zip(self.dom.vcpus, cp.contexts):
            v.engine.uc.context_restore(ctx)
            v.engine.uc.ctl_flush_tb()       # memory went back: so does translated code
            v.engine.flush_tlb()
            if hasattr(v, "flush_tlb"):
                v.flush_tlb()                # a PV vCPU's own translation cache

    def _run_until(self, target: int, on_stop: Callable[[], None]) -> None:
        """Rounds of the run loop until the clock is `target` (or the domain ends)."""
        session, dom = self.session, self.dom
        session.stop_clock = target
        try:
            while dom.running and session.clock.tsc_now() < target:
                self.kind.one_round(dom)
                on_stop()
        finally:
            session.stop_clock = None


def let_pass(dom: "Domain", pc: Callable[[Any], int]) -> Callable[[], "Hit | None"]:
    """For re-execution: a breakpoint or watchpoint that stopped a vCPU is let pass, and
    returned (None: no debugger stop). `pc`: where the vCPU's code hooks see it."""
    from hvcore.gdb.breakpoints import WATCH_WRITE

    def check() -> "Hit | None":
        points = dom.debugger.points if dom.debugger is not None else None
        if points is None or points.hit is None:
            return None
        hit, points.hit = points.hit, None
        if hit.kind < WATCH_WRITE:           # a code breakpoint: run its instruction once
            points.pass_once(hit.vcpu, pc(dom.vcpus[hit.vcpu]))
        return hit
    return check
