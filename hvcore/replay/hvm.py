"""HVM guests under `--deterministic`, `--record FILE`, `--replay FILE`.

Everything the guest can see of time comes from the instruction clock
(hvcore/replay/clock.py), as for PV: each vCPU's engine counts what it runs, the
domain's clock is the sum plus the time skipped while every vCPU was halted.

- The devices already take their time from a `clock` callable (seconds): the local
  APICs (timer, and the TSC their TSC-deadline mode compares against), the PIT, the
  CGA screen's refresh and the CMOS RTC (the wall clock: 2024-01-01 at boot, as the
  PV wall clock) are given the instruction clock instead of the host's.
- `rdtsc`/`rdtscp` are hooked to read it; the Xen side (PVH, Multiboot kernels that use
  Xen) publishes its time records from it and fires its timers by it.
- The run loop (`run_deterministic`, in place of hvcore/hvm/run.py's) gives each
  runnable vCPU a turn of at most QUANTUM instructions, ended early at the next device
  or Xen deadline *counted in instructions*, so timer interrupts land at the same
  instruction in every run. vCPUs of an SMP guest take their turns in a fixed order,
  so their interleaving, and with it where an IPI lands, is a function of the counts.
- Outside events (console input, other processes' requests) are taken only between
  turns, stamped with the clock, logged and replayed as for PV (HvmSession). Console
  input goes to the UART or the 8042 (`HvmDomain.feed_console`), or, for a PVH guest
  with the PV console, into its ring.
- Device work caused by the guest (an IDE command's completion interrupt, a UART
  transmit interrupt, an IPI) happens inside the port or MMIO write that asked for it:
  already at a fixed instruction. The inbox doorbell is not watched (its kicks land at
  host-timed points).

Not covered: `rdmsr` of IA32_TSC (the engine runs it natively: the host's TSC).
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hvcore.inbox import GDB_LISTEN, SAVE, Request
from hvcore.replay.clock import InsnCounter, InstructionClock, hook_tsc_reads
from hvcore.replay.record import (CONSOLE_INPUT, STORE_ANSWER_S, Event, RecordError,
                                  Session, load)

if TYPE_CHECKING:
    from hvcore.hvm.domain import HvmDomain
    from hvcore.replay.checkpoints import DomainKind

QUANTUM = 1_000_000          # instructions a turn (the PV slice's 10 ms, as clock.py counts)
MIN_TURN = 100               # a deadline closer than this still gets a short turn
MSR_TSC_AUX = 0xC0000103
IDLE_PACE_S = 0.05           # live and idle: at most this long before time skips on


class InstructionTsc:
    """The TSC the local APIC's TSC-deadline mode compares with: the clock itself."""

    def __init__(self, clock: InstructionClock) -> None:
        self.clock = clock

    def now(self) -> int:
        return self.clock.tsc_now()

    def hz(self) -> int:
        return self.clock.hz


def make_hvm_deterministic(dom: "HvmDomain") -> InstructionClock:
    """Put a freshly built HVM domain (before its first instruction) on the clock."""
    clock = InstructionClock()
    seconds = lambda: clock.tsc_now() / 1e9                             # noqa: E731
    for v in dom.vcpus:
        counter = InsnCounter(v.engine)
        clock.counters.append(counter)
        v.engine.icount = counter
        v.engine.time_slice = counter.insn_slice      # run_slice(n): n instructions
        hook_tsc_reads(v, clock, lambda v=v: v.engine.uc.msr_read(MSR_TSC_AUX) & 0xFFFFFFFF)
        if v.lapic is not None:
            v.lapic.clock, v.lapic.tsc = seconds, InstructionTsc(clock)
    for device in dom.io.devices:
        if device.name == "mc146818":                 # the RTC: wall time
            device.clock = lambda: clock.wall_at_boot_ns / 1e9 + seconds()
        elif hasattr(device, "clock") and device.name != "lapic":
            device.clock = seconds
    if dom.cga is not None:
        from hvcore.hvm.devices.cga import INTERVAL
        dom.cga.due = seconds() + INTERVAL
    if dom.xen is not None:
        from hvcore.hvm.xen import _fill_shared_info
        dom.xen.dom.time = clock
        _fill_shared_info(dom.xen.dom)                # the builder wrote the host's time
    return clock


# ---- the run loop ------------------------------------------------------------------------
def run_deterministic(dom: "HvmDomain", deadline: float | None = None) -> str:
    """hvcore/hvm/run.py's loop with turns counted in instructions."""
    try:
        return _run(dom, deadline)
    except RecordError as err:            # a replay that left its recording
        dom.crash(f"d{dom.domid} ({dom.name}) crashed: {err}")
        dom.flush_console()
        return "crash"


