"""Requests from other processes to a domain's process: shared-memory rings + an eventfd.

Only a domain's own process writes its event state (shared_info bitmaps, vcpu_info);
another process that wants, say, a port marked pending posts a request here, and the
owner applies it while its vCPUs are stopped. Each sender gets its own ring (one
producer, one consumer), so every word has exactly one writer: the sender writes the
entries and `head`, the owner writes `tail`. The eventfd wakes the owner.

Ring layout (one page per sender): head u32 @0, tail u32 @64 (own cache line),
entries from @128, each 16 bytes {kind u32, port u32, arg u64}; indexes run freely
and are masked by the entry count (a power of two).

Page 0 of the memfd holds the doorbell, a u32 that every sender sets after posting.
The owner's engines watch it from their C block hook (hvcore/native/preempt.c), so a
running vCPU stops at the next block boundary with no thread of ours in between; an
idle owner sleeps on the eventfd instead. The owner clears the doorbell before it
drains, so a post that races with the drain rings it again.
"""
from __future__ import annotations

import ctypes
import mmap
import os
import struct
import time
from dataclasses import dataclass

from .shared_word import load_u32, store_u32

RING_BYTES = 4096
_HEAD, _TAIL, _ENTRIES = 0, 64, 128
_DOORBELL = 0                          # in page 0 of the memfd
_ENTRY = struct.Struct("<IIQ")
# (4096 - 128) / 16 = 248 entries fit; the largest power of two of those is used
SLOTS = 1 << (((RING_BYTES - _ENTRIES) // _ENTRY.size).bit_length() - 1)

# What a request asks for.
SET_PENDING = 1      # mark `port` pending (an interdomain send arrived)
PEER_CLOSED = 2      # the other end of `port` closed: it becomes unbound again
PEER_BOUND = 3       # the unbound `port` was bound by domain `arg >> 32`, port `arg & 0xffffffff`
GDB_LISTEN = 4       # (from the host) serve gdb on 127.0.0.1:`port` (0: any), say which
SAVE = 5             # (from the host) hv save: snapshot now; `port` 1: keep running (-c)


@dataclass(frozen=True)
class Request:
    kind: int
    port: int
    arg: int = 0


class InboxFull(Exception):
    """The owner has not drained its ring; the sender should retry later."""


class Inbox:
    """The owner's side: `senders` rings in one memfd, one eventfd for all of them."""

    def __init__(self, senders: int, name: str = "hv-inbox") -> None:
        self.senders = senders
        self.fd = os.memfd_create(name, os.MFD_CLOEXEC)
        os.ftruncate(self.fd, (senders + 1) * RING_BYTES)
        self.map = mmap.mmap(self.fd, (senders + 1) * RING_BYTES)
        self.eventfd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._anchor = ctypes.c_char.from_buffer(self.map)

    def wait_briefly(self, seconds: float) -> bool:
        """Watch the doorbell for up to `seconds` (no system call); True if it rang."""
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            if load_u32(self.map, _DOORBELL):
                return True
        return False

    @property
    def doorbell_address(self) -> int:
        """Where the doorbell word is in this process (for the engines' block hook)."""
        return ctypes.addressof(self._anchor) + _DOORBELL

    def drain(self) -> list[Request]:
        """All requests posted so far, in each sender's order. A sender signals the
        eventfd after its entry, so no signal means no new entry: nothing to scan."""
        out: list[Request] = []
        store_u32(self.map, _DOORBELL, 0)
        if not os_read_eventfd(self.eventfd):
            return out
        for sender in range(self.senders):
            base = (sender + 1) * RING_BYTES
            head = load_u32(self.map, base + _HEAD)
            tail = load_u32(self.map, base + _TAIL)
            if (head - tail) & 0xFFFFFFFF > SLOTS:
                tail = head             # a sender broke the ring: drop it, never spin
            while tail != head:
                off = base + _ENTRIES + (tail % SLOTS) * _ENTRY.size
                out.append(Request(*_ENTRY.unpack_from(self.map, off)))
                tail = (tail + 1) & 0xFFFFFFFF
            store_u32(self.map, base + _TAIL, tail)   # the owner's only write
        return out

    def close(self) -> None:
        del self._anchor
        try:
            self.map.close()
        except BufferError:
            pass    # an engine still watches the doorbell; unmapped with the process
        os.close(self.fd)
        os.close(self.eventfd)


class Outbox:
    """A sender's side of one ring of someone else's Inbox (given its memfd and eventfd)."""

    def __init__(self, inbox_fd: int, eventfd: int, sender: int) -> None:
        self.map = mmap.mmap(inbox_fd, RING_BYTES, offset=(sender + 1) * RING_BYTES)
        self.bell = mmap.mmap(inbox_fd, RING_BYTES, offset=0)
        self.eventfd = eventfd

    def post(self, request: Request) -> None:
        head = load_u32(self.map, _HEAD)
        tail = load_u32(self.map, _TAIL)
        if (head - tail) & 0xFFFFFFFF >= SLOTS:
            raise InboxFull()
        _ENTRY.pack_into(self.map, _ENTRIES + (head % SLOTS) * _ENTRY.size,
                         request.kind, request.port, request.arg)
        # entry first, then head: x86 keeps stores in order, so the owner never
        # sees the new head before the entry it covers
        store_u32(self.map, _HEAD, head + 1)
        store_u32(self.bell, _DOORBELL, 1)      # a running owner stops at its next block
        os.eventfd_write(self.eventfd, 1)       # an idle one wakes from select

    def close(self) -> None:
        self.map.close()
        self.bell.close()


def os_read_eventfd(fd: int) -> int:
    """Reset a non-blocking eventfd; 0 when nothing was signalled."""
    try:
        return os.eventfd_read(fd)
    except BlockingIOError:
        return 0
