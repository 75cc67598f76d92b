"""The gdb remote protocol's commands, answered while the domain is stopped.

Each vCPU is a thread (id = vCPU + 1). `handle(packet)` returns the reply, or a
`Resume` when gdb lets the guest go (continue/step): the server hands that to the run
loop and answers with the next stop reply once the domain is stopped again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hvcore.gdb import breakpoints as B
from hvcore.gdb import guest_memory, registers
from hvcore.gdb.packets import unescape

if TYPE_CHECKING:
    from hvcore.domain import Domain
    from hvcore.gdb.target import Target
    from hvcore.vcpu import VCPU

PACKET_SIZE = 0x4000
ERROR_ARGS, ERROR_MEMORY, ERROR_REFUSED = b"E01", b"E14", b"E22"


@dataclass
class Resume:
    action: str          # "continue" | "step" | "detach" | "kill" | "reverse-step" | "reverse-continue"
    vcpu: int = -1       # the vCPU to step


class Stub:
    def __init__(self, dom: "Domain", points: B.Breakpoints, target: "Target") -> None:
        self.dom = dom
        self.points = points
        self.target = target
        self._layout: registers.Layout | None = None
        self.g_thread = 0            # vCPU for register packets (Hg)
        self.c_thread = -1           # vCPU to step (Hc), -1 = the one that stopped
        self.no_ack = False
        self.output: list[bytes] = []   # O packets to send before the reply (monitor)
        self.last_stop = b"S05"         # the stop reply for `?` (kept by the server)

    # ---- dispatch ------------------------------------------------------------------
    def handle(self, packet: bytes) -> bytes | Resume:
        if not packet:
            return b""
        head, body = packet[:1], packet[1:]
        resume = {b"c": "continue", b"C": "continue", b"D": "detach", b"k": "kill"}.get(head)
        if resume is not None:
            return Resume(resume)
        if head in (b"s", b"S"):
            return Resume("step", self._step_vcpu())
        if packet in (b"bs", b"bc") and self._reversible():
            return Resume("reverse-step" if packet == b"bs" else "reverse-continue")
        if head == b"?":
            return self.last_stop
        if head == b"g":
            return self._read_all()
        handler = {b"G": self._write_all, b"p": self._read_one, b"P": self._write_one,
                   b"m": self._read_memory, b"M": self._write_memory, b"X": self._write_binary,
                   b"Z": self._insert, b"z": self._remove, b"H": self._set_thread,
                   b"T": self._thread_alive, b"q": self._query, b"Q": self._set,
                   b"v": self._v_packet}.get(head)
        if handler is None:
            return b""
        try:
            return handler(body)
        except (ValueError, IndexError):
            return ERROR_ARGS
        except Exception:   # noqa: BLE001 - one bad packet must not end the session
            return ERROR_REFUSED

    def stopped(self, reply: bytes, vcpu: int) -> None:
        """The domain stopped (`reply` was or will be sent): register packets are for
        the vCPU that stopped until gdb says otherwise (Hg), as gdb assumes after a
        stop reply naming that thread."""
        self.last_stop = reply
        self.g_thread = vcpu

    def vcpu(self, thread: int | None = None) -> "VCPU":
        index = self.g_thread if thread is None else thread
        return self.dom.vcpus[index if 0 <= index < len(self.dom.vcpus) else 0]

    def _reversible(self) -> bool:
        """A deterministic run with checkpoints can go back (hvcore/replay/checkpoints.py)."""
        return self.target.reverser() is not None

    def layout(self) -> registers.Layout:
        """The register layout of this session: gdb reads the target description once,
        so the one chosen then (from vCPU 0's mode) stays until gdb connects again."""
        if self._layout is None:
            self._layout = self.target.layout(self.vcpu(0))
        return self._layout

    def _step_vcpu(self) -> int:
        return self.c_thread if 0 <= self.c_thread < len(self.dom.vcpus) else -1

    # ---- registers -------------------------------------------------------------------
    def _read_all(self) -> bytes:
        v = self.vcpu()
        return b"".join(self.target.read_register(v, r).hex().encode() for r in self.layout().regs)

    def _write_all(self, body: bytes) -> bytes:
        v = self.vcpu()
        data, pos, ok = bytes.fromhex(body.decode()), 0, True
        for r in self.layout().regs:
            size = r.bits // 8
            if pos + size > len(data):
                break
            ok = self.target.write_register(v, r, data[pos:pos + size]) and ok
            pos += size
        return b"OK" if ok else ERROR_REFUSED

    def _read_one(self, body: bytes) -> bytes:
        v = self.vcpu()
        regs = self.layout().regs
        num = int(body, 16)
        if num >= len(regs):
            return ERROR_ARGS
        return self.target.read_register(v, regs[num]).hex().encode()

    def _write_one(self, body: bytes) -> bytes:
        v = self.vcpu()
        regs = self.layout().regs
        num_text, value = body.split(b"=", 1)
        num = int(num_text, 16)
        if num >= len(regs):
            return ERROR_ARGS
        data = bytes.fromhex(value.decode())
        return b"OK" if self.target.write_register(v, regs[num], data) else ERROR_REFUSED

    # ---- memory ----------------------------------------------------------------------
    def _read_memory(self, body: bytes) -> bytes:
        addr, length = (int(x, 16) for x in body.split(b","))
        try:
            return self.target.read_memory(self.vcpu(), addr, min(length, PACKET_SIZE // 2)).hex().encode()
        except guest_memory.Unmapped:
            return ERROR_MEMORY

    def _write_memory(self, body: bytes) -> bytes:
        where, data = body.split(b":", 1)
        return self._write(where, bytes.fromhex(data.decode()))

    def _write_binary(self, body: bytes) -> bytes:
        where, data = body.split(b":", 1)
        return self._write(where, unescape(data))

    def _write(self, where: bytes, data: bytes) -> bytes:
        addr, length = (int(x, 16) for x in where.split(b","))
        if length != len(data):
            return ERROR_ARGS
        if not data:
            return b"OK"                # gdb's probe for X support
        try:
            self.target.write_memory(self.vcpu(), addr, data)
        except guest_memory.Unmapped:
            return ERROR_MEMORY
        return b"OK"

    # ---- breakpoints and watchpoints ---------------------------------------------------
    def _point(self, body: bytes) -> tuple[int, int, int]:
        kind, addr, length = body.split(b";")[0].split(b",")
        return int(kind), int(addr, 16), int(length, 16)

    def _insert(self, body: bytes) -> bytes:
        kind, addr, length = self._point(body)
        if kind > B.WATCH_ACCESS:
            return b""
        return b"OK" if self.points.insert(kind, addr, length) else ERROR_REFUSED

    def _remove(self, body: bytes) -> bytes:
        kind, addr, length = self._point(body)
        if kind > B.WATCH_ACCESS:
            return b""
        self.points.remove(kind, addr, length)
        return b"OK"

    # ---- threads -----------------------------------------------------------------------
    def _thread(self, text: bytes) -> int:
        """gdb's thread id -> vCPU index (-1 = all, for 0 and -1)."""
        tid = int(text, 16) if text not in (b"-1", b"") else -1
        return tid - 1 if tid > 0 else -1

    def _set_thread(self, body: bytes) -> bytes:
        which, vcpu = body[:1], self._thread(body[1:])
        if vcpu >= len(self.dom.vcpus):
            return ERROR_ARGS
        if which == b"g":
            self.g_thread = max(vcpu, 0)
        else:
            self.c_thread = vcpu
        return b"OK"

    def _thread_alive(self, body: bytes) -> bytes:
        return b"OK" if 0 <= self._thread(body) < len(self.dom.vcpus) else ERROR_ARGS

    # ---- queries -------------------------------------------------------------------------
    def _query(self, body: bytes) -> bytes:
        if body.startswith(b"Supported"):
            reverse = b";ReverseStep+;ReverseContinue+" if self._reversible() else b""
            return (b"PacketSize=%x;qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+;"
                    b"vContSupported+" % PACKET_SIZE) + reverse
        if body.startswith(b"Xfer:features:read:"):
            return self._features(body[len(b"Xfer:features:read:"):])
        if body == b"fThreadInfo":
            return b"m" + b",".join(b"%x" % (v.id + 1) for v in self.dom.vcpus)
        if body == b"sThreadInfo":
            return b"l"
        if body == b"C":
            return b"QC%x" % (self.g_thread + 1)
        if body.startswith(b"ThreadExtraInfo,"):
            v = self.vcpu(self._thread(body.split(b",")[1]))
            return self.target.thread_info(v).encode().hex().encode()
        if body == b"Attached":
            return b"1"            # quitting gdb detaches; the domain goes on
        if body.startswith(b"Rcmd,"):
            text = self.target.monitor(bytes.fromhex(body[5:].decode()).decode(errors="replace"))
            self.output.append(b"O" + text.encode().hex().encode())
            return b"OK"
        if body.startswith(b"Symbol"):
            return b"OK"
        return b""

    def _features(self, args: bytes) -> bytes:
        annex, window = args.split(b":", 1)
        if annex != b"target.xml":
            return b"E00"
        offset, length = (int(x, 16) for x in window.split(b","))
        xml = registers.target_xml(self.layout())
        chunk = xml[offset:offset + length]
        return (b"m" if offset + length < len(xml) else b"l") + chunk

    def _set(self, body: bytes) -> bytes:
        if body == b"StartNoAckMode":
            self.no_ack = True
            return b"OK"
        return b""

    def _v_packet(self, body: bytes) -> bytes | Resume:
        if body == b"Cont?":
            return b"vCont;c;C;s;S"
        if body.startswith(b"Cont;"):
            return self._vcont(body[5:])
        if body == b"MustReplyEmpty":
            return b""
        if body.startswith(b"Kill"):
            return Resume("kill")
        return b""

    def _vcont(self, actions: bytes) -> Resume | bytes:
        """All-stop: a step action steps its vCPU (the others stay stopped); otherwise
        every vCPU continues."""
        for action in actions.split(b";"):
            verb, _, thread = action.partition(b":")
            if verb[:1] in (b"s", b"S"):
                vcpu = self._thread(thread) if thread else self._step_vcpu()
                return Resume("step", vcpu)
        if all(a[:1] in (b"c", b"C") for a in actions.split(b";")):
            return Resume("continue")
        return ERROR_ARGS