def _run(dom: "HvmDomain", deadline: float | None) -> str:
    session: HvmSession = dom.xen.dom.replay
    while dom.running:
        if deadline is not None and time.monotonic() >= deadline:
            return "timeout"
        if dom.debugger is not None:
            dom.debugger.checkpoint()                 # parked while gdb holds the domain
        run_round(dom, deadline)
    if dom.cga is not None:
        dom.cga.tick(session.clock.tsc_now() / 1e9)   # what the screen shows last
    dom.flush_console()
    return dom.shutdown_reason or "crash"


def run_round(dom: "HvmDomain", deadline: float | None) -> None:
    """One round: outside events, then a turn for each runnable vCPU, or time skips on
    (the Reverser re-executes by these rounds: hvcore/replay/checkpoints.py)."""
    from hvcore.hvm.run import debugger_stops
    session: HvmSession = dom.xen.dom.replay
    clock = session.clock
    if session.reverser is not None:
        session.reverser.maybe_take()                 # gdb may want to come back here
    session.apply_requests()
    dom.route_input()
    ran = False
    for v in dom.vcpus:
        _between_turns(dom, clock)
        if dom.running and v.runnable() and not debugger_stops(dom):
            v.run_slice(_turn(dom, clock))
            ran = True
    dom.flush_console()
    if not ran and dom.running and not debugger_stops(dom):
        session.idle(deadline)


def _between_turns(dom: "HvmDomain", clock: InstructionClock) -> None:
    dom.io.tick(clock.tsc_now() / 1e9)
    if dom.xen is not None:
        dom.xen.between_slices()                      # Xen timers, time records


def next_deadline_ns(dom: "HvmDomain") -> int | None:
    """The earliest device or Xen deadline, on the instruction clock."""
    from hvcore.scheduler import next_deadline_ns as xen_deadline
    wakes = []
    device = dom.io.next_deadline()
    if device is not None:
        wakes.append(int(device * 1e9) + 1)           # seconds -> ns, rounded up
    if dom.xen is not None:
        xen = xen_deadline(dom.xen.dom)
        if xen is not None:
            wakes.append(xen)
    return min(wakes) if wakes else None


def _turn(dom: "HvmDomain", clock: InstructionClock) -> int:
    """A vCPU's budget: QUANTUM, or up to the next deadline."""
    wake = next_deadline_ns(dom)
    if wake is None:
        return QUANTUM
    return max(MIN_TURN, min(QUANTUM, wake - clock.tsc_now()))


# ---- outside events ------------------------------------------------------------------------
@dataclass
class HvmSession(Session):
    """Session (hvcore/replay/record.py) over an HVM domain: `dom` is its Xen side (event
    channels, rings), `hvm` the PC (devices, console input)."""
    hvm: "HvmDomain | None" = None
    pv_console: bool = False          # PVH: input into the console ring, not the UART

    def apply_requests(self) -> None:
        """The guest asked xenstore in its last turn (which ended there): wait for the
        answer here, so the guest sees it at this point whenever the host wrote it, even
        one that spins on the ring's indexes (guests/pvh does, yielding)."""
        if self.store_asked:
            self._wait_inbox(STORE_ANSWER_S, None)
        super().apply_requests()

    def _drain(self) -> list[Request]:
        inbox = self.hvm.inbox
        if inbox is None:
            return []
        requests = []
        for req in inbox.drain():
            if req.kind == CONSOLE_INPUT:
                if not self.from_file:
                    self.pending_input += req.arg.to_bytes(8, "little")[:min(req.port, 8)]
            elif req.kind == SAVE:                   # hv save: not guest-visible
                from hvcore.snapshot.process import save_hvm
                save_hvm(self.hvm, keep_running=bool(req.port))
            elif req.kind == GDB_LISTEN:             # nor is the debugger
                from hvcore.gdb.attach import listen
                listen(self.hvm, req.port)
            else:
                requests.append(req)
        if requests:
            self.store_asked = False
        self.hvm.inbox_drained.set()
        if self.replaying:
            self.live += requests
            return []
        return requests

    def _apply_live(self, requests: list[Request]) -> None:
        if self.pv_console:                           # into the ring, as for PV
            super()._apply_live(requests)
            return
        now = self.clock.tsc_now()
        for req in requests:
            self._apply(Event(now, request=(req.kind, req.port, req.arg)))
        if self.pending_input:                        # the PC holds what it cannot take yet
            data, self.pending_input = self.pending_input, b""
            self._apply(Event(now, console=data))

    def _apply(self, event: Event) -> None:
        if event.console is None or self.pv_console:
            super()._apply(event)
            return
        self.hvm.feed_console(event.console)        # held by the PC until routed
        if not self.replaying:
            self.log.append(event)
            if self.out is not None:
                self._write(event.to_json())

    def idle(self, deadline: float | None) -> None:
        """Every vCPU halted: time skips to the next deadline. Live, not faster than
        the host's clock (an interactive guest idles in its timer ticks; input typed
        meanwhile is taken where time stands)."""
        wake = next_deadline_ns(self.hvm)
        now = self.clock.tsc_now()
        if self.replaying and self.cursor < len(self.log):
            nxt = self.log[self.cursor].at
            if wake is None or wake > nxt:
                if nxt > now:
                    raise RecordError(f"replay diverged: every vCPU is halted at {now},"
                                      f" the next event is at {nxt}")
                return
        elif self.store_asked and self._wait_inbox(STORE_ANSWER_S, deadline):
            return
        if wake is None:
            self._wait_inbox(IDLE_PACE_S, deadline)
            return
        paced = not self.replaying and not self.reexecuting()   # (gdb went back: not again)
        if paced and self._wait_inbox(min(IDLE_PACE_S, (wake - now) / 1e9), deadline):
            return                                     # something came: take it first
        self.clock.skip_to(wake)

    def _wait_inbox(self, seconds: float, deadline: float | None) -> bool:
        if self.dom.inbox is None and self.hvm.inbox is not None:
            self.dom.inbox = self.hvm.inbox
        return super()._wait_inbox(seconds, deadline)


