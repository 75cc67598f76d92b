"""What reaches a deterministic domain from outside, and when (`--record`, `--replay`).

A deterministic domain (hvcore/replay/clock.py) takes outside events only between
slices: at the top of the scheduler's round, or while every vCPU is blocked. Each one
is stamped with the domain's clock (instructions run + time skipped idle), which names
that point exactly. The events are:
- console input: with --deterministic the host does not write the guest's console ring
  itself (its write would land at any instruction); it hands the bytes to this process
  (inbox CONSOLE_INPUT requests), which puts them in the ring and raises the console
  port between slices;
- requests from other processes on the inbox: a port made pending (a xenstore answer,
  a backend's notification), a peer's channel bound or closed.

`--record FILE` writes them down as they are applied; `--replay FILE` applies them at the
same clock values instead, stopping the vCPU exactly there (the counter's limit), and
ignores console input. A request that came from a host-side service (a xenstore
answer) is applied on replay only once the live host has made the same request: it
wrote the ring that the event announces.

The file is JSON lines (docs/user-guide.md): a header
  {"format": "hvcore-record", "version": 1, "kernel": NAME, "sha256": HEX, "memory": MiB,
   "cmdline": STR, "vcpus": N}
then one line per event, `{"at": CLOCK, "console": HEX}` or
`{"at": CLOCK, "request": [KIND, PORT, ARG]}`, and, if the run ended, `{"end": CLOCK,
"reason": REASON, "memory_sha256": HEX}` (guest RAM at the end, but its console and
xenstore ring pages, which the host writes on its own time).
"""
from __future__ import annotations

import hashlib
import json
import os
import select
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from hvcore.inbox import GDB_LISTEN, SET_PENDING, Request
from hvcore.memory import PAGE_SIZE
from hvcore.replay.clock import NO_STOP, InstructionClock

if TYPE_CHECKING:
    from hvcore.domain import Domain
    from hvcore.replay.checkpoints import Reverser

FORMAT, VERSION = "hvcore-record", 1
CONSOLE_INPUT = 0x100        # inbox request kind (as hvcore/hvm/run.py's): `port` bytes in `arg`
HOST_ANSWER_S = 10.0         # how long a replay waits for the live host's same request
STORE_ANSWER_S = 2.0         # a blocked domain that asked xenstore waits this long for it
HOST_TAKES_S = 1.0           # going back: how long the host may take to read the rings
XS_REQ_CONS = 2048           # xenstore_domain_interface: req_cons, then req_prod



def ram_digest(dom) -> str:
    """SHA-256 of guest RAM but its console and xenstore ring pages: the host writes
    those (its consumer index, xenstore's answers) on its own time, so two runs of the
    same guest may end with them a little apart."""
    xen = getattr(dom, "xen", None)
    owners = (dom, xen.dom) if xen is not None else (dom,)
    skip = sorted({pfn for d in owners for pfn in (getattr(d, "console_pfn", 0),
                                                  getattr(d, "store_pfn", 0)) if pfn})
    ram, digest, pos = memoryview(dom.ram.map), hashlib.sha256(), 0
    for pfn in skip:
        start = pfn * 4096
        if pos <= start < len(ram):
            digest.update(ram[pos:start])
            pos = start + 4096
    digest.update(ram[pos:])
    return digest.hexdigest()

class RecordError(Exception):
    """An unusable record file, or a replay that left its recording (one-line reason)."""


@dataclass
class Event:
    at: int
    console: bytes | None = None
    request: tuple[int, int, int] | None = None

    def to_json(self) -> dict:
        if self.console is not None:
            return {"at": self.at, "console": self.console.hex()}
        return {"at": self.at, "request": list(self.request or ())}

    @classmethod
    def from_json(cls, line: dict) -> "Event":
        if "console" in line:
            return cls(int(line["at"]), console=bytes.fromhex(line["console"]))
        kind, port, arg = (int(x) for x in line["request"])
        return cls(int(line["at"]), request=(kind, port, arg))


def kernel_header(kernel: str, memory: int, cmdline: str, vcpus: int) -> dict:
    with open(kernel, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"format": FORMAT, "version": VERSION, "kernel": os.path.basename(kernel),
            "sha256": digest, "memory": memory, "cmdline": cmdline, "vcpus": vcpus}


