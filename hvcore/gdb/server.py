"""The gdb server of one domain: a thread that talks to gdb, and the run loop's side.

All-stop, as gdb expects from a remote target: when the domain stops (a breakpoint or
watchpoint hook fired, a step ended, gdb connected or sent Ctrl-C) the run loop parks
in `checkpoint()`, and gdb's thread answers packets against the stopped vCPUs. A
continue or step is handed back to the run loop, which does it on its own thread (the
one that owns the engines). Ctrl-C kicks the engines (the C block hook stops them at
a block boundary), so the run loop needs no Python hook of its own: with no gdb
attached and no breakpoint set, all this costs one attribute test per scheduler round.
"""
from __future__ import annotations

import os
import select
import socket
import threading
from typing import TYPE_CHECKING

from hvcore.gdb.breakpoints import STOP_WORDS, WATCH_WRITE, Breakpoints
from hvcore.gdb.packets import Reader, frame
from hvcore.gdb.stub import Resume, Stub
from hvcore.gdb.target import target_for

if TYPE_CHECKING:
    from hvcore.domain import Domain

SIGINT, SIGTRAP, SIGABRT = 2, 5, 6
_EXITED_NORMALLY = {"poweroff": 0, "suspend": 0, "reboot": 3, "soft_reset": 3}