# ---- going back (gdb's reverse-stepi / reverse-continue) ------------------------------------
def hvm_kind() -> "DomainKind":
    """What hvcore/replay/checkpoints.py's Reverser needs of an HVM or PVH domain."""
    from hvcore.gdb.hvm import linear_pc
    from hvcore.replay.checkpoints import DomainKind
    from hvcore.snapshot.hvm import capture_hvm, restore_hvm_state
    return DomainKind(capture_hvm, restore_hvm_state, lambda dom: run_round(dom, None),
                      linear_pc)


def allow_going_back(dom: "HvmDomain") -> None:
    """gdb serves a deterministic domain of one vCPU (several: going back to a point
    between two vCPUs' turns is not done, so gdb is not offered it): keep checkpoints,
    and hold back the console output a re-execution makes again (the first pass gave it)."""
    from hvcore.replay.checkpoints import Reverser
    session: HvmSession = dom.xen.dom.replay
    if dom.debugger is None or session is None or len(dom.vcpus) != 1:
        return
    session.reverser = Reverser(dom, session, hvm_kind())
    write = dom.console_write

    def console(data: bytes) -> None:
        if not session.output_given():
            write(data)
    dom.console_write = console


# ---- starting ----------------------------------------------------------------------------
def hvm_header(args) -> dict:
    """The record header: what the guest boots from (firmware, kernel, disks) hashed."""
    from hvcore.hvm.domain import DEFAULT_FIRMWARE
    from hvcore.replay.record import FORMAT, VERSION
    files = [args.firmware or str(DEFAULT_FIRMWARE), args.kernel, args.ramdisk,
             args.disk, args.slave_disk]
    digest = hashlib.sha256()
    for path in files:
        if path:
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
    name = os.path.basename(args.kernel or args.disk or "")
    return {"format": FORMAT, "version": VERSION, "kernel": name, "type": "hvm",
            "sha256": digest.hexdigest(), "memory": args.memory, "cmdline": args.cmdline,
            "vcpus": args.vcpus}


def start_hvm(dom: "HvmDomain", args) -> HvmSession:
    """Deterministic mode for a built HVM domain, recording or replaying (RecordError:
    one line for the user)."""
    clock = make_hvm_deterministic(dom)
    header = hvm_header(args)
    xen = dom.xen.dom
    session = HvmSession(xen, clock, hvm=dom, pv_console=bool(args.pvh))
    if args.replay is not None:
        recorded, session.log = load(args.replay)
        for key in ("sha256", "memory", "cmdline", "vcpus"):
            if recorded.get(key) != header[key]:
                raise RecordError(f"{args.replay}: recorded with another {key}"
                                  f" ({recorded.get(key)!r}, this run {header[key]!r})")
        session.replaying = session.from_file = True
    if args.record is not None:
        try:
            session.out = open(args.record, "w")
        except OSError as err:
            raise RecordError(f"{args.record}: {err.strerror}") from None
        session._write(header)
    xen.replay = session
    return session


def watch_store_kicks(dom: "HvmDomain") -> None:
    """Once the host link is up (its backend_notify set): a guest with xenstore rings
    is owed an answer when it kicks the store port (hvcore/replay/record.py)."""
    from hvcore.replay.record import _watch_store_kicks
    xen = dom.xen.dom
    if not xen.store_pfn or xen.backend_notify is None:
        return
    _watch_store_kicks(xen, xen.replay)
    notify = xen.backend_notify

    def kicked(port: int) -> None:
        notify(port)
        if port == xen.store_evtchn:      # the turn ends: the answer comes before the next
            for v in dom.vcpus:
                v.engine.kick()
    xen.backend_notify = kicked