def load(path: str) -> tuple[dict, list[Event]]:
    """A record file's header and events (RecordError on anything else)."""
    try:
        with open(path) as f:
            lines = [json.loads(text) for text in f if text.strip()]
    except OSError as err:
        raise RecordError(f"{path}: {err.strerror}") from None
    except ValueError:
        raise RecordError(f"{path}: not a record file (bad JSON)") from None
    if not lines or not isinstance(lines[0], dict) or lines[0].get("format") != FORMAT:
        raise RecordError(f"{path}: not an hvcore record file")
    if lines[0].get("version") != VERSION:
        raise RecordError(f"{path}: record format version {lines[0].get('version')} unknown")
    try:
        events = [Event.from_json(x) for x in lines[1:] if "at" in x]
    except (KeyError, TypeError, ValueError):
        raise RecordError(f"{path}: a malformed event line") from None
    return lines[0], events


@dataclass
class Session:
    """One deterministic domain's outside events: taken live (and written down with
    --record), or replayed from a recording."""
    dom: "Domain"
    clock: InstructionClock
    replaying: bool = False
    log: list[Event] = field(default_factory=list)   # applied so far (replay: all of it)
    cursor: int = 0                                  # replay: the next event to apply
    out: TextIO | None = None                        # --record's file
    pending_input: bytes = b""                       # console bytes the ring could not take
    live: list[Request] = field(default_factory=list)   # replay: the host's, not yet matched
    store_asked: bool = False                        # the guest kicked xenstore since
    from_file: bool = False                          # --replay (else the log is our own)
    stop_clock: int | None = None                    # re-execution: stop exactly there
    high_water: int = 0                              # the furthest the run has been
    reverser: "Reverser | None" = None               # gdb's way back (checkpoints.py)
    frontier_rings: dict[int, bytes] = field(default_factory=dict)  # at high_water (below)

    # ---- between slices ----------------------------------------------------------
    def apply_requests(self) -> None:
        """The scheduler's round starts: apply what is due now."""
        self._back_at_frontier()
        requests = self._drain()
        if self.replaying and not self.from_file and self.cursor >= len(self.log):
            self.replaying = False           # re-executed up to the present: live again
            requests, self.live = self.live + requests, []
        if self.replaying and self.cursor < len(self.log):
            self._replay_due()
        else:
            self._apply_live(requests)
        self._limit_next()

    def idle(self, deadline: float | None) -> None:
        """Every vCPU is blocked. A timer armed: time jumps to it (after a xenstore
        answer the guest is owed, if any). None: wait for the outside, in host time."""
        from hvcore.scheduler import next_deadline_ns
        wake = next_deadline_ns(self.dom)
        if self.replaying and self.cursor < len(self.log):
            nxt = self.log[self.cursor].at
            if wake is None or wake > nxt:
                if nxt > self.clock.tsc_now():
                    raise RecordError(f"replay diverged: every vCPU is blocked at "
                                      f"{self.clock.tsc_now()}, the next event is at {nxt}")
                return
        elif self.store_asked and self._wait_inbox(STORE_ANSWER_S, deadline):
            return
        if wake is not None:
            self.clock.skip_to(wake)
            return
        self._wait_inbox(0.05, deadline)

    def store_kicked(self) -> None:
        self.store_asked = True

    def close(self, reason: str) -> None:
        if self.out is not None:
            # where and in what state it ended: two runs compare by this line
            self._write({"end": self.clock.tsc_now(), "reason": reason,
                         "memory_sha256": ram_digest(self.dom)})
            self.out.close()
            self.out = None

    # ---- live events ---------------------------------------------------------------
    def _drain(self) -> list[Request]:
        if self.dom.inbox is None:
            return []
        requests = []
        for req in self.dom.inbox.drain():
            if req.kind == GDB_LISTEN:             # the debugger is not guest-visible
                from hvcore.gdb.attach import listen
                listen(self.dom, req.port)
            elif req.kind == CONSOLE_INPUT:
                if not self.from_file:
                    self.pending_input += req.arg.to_bytes(8, "little")[:min(req.port, 8)]
            else:
                requests.append(req)
        if requests:
            self.store_asked = False
        if self.replaying:
            self.live += requests
            return []
        return requests

    def _apply_live(self, requests: list[Request]) -> None:
        now = self.clock.tsc_now()
        for req in requests:
            self._apply(Event(now, request=(req.kind, req.port, req.arg)))
        if self.pending_input and self.dom.console_pfn:
            taken = self._put_console(self.pending_input)
            if taken:
                self.pending_input = self.pending_input[len(taken):]

    def _put_console(self, data: bytes) -> bytes:
        """Console input into the ring, as the host's console daemon would, and the
        console port raised; returns what fitted (and applies it as an event)."""
        from hvcore.console_ring import IN_CONS, IN_PROD, IN_SIZE
        from hvcore.shared_word import load_u32
        base = self.dom.console_pfn * PAGE_SIZE
        room = IN_SIZE - ((load_u32(self.dom.ram.map, base + IN_PROD)
                           - load_u32(self.dom.ram.map, base + IN_CONS)) & 0xFFFFFFFF)
        taken = data[:max(0, room)]
        if taken:
            self._apply(Event(self.clock.tsc_now(), console=taken))
        return taken

    def _apply(self, event: Event) -> None:
        from hvcore.hypercalls import event_channel_op as ev
        if event.console is not None:
            from hvcore.console_ring import put_input
            put_input(self.dom.ram.map, self.dom.console_pfn * PAGE_SIZE, event.console)
            ev.peer_event(self.dom, SET_PENDING, self.dom.console_evtchn, 0)
        else:
            ev.peer_event(self.dom, *event.request)
        if not self.replaying:
            self.log.append(event)
            if self.out is not None:
                self._write(event.to_json())

    def _write(self, line: dict) -> None:
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()

    # ---- replay -----------------------------------------------------------------------
    def _replay_due(self) -> None:
        now = self.clock.tsc_now()
        while self.cursor < len(self.log) and self.log[self.cursor].at <= now:
            event = self.log[self.cursor]
            if event.at < now:
                raise RecordError(f"replay diverged: an event recorded at {event.at} is due"
                                  f" at {now}")
            if event.request is not None and now >= self.high_water:
                self._await_live(event.request)   # (re-executed: it came long ago)
            self._apply(event)
            self.cursor += 1

    def _await_live(self, request: tuple[int, int, int]) -> None:
        """A host-side answer (xenstore's ring, a backend's): apply its event only once
        the live host has sent the same, so what it announces is in memory."""
        end = time.monotonic() + HOST_ANSWER_S
        while True:
            for i, req in enumerate(self.live):
                if (req.kind, req.port, req.arg) == request:
                    del self.live[i]
                    return
            if self.dom.inbox is None or time.monotonic() >= end:
                return           # nobody will send it (no host, or a closed one)
            self._wait_inbox(0.05, None)
            self._drain()

    def _limit_next(self) -> None:
        """Replaying: no slice runs past the next event's clock value (nor, going back,
        past the point gdb asked for, nor, run again, past the furthest the first pass
        got: output gathered in a slice is then all given before, or all new)."""
        stops = [self.stop_clock] if self.stop_clock is not None else []
        if self.reexecuting():
            stops.append(self.high_water)
        if self.replaying and self.cursor < len(self.log):
            stops.append(self.log[self.cursor].at)
        if not stops:
            for c in self.clock.counters:
                c.limit = NO_STOP
            return
        ahead = max(0, min(stops) - self.clock.tsc_now())
        for c in self.clock.counters:
            c.limit = c.count + ahead

    # ---- going back (hvcore/replay/checkpoints.py) ------------------------------------
    def save_position(self) -> dict:
        """Where the session is, for a checkpoint (console input not yet taken is not
        part of it: it is still to come, whenever the run gets back to the present)."""
        return {"cursor": self.cursor if self.replaying else len(self.log),
                "store_asked": self.store_asked, "idle_ns": self.clock.idle_ns,
                "skips": len(self.clock.skips), "last_refresh_ns": self.clock.last_refresh_ns}

    def restore_position(self, saved: dict) -> None:
        self.cursor, self.store_asked = saved["cursor"], saved["store_asked"]
        self.clock.idle_ns, self.clock.last_refresh_ns = saved["idle_ns"], saved["last_refresh_ns"]
        del self.clock.skips[saved["skips"]:]
        self.replaying = self.from_file or self.cursor < len(self.log)

    def note_high_water(self) -> None:
        """Going back: remember how far the run got, and the console and xenstore ring
        pages as they were there, with what the host wrote in them (its consumer and
        producer indexes, xenstore's answers), which re-execution does not make again."""
        now = self.clock.tsc_now()
        if now >= self.high_water:
            self.high_water = now
            self._await_host_taken()
            self.frontier_rings = {pfn: bytes(self._page(pfn)) for pfn in self._ring_pfns()}

    def _await_host_taken(self) -> None:
        """The host takes console output and xenstore requests on its own time: let it
        have taken what it was told of (at most HOST_TAKES_S), so that the rings kept
        say so and it is not taken again."""
        from hvcore.console_ring import OUT_CONS, OUT_PROD
        from hvcore.shared_word import load_u32
        pairs = [(self.dom.console_pfn, OUT_CONS, OUT_PROD),
                 (self.dom.store_pfn, XS_REQ_CONS, XS_REQ_CONS + 4)]
        end = time.monotonic() + HOST_TAKES_S
        for pfn, cons, prod in pairs:
            base = pfn * PAGE_SIZE
            while pfn and time.monotonic() < end and \
                    load_u32(self.dom.ram.map, base + cons) != load_u32(self.dom.ram.map, base + prod):
                time.sleep(0.005)

    def _back_at_frontier(self) -> None:
        """Re-executed up to the high-water mark exactly (slices stop there): the guest
        wrote its rings as the first time; the host's part is put back, so the host does
        not take the output again nor the guest miss an answer."""
        if not self.frontier_rings or self.clock.tsc_now() < self.high_water:
            return
        if self.clock.tsc_now() == self.high_water:
            for pfn, data in self.frontier_rings.items():
                self._page(pfn)[:] = data
        self.frontier_rings = {}

    def _ring_pfns(self) -> list[int]:
        return [pfn for pfn in (self.dom.console_pfn, self.dom.store_pfn) if pfn]

    def _page(self, pfn: int) -> memoryview:
        return memoryview(self.dom.ram.map)[pfn * PAGE_SIZE:(pfn + 1) * PAGE_SIZE]

    def reexecuting(self) -> bool:
        """Running again what has run before: its output was given the first time."""
        return self.clock.tsc_now() < self.high_water

    def output_given(self) -> bool:
        """Output gathered in a slice that ended here was given by the first pass (an
        HVM domain hands its console's on after each round; `_limit_next` ends a
        re-executed round at the high-water mark at the latest)."""
        return 0 < self.high_water and self.clock.tsc_now() <= self.high_water

    def _wait_inbox(self, seconds: float, deadline: float | None) -> bool:
        if deadline is not None:
            seconds = min(seconds, max(0.0, deadline - time.monotonic()))
        if self.dom.inbox is None:
            time.sleep(seconds)
            return False
        ready, _, _ = select.select([self.dom.inbox.eventfd], [], [], seconds)
        return bool(ready)