class GdbServer:
    def __init__(self, dom: "Domain", port: int, wait: bool) -> None:
        self.dom = dom
        self.target = target_for(dom)          # PV or HVM/PVH (hvcore/gdb/target.py)
        self.points = Breakpoints(dom, self.target)
        self.listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.port = self.listener.getsockname()[1]
        self._cond = threading.Condition()
        self._stop_requested = wait          # --gdb-wait: park before the first instruction
        self._signal = SIGTRAP
        self._parked = False
        self._stop_packet = b"S05"
        self._resume: Resume | None = None
        self._ended: bytes | None = None      # W/X once the domain is gone
        self._session_open = False
        self._await_first = wait              # park with no gdb only until one comes
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self.current = 0                      # the vCPU that stopped last
        self._history_begin = False           # a reverse move found no more history
        self.thread = threading.Thread(target=self._serve, name=f"d{dom.domid}-gdb", daemon=True)

    def start(self) -> None:
        self.thread.start()

    # ---- the run loop's side ---------------------------------------------------------
    def wants_stop(self) -> bool:
        return self._stop_requested or self.points.hit is not None

    def checkpoint(self) -> None:
        """Park here while gdb holds the domain; do its steps; return to run."""
        if not self.wants_stop():
            return
        while True:
            resume = self._park(self._stop_reply())
            if resume.action == "step":
                self._step(resume.vcpu)
                if not self.dom.running:
                    return
                continue
            if resume.action.startswith("reverse-"):
                self._reverse(resume.action)
                continue
            if resume.action == "kill":
                self.dom.crash(f"d{self.dom.domid} ({self.dom.name}) killed from gdb")
                return
            self._pass_breakpoints_under_pc()
            return

    def domain_ended(self, reason: str, exit_code: int | None = None) -> None:
        """Tell gdb (W: exited with a code, X: crashed) and let it see the packet.
        `exit_code`: what an HVM guest wrote to the test-exit port, if it did."""
        code = _EXITED_NORMALLY.get(reason)
        if code is not None and exit_code is not None:
            code = exit_code & 0xFF
        packet = b"W%02x" % code if code is not None else b"X%02x" % SIGABRT
        with self._cond:
            self._ended = packet
            session = self._session_open
            self._cond.notify_all()
        self._wake()
        if session:
            self.thread.join(timeout=3.0)
        self.listener.close()

    def _park(self, reply: bytes) -> Resume:
        with self._cond:
            self._stop_requested = False
            self.points.hit = None
            if not self._session_open and not self._await_first:
                self.points.clear()             # gdb left while the guest ran
                return Resume("continue")
            self._stop_packet = reply
            self._resume = None
            self._parked = True
            self._cond.notify_all()
        self._wake()
        with self._cond:
            while self._resume is None:
                self._cond.wait()
            resume, self._resume, self._parked = self._resume, None, False
            return resume

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:
            pass                                # already awake

    def _reverse(self, action: str) -> None:
        """Back one instruction, or to the last breakpoint/watchpoint hit; at the start
        of the history, gdb is told so (replaylog:begin)."""
        reverser = self.target.reverser()
        self._signal = SIGTRAP
        if action == "reverse-step":
            moved = reverser.step_back()
            hit = None
        else:
            hit = reverser.continue_back()
            moved = hit is not None
        self.points.hit = hit
        self._history_begin = not moved

    def _stop_reply(self) -> bytes:
        if self._history_begin:
            self._history_begin = False
            return b"T%02xthread:%x;replaylog:begin;" % (SIGTRAP, self.current + 1)
        hit = self.points.hit
        if hit is None:
            return b"T%02xthread:%x;" % (self._signal, self.current + 1)
        self.current = hit.vcpu
        where = b"%x" % hit.address if hit.kind >= WATCH_WRITE else b""
        return b"T%02xthread:%x;%s:%s;" % (SIGTRAP, hit.vcpu + 1, STOP_WORDS[hit.kind].encode(), where)

    def _step(self, index: int) -> None:
        v = self.dom.vcpus[index if 0 <= index < len(self.dom.vcpus) else self.current]
        self.current, self._signal = v.id, SIGTRAP
        self.target.step(v, self.points)

    def _pass_breakpoints_under_pc(self) -> None:
        for v in self.dom.vcpus:
            self.points.end_pass(v.id)
            pc = self.target.pc(v)
            if self.points.is_code_point(pc):
                self.points.pass_once(v.id, pc)

    # ---- gdb's side (its own thread) -------------------------------------------------
    def _serve(self) -> None:
        while self._ended is None:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return                          # closed: the domain is gone
            with self._cond:
                self._session_open = True
                self._await_first = False
            try:
                with conn:
                    self._session(conn)
            except OSError:
                pass                            # gdb went away
            finally:
                self._release()

    def _session(self, conn: socket.socket) -> None:
        stub = Stub(self.dom, self.points, self.target)
        reader = Reader()
        stub.stopped(self._request_stop(SIGTRAP, conn, reader) or b"S05", self.current)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            for kind, body in reader.feed(data):
                if kind == "bad":
                    conn.sendall(b"-")
                elif kind == "packet":
                    if not stub.no_ack:
                        conn.sendall(b"+")
                    if not self._answer(conn, reader, stub, body):
                        return

    def _answer(self, conn: socket.socket, reader: Reader, stub: Stub, body: bytes) -> bool:
        """Reply to one packet; False when the session is over."""
        reply = stub.handle(body)
        if isinstance(reply, Resume) and self._ended is not None:
            reply = self._ended
        if isinstance(reply, Resume):
            if reply.action in ("detach", "kill"):
                if reply.action == "detach":
                    conn.sendall(frame(b"OK"))
                self.points.clear()
                self._give(reply)
                return False
            self._give(reply)
            reply = self._wait_for_stop(conn, reader)
            if reply is None:
                return False
            stub.stopped(reply, self.current)
        for line in stub.output:
            conn.sendall(frame(line))
        stub.output.clear()
        conn.sendall(frame(reply))
        return not (reply[:1] in (b"W", b"X") and len(reply) == 3)

    def _give(self, resume: Resume) -> None:
        with self._cond:
            if self._parked:
                self._resume = resume
                self._cond.notify_all()

    def _request_stop(self, signal: int, conn: socket.socket, reader: Reader) -> bytes | None:
        with self._cond:
            if self._parked or self._ended is not None:
                return self._ended or self._stop_packet
            self._signal = signal
            self._stop_requested = True
        for v in self.dom.vcpus:
            v.engine.kick()
        return self._wait_for_stop(conn, reader)

    def _wait_for_stop(self, conn: socket.socket, reader: Reader) -> bytes | None:
        """While the guest runs: Ctrl-C from gdb, or the run loop parking again."""
        while True:
            with self._cond:
                if self._ended is not None:
                    return self._ended
                if self._parked and self._resume is None:
                    return self._stop_packet
            ready, _, _ = select.select([conn, self._wake_r], [], [], 0.5)
            if self._wake_r in ready:
                os.read(self._wake_r, 64)
            if conn in ready:
                data = conn.recv(4096)
                if not data:
                    return None
                if any(kind == "interrupt" for kind, _ in reader.feed(data)):
                    with self._cond:
                        self._signal = SIGINT
                        self._stop_requested = True
                    for v in self.dom.vcpus:
                        v.engine.kick()

    def _release(self) -> None:
        """gdb is gone: its breakpoints go (on the run loop's thread if the guest is
        running: it stops for that), and the domain runs on."""
        with self._cond:
            self._session_open = False
            if self._parked and self._resume is None:
                self.points.clear()
                self._resume = Resume("continue")
                self._cond.notify_all()
                return
            self._stop_requested = bool(self.points.points)
        for v in self.dom.vcpus:
            v.engine.kick()
