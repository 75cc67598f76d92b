"""A domain process's links to the host and to its peers, for interdomain event channels.

The host decides who may bind what (it mirrors each domain's unbound ports and their
allowed remote domain); once a channel is bound, sends go straight from one domain's
process into the other's inbox (hvcore.inbox), with no host in between.
Messages on the host socket are JSON lines; file descriptors ride along (SCM_RIGHTS).
"""
from __future__ import annotations

import json
import socket

import time

from hvcore.inbox import InboxFull, Outbox, Request


class HostLink:
    """The domain's end of its socket to the host."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.peers: dict[int, Outbox] = {}       # peer domid -> our ring in its inbox
        self._buffer = b""
        self._fds: list[int] = []

    def tell(self, message: dict) -> None:
        """A one-way notice (the host keeps its mirror of our channels up to date)."""
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def ask(self, message: dict) -> dict:
        """A request that needs the host's answer (blocks this vCPU until it comes)."""
        self.tell(message)
        while True:
            msg = self._next()
            if "reply" in msg:
                return msg

    def post(self, peer: int, request: Request) -> bool:
        """Send to a peer's inbox; False if we have no link to that peer (yet)."""
        out = self.peers.get(peer)
        if out is None:
            self._drain_nonblocking()
            out = self.peers.get(peer)
        if out is None:
            return False
        deadline = time.monotonic() + 5.0
        while True:
            try:
                out.post(request)
                return True
            except InboxFull:         # the peer's process is behind: give it time
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.001)

    # ---- reading: replies, and peers the host introduces to us ------------------------
    def _next(self) -> dict:
        while b"\n" not in self._buffer:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 1 << 16, 8)
            if not data:
                raise ConnectionError("the host went away")
            self._buffer += data
            self._fds += fds
        line, self._buffer = self._buffer.split(b"\n", 1)
        msg = json.loads(line)
        if msg.get("fds"):                    # descriptors that ride with a reply
            msg["_fds"], self._fds = self._fds[:msg["fds"]], self._fds[msg["fds"]:]
        if msg.get("event") == "peer":
            self._add_peer(msg)
        return msg

    def _add_peer(self, msg: dict) -> None:
        inbox_fd, eventfd = self._fds[:2]
        del self._fds[:2]
        old = self.peers.pop(msg["domid"], None)
        if old is not None:
            old.close()
        self.peers[msg["domid"]] = Outbox(inbox_fd, eventfd, msg["slot"])

    def _drain_nonblocking(self) -> None:
        self.sock.setblocking(False)
        try:
            while True:
                try:
                    self._next()
                except BlockingIOError:
                    return
        finally:
            self.sock.setblocking(True)