def start(dom: "Domain", kernel: str, memory: int, cmdline: str,
          record: str | None, replay: str | None) -> Session:
    """Put a freshly built domain in deterministic mode, recording or replaying."""
    from hvcore.replay.clock import make_deterministic
    clock = make_deterministic(dom)
    header = kernel_header(kernel, memory, cmdline, len(dom.vcpus))
    session = Session(dom, clock)
    if replay is not None:
        recorded, session.log = load(replay)
        for key in ("sha256", "memory", "cmdline", "vcpus"):
            if recorded.get(key) != header[key]:
                raise RecordError(f"{replay}: recorded with another {key}"
                                  f" ({recorded.get(key)!r}, this run {header[key]!r})")
        session.replaying = session.from_file = True
    if record is not None:
        try:
            session.out = open(record, "w")
        except OSError as err:
            raise RecordError(f"{record}: {err.strerror}") from None
        session._write(header)
    _watch_store_kicks(dom, session)
    return session


def _watch_store_kicks(dom: "Domain", session: Session) -> None:
    """Know when the guest has asked xenstore something (its answer is owed); hold back
    the kicks and the console output of a re-execution (the first pass made them)."""
    notify, write = dom.backend_notify, dom.console_write

    def kicked(port: int) -> None:
        if session.reexecuting():
            return
        if port == dom.store_evtchn:
            session.store_kicked()
        notify(port)

    def console(data: bytes) -> None:
        if not session.reexecuting():
            write(data)
    if notify is not None:
        dom.backend_notify = kicked
    dom.console_write = console
