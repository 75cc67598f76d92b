"""Cross-process requests to a domain's process: real processes, real shared memory."""
import os
import select

import pytest

from hvcore.inbox import SET_PENDING, SLOTS, Inbox, InboxFull, Outbox, Request


def _fork_sender(inbox: Inbox, sender: int, requests: list[Request]) -> int:
    pid = os.fork()
    if pid == 0:   # child: a different process posting into the owner's ring
        try:
            out = Outbox(inbox.fd, inbox.eventfd, sender)
            for req in requests:
                while True:
                    try:
                        out.post(req)
                        break
                    except InboxFull:
                        os.sched_yield()
            os._exit(0)
        except BaseException:
            os._exit(1)
    return pid


def test_requests_from_two_processes_arrive_in_order_per_sender():
    inbox = Inbox(senders=2)
    n = 3 * SLOTS        # more than a ring holds: senders must wait for the owner
    a = [Request(SET_PENDING, port, 0xA) for port in range(n)]
    b = [Request(SET_PENDING, port, 0xB) for port in range(n)]
    pids = [_fork_sender(inbox, 0, a), _fork_sender(inbox, 1, b)]
    got: list[Request] = []
    while len(got) < 2 * n:
        select.select([inbox.eventfd], [], [], 5)
        got += inbox.drain()
    for pid in pids:
        assert os.waitpid(pid, 0)[1] == 0
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
