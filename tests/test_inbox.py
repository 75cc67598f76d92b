"""Cross-process requests to a domain's process: real processes, real shared memory."""
import os
import select
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from hvcore.inbox import SET_PENDING, SLOTS, Inbox, InboxFull, Outbox, Request


_SENDER = """
import sys, time
from hvcore.inbox import InboxFull, Outbox, Request, SET_PENDING
fd, efd, sender, n, tag = map(int, sys.argv[1:])
out = Outbox(fd, efd, sender)
deadline = time.monotonic() + 30
for port in range(n):
    while True:
        try:
            out.post(Request(SET_PENDING, port, tag))
            break
        except InboxFull:
            if time.monotonic() > deadline:
                sys.exit(2)
            time.sleep(0.0005)
"""


def _spawn_sender(inbox: Inbox, sender: int, n: int, tag: int) -> subprocess.Popen:
    """Another process (a fresh interpreter, as domain processes are) posting into the
    owner's ring through its own mapping of the memfd."""
    return subprocess.Popen([sys.executable, "-c", _SENDER, str(inbox.fd), str(inbox.eventfd),
                             str(sender), str(n), str(tag)], cwd=ROOT,
                            pass_fds=(inbox.fd, inbox.eventfd))


def test_requests_from_two_processes_arrive_in_order_per_sender():
    """Two other processes post at once; every request arrives, in each sender's order."""
    inbox = Inbox(senders=2)
    # Three rings' worth, so the senders keep hitting a full ring and waiting for room.
    n = 3 * SLOTS
    a = [Request(SET_PENDING, port, 0xA) for port in range(n)]
    b = [Request(SET_PENDING, port, 0xB) for port in range(n)]
    senders = [_spawn_sender(inbox, 0, n, 0xA), _spawn_sender(inbox, 1, n, 0xB)]
    got: list[Request] = []
    deadline = time.monotonic() + 30
    while len(got) < 2 * n:
        assert time.monotonic() < deadline, (
            f"only {len(got)} of {2 * n} requests arrived; missing "
            f"{sorted(set(a + b) - set(got), key=lambda r: (r.arg, r.port))[:8]}; "
            f"senders {[p.poll() for p in senders]}")
        select.select([inbox.eventfd], [], [], 0.5)
        got += inbox.drain()
    for proc in senders:
        assert proc.wait(timeout=30) == 0
    assert [r for r in got if r.arg == 0xA] == a
    assert [r for r in got if r.arg == 0xB] == b
    inbox.close()


def test_full_ring_refuses_instead_of_overwriting():
    inbox = Inbox(senders=1)
    out = Outbox(inbox.fd, inbox.eventfd, 0)
    for port in range(SLOTS):
        out.post(Request(SET_PENDING, port))
    with pytest.raises(InboxFull):
        out.post(Request(SET_PENDING, 9999))
    assert [r.port for r in inbox.drain()] == list(range(SLOTS))
    out.post(Request(SET_PENDING, 7))
    assert inbox.drain() == [Request(SET_PENDING, 7)]
    out.close()
    inbox.close()


def test_eventfd_signals_only_when_posted():
    inbox = Inbox(senders=1)
    assert select.select([inbox.eventfd], [], [], 0)[0] == []
    out = Outbox(inbox.fd, inbox.eventfd, 0)
    out.post(Request(SET_PENDING, 3))
    assert select.select([inbox.eventfd], [], [], 1)[0] == [inbox.eventfd]
    inbox.drain()
    assert select.select([inbox.eventfd], [], [], 0)[0] == []
    out.close()
    inbox.close()


def test_index_stores_are_single_stores():
    """A store to a shared index must never pass through another value: struct.pack_into
    zero-fills first, which a reader in another process caught as index 0. Watch the word
    from a second process while this one stores values that are never 0."""
    from hvcore.shared_word import load_u32, store_u32
    inbox = Inbox(senders=1)
    watcher = subprocess.Popen([sys.executable, "-c", """
import mmap, sys, time
from hvcore.shared_word import load_u32
m = mmap.mmap(int(sys.argv[1]), 4096)
end = time.monotonic() + 1.5
zeros = 0
while time.monotonic() < end:
    for _ in range(1000):
        zeros += load_u32(m, 0) == 0
print(zeros)
""", str(inbox.fd)], cwd=ROOT, pass_fds=(inbox.fd,), stdout=subprocess.PIPE, text=True)
    store_u32(inbox.map, 0, 1)
    end = time.monotonic() + 1.5
    value = 1
    while time.monotonic() < end:
        value = value % 1000 + 1
        store_u32(inbox.map, 0, value)
    out, _ = watcher.communicate(timeout=30)
    assert watcher.returncode == 0
    assert int(out) == 0 and load_u32(inbox.map, 0) == value
    inbox.close()
