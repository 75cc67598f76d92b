"""The HVM domain's run loop: round-robin over its vCPUs on one thread (as
hvcore/scheduler.py does for PV, with the same slice), devices' timers between slices,
a slice cut short at the next device deadline, and an idle domain (every vCPU halted)
asleep until that deadline or a request from another process.
"""
from __future__ import annotations

import select
import time
from typing import TYPE_CHECKING

from hvcore.inbox import GDB_LISTEN, SAVE
from hvcore.scheduler import SLICE_US

if TYPE_CHECKING:
    from hvcore.hvm.domain import HvmDomain

CONSOLE_INPUT = 0x100      # inbox request kind: `port` bytes of input packed in `arg`
IDLE_WAIT_S = 0.05


def apply_requests(dom: "HvmDomain") -> None:
    if dom.inbox is None:
        return
    for req in dom.inbox.drain():
        if req.kind == CONSOLE_INPUT:
            dom.feed_console(req.arg.to_bytes(8, "little")[:req.port])
        elif req.kind == SAVE:              # hv save: between slices, as a PV domain
            from hvcore.snapshot.process import save_hvm
            save_hvm(dom, keep_running=bool(req.port))
        elif req.kind == GDB_LISTEN:        # hv gdbserver
            from hvcore.gdb.attach import listen
            listen(dom, req.port)
        elif dom.xen is not None:           # event channels: the host's and peers' sends
            from hvcore.hypercalls.event_channel_op import peer_event
            peer_event(dom.xen.dom, req.kind, req.port, req.arg)
    dom.inbox_drained.set()


def run_hvm_domain(dom: "HvmDomain", deadline: float | None = None) -> str:
    """Run until the domain stops (its reason) or `deadline` passes ('timeout')."""
    while dom.running:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return "timeout"
        if dom.debugger is not None:
            dom.debugger.checkpoint()       # all-stop: parked here while gdb holds the domain
            now = time.monotonic()
        apply_requests(dom)
        dom.route_input()
        dom.io.tick(now)
        if dom.xen is not None:
            dom.xen.between_slices()        # Xen timers (VIRQ_TIMER), time records
        ran = False
        for v in dom.vcpus:
            if v.runnable() and not debugger_stops(dom):
                v.run_slice(_slice_us(dom, now))
                ran = True
        dom.flush_console(whole_lines=ran)     # idle (waiting): a prompt goes out too
        if not ran and dom.running and not debugger_stops(dom):
            _sleep(dom, deadline)
    if dom.cga is not None:
        dom.cga.tick(time.monotonic())      # what the screen shows last
    dom.flush_console()
    return dom.shutdown_reason or "crash"


def debugger_stops(dom: "HvmDomain") -> bool:
    """A breakpoint hit or gdb asked for a stop: no other vCPU runs before it parks."""
    return dom.debugger is not None and dom.debugger.wants_stop()


def _slice_us(dom: "HvmDomain", now: float) -> int:
    """The slice ends at the next device deadline, so a timer IRQ is never late by
    more than a block."""
    wake = _next_deadline(dom)
    if wake is None:
        return SLICE_US
    return max(50, min(SLICE_US, int((wake - now) * 1e6)))


def _sleep(dom: "HvmDomain", deadline: float | None) -> None:
    now = time.monotonic()
    pause = IDLE_WAIT_S
    wake = _next_deadline(dom)
    if wake is not None:
        pause = min(pause, max(0.0, wake - now))
    if deadline is not None:
        pause = min(pause, max(0.0, deadline - now))
    if dom.inbox is not None:
        select.select([dom.inbox.eventfd], [], [], pause)
    else:
        time.sleep(pause)


def _next_deadline(dom: "HvmDomain") -> float | None:
    """The earliest of the devices' deadlines and the Xen timers'."""
    wakes = [dom.io.next_deadline(), dom.xen.next_deadline() if dom.xen is not None else None]
    wakes = [w for w in wakes if w is not None]
    return min(wakes) if wakes else None
