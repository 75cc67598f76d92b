"""Running one domain's vCPUs: round-robin on one thread, timers, blocking.

A domain's vCPUs share a thread (the engine's lock/xchg are not atomic across
engines); each gets a time slice in turn. A blocked domain sleeps until its next timer.
"""
from __future__ import annotations

import select
import time
from typing import TYPE_CHECKING

from hvcore.inbox import GDB_LISTEN, SAVE
from hvcore.public import xen as XEN
from hvcore.time import refresh_times

if TYPE_CHECKING:
    from hvcore.domain import Domain

SLICE_US = 10_000
# A domain that has just blocked watches its doorbell this long before it sleeps: an
# answer that comes within it (an event ping-pong) costs no sleep and wake-up of the
# process, which is most of a round trip; a domain idle for longer sleeps as before.
SPIN_S = 0.000_05

def fire_timers(dom: "Domain") -> None:
    from hvcore.hypercalls import event_channel_op as ev
    if next_deadline_ns(dom) is None:
        return                      # no timer armed: spare the clock read
    now = dom.time.system_time_ns()
    for v in dom.vcpus:
        st = v.state
        if st.timer_deadline_ns is not None and now >= st.timer_deadline_ns:
            st.timer_deadline_ns = None
            ev.send_virq(dom, XEN.VIRQ_TIMER, v.id)
            st.blocked = False   # a timer wakes a blocked vCPU even with no port bound
        if st.blocked and st.poll_deadline_ns is not None and now >= st.poll_deadline_ns:
            st.blocked, st.poll_deadline_ns = False, None


def next_deadline_ns(dom: "Domain") -> int | None:
    deadlines = [d for v in dom.vcpus
                 for d in (v.state.timer_deadline_ns, v.state.poll_deadline_ns) if d is not None]
    return min(deadlines) if deadlines else None


def watch_inbox(dom: "Domain") -> None:
    """Let other processes' requests stop a running vCPU at once: every engine of the
    domain watches the inbox doorbell from its C block hook (hvcore/inbox.py).
    Not when deterministic: requests then wait for the end of a slice."""
    if dom.replay is not None:
        return
    for v in dom.vcpus:
        v.engine.watch_doorbell(dom.inbox.doorbell_address)


def apply_requests(dom: "Domain") -> None:
    """Requests other processes posted to this domain (only we write our event state)."""
    from hvcore.hypercalls import event_channel_op as ev
    if dom.replay is not None:
        dom.replay.apply_requests()       # stamped with the clock (hvcore/replay/record.py)
        return
    if dom.inbox is None:
        return
    for req in dom.inbox.drain():
        if req.kind == GDB_LISTEN:
            from hvcore.gdb.attach import listen
            listen(dom, req.port)
        elif req.kind == SAVE:
            from hvcore.snapshot.process import save
            save(dom, keep_running=bool(req.port))
        else:
            ev.peer_event(dom, req.kind, req.port, req.arg)


def run_domain(dom: "Domain", deadline: float | None = None) -> str:
    """Run until the domain shuts down (returns its reason) or `deadline` passes ('timeout')."""
    while dom.running:
        if deadline is not None and time.monotonic() >= deadline:
            return "timeout"
        if dom.debugger is not None:
            dom.debugger.checkpoint()     # all-stop: parked here while gdb holds the domain
        run_round(dom, deadline)
    dom.drain_console()
    return dom.shutdown_reason or "crash"


def run_round(dom: "Domain", deadline: float | None) -> None:
    """One round: outside requests, timers, a slice for each runnable vCPU, or a sleep."""
    if dom.replay is not None and dom.replay.reverser is not None:
        dom.replay.reverser.maybe_take()  # gdb may want to come back here
    apply_requests(dom)
    fire_timers(dom)
    refresh_times(dom)
    ran = False
    for v in dom.vcpus:
        if v.runnable() and not _debugger_stops(dom):
            v.run_slice(SLICE_US)
            ran = True
        dom.drain_console()
    if not ran and dom.running and not _debugger_stops(dom):
        _sleep_until_event(dom, deadline)


def _debugger_stops(dom: "Domain") -> bool:
    """A breakpoint hit or gdb asked for a stop: no other vCPU runs before it parks."""
    return dom.debugger is not None and dom.debugger.wants_stop()


def _sleep_until_event(dom: "Domain", deadline: float | None) -> None:
    """All vCPUs blocked: sleep to the next timer (a blocked domain costs no CPU)."""
    if dom.replay is not None:
        dom.replay.idle(deadline)         # deterministic: time jumps to the timer
        return
    wake = next_deadline_ns(dom)
    pause = 0.05
    if wake is not None:
        pause = min(pause, max(0.0, (wake - dom.time.system_time_ns()) / 1e9))
    if deadline is not None:
        pause = min(pause, max(0.0, deadline - time.monotonic()))
    if dom.inbox is not None:
        if dom.inbox.wait_briefly(min(pause, SPIN_S)):
            return                     # a request came at once: no sleep and wake-up
        select.select([dom.inbox.eventfd], [], [], pause)   # woken by a request
    else:
        time.sleep(pause)
