"""The xenstore ring page: Xen's layout and index rules, framing, wraparound, flow
control, errors and reconnection, with a plain bytearray standing in for guest memory."""
from __future__ import annotations

import struct

import pytest

from hvcore.public.io import xs_wire as w
from hvcore.xenstore import (ClientRing, Connection, Message, ServerRing, XenStore,
                             populate_domain, service_ring)

REQ, RSP, REQ_CONS, REQ_PROD, RSP_CONS, RSP_PROD = 0, 1024, 2048, 2052, 2056, 2060
FEATURES, CONNECTION, ERROR = 2064, 2068, 2072


def u32(page: bytearray, offset: int) -> int:
    return struct.unpack_from("<I", page, offset)[0]


def set_u32(page: bytearray, offset: int, value: int) -> None:
    struct.pack_into("<I", page, offset, value & 0xFFFFFFFF)


def page_with_indexes(start: int) -> bytearray:
    """A page whose four indexes all start at `start` (guests must not assume 0)."""
    page = bytearray(4096)
    for offset in (REQ_CONS, REQ_PROD, RSP_CONS, RSP_PROD):
        set_u32(page, offset, start)
    return page


def request(type_: int, payload: bytes, req_id: int = 1, tx: int = 0) -> bytes:
    return Message(type_, req_id, tx, payload).pack()


class Setup:
    def __init__(self, start: int = 0) -> None:
        self.page = page_with_indexes(start)
        self.server = XenStore()
        populate_domain(self.server.store, 1, "one", memory_kb=1024)
        self.ring = ServerRing(self.page)
        self.client = ClientRing(self.page)
        self.conn = Connection(1, self.ring.send)

    def serve(self) -> bool:
        return service_ring(self.ring, self.server, self.conn)

    def responses(self) -> list[Message]:
        return [Message.unpack(m) for m in self.client.read_responses()]


def test_layout_matches_xs_wire():
    assert (w.xenstore_domain_interface_64.req_cons.offset,
            w.xenstore_domain_interface_64.rsp_prod.offset,
            w.xenstore_domain_interface_64.error.offset) == (REQ_CONS, RSP_PROD, ERROR)


def test_request_and_reply_through_the_page():
    s = Setup()
    s.client.send(request(w.XS_READ, b"name\0", req_id=42))
    assert u32(s.page, REQ_PROD) == 16 + 5 and u32(s.page, REQ_CONS) == 0
    assert s.page[REQ:REQ + 4] == struct.pack("<I", w.XS_READ)
    assert s.serve() is True
    assert u32(s.page, REQ_CONS) == 21
    (reply,) = s.responses()
    assert (reply.type, reply.req_id, reply.payload) == (w.XS_READ, 42, b"one")
    assert u32(s.page, RSP_CONS) == u32(s.page, RSP_PROD) == 16 + 3
    assert s.serve() is False                        # nothing moved, no kick


@pytest.mark.parametrize("start", [1000, 0xFFFFFFF0, 0xFFFFFC00 + 1020])
def test_wraparound_of_ring_and_of_32_bit_indexes(start):
    s = Setup(start)
    for i in range(40):                              # ~40 x 40 bytes: wraps the ring often
        s.client.send(request(w.XS_WRITE, b"data/k\0" + b"%03d" % i * 5, req_id=i))
        s.serve()
        (reply,) = s.responses()
        assert (reply.type, reply.req_id) == (w.XS_WRITE, i)
    assert s.server.store.tree.get("/local/domain/1/data/k").value == b"039" * 5
    assert u32(s.page, REQ_PROD) == u32(s.page, REQ_CONS)
    assert (u32(s.page, REQ_PROD) - start) & 0xFFFFFFFF == sum(
        16 + 7 + 15 for _ in range(40))


def test_partial_message_waits_for_the_rest():
    s = Setup(1020)
    message = request(w.XS_READ, b"name\0", req_id=7)
    s.client.send(message[:10])
    s.serve()
    assert s.ring.partial == 10 and s.responses() == []
    s.client.send(message[10:18])
    s.serve()
    assert s.responses() == []
    s.client.send(message[18:])
    s.serve()
    (reply,) = s.responses()
    assert reply.payload == b"one" and s.ring.partial == 0


def test_message_larger_than_the_ring():
    s = Setup(500)
    value = bytes(range(256)) * 8                    # 2 KiB value, request > 1 KiB ring
    s.server.store.quota.node_size = 4096
    s.client.send(request(w.XS_WRITE, b"data/big\0" + value, req_id=3))
    assert s.client.queued > 0                       # did not fit at once
    while s.client.queued:
        s.serve()
        s.client.flush()
    s.serve()
    (reply,) = s.responses()
    assert (reply.type, reply.req_id) == (w.XS_WRITE, 3)
    # and the 2 KiB answer comes back through the 1 KiB response ring in pieces
    s.client.send(request(w.XS_READ, b"data/big\0", req_id=4))
    s.serve()
    assert s.ring.queued > 0
    got = []
    while not got:
        got = s.responses()
        s.serve()
    assert got[0].payload == value and s.ring.queued == 0


def test_responses_respect_free_space():
    s = Setup()
    for i in range(100):                              # 100 replies of 19 bytes > 1024
        s.client.send(request(w.XS_READ, b"name\0", req_id=i))
        s.serve()
    assert (u32(s.page, RSP_PROD) - u32(s.page, RSP_CONS)) & 0xFFFFFFFF == 1024
    assert s.ring.queued == 100 * 19 - 1024
    ids = [m.req_id for m in s.responses()]
    s.serve()
    ids += [m.req_id for m in s.responses()]
    assert ids == list(range(100))


def test_watch_events_go_through_the_ring():
    s = Setup()
    s.client.send(request(w.XS_WATCH, b"data\0tok\0", req_id=5))
    s.serve()
    assert [(m.type, m.payload) for m in s.responses()] == [
        (w.XS_WATCH, b"OK\0"), (w.XS_WATCH_EVENT, b"data\0tok\0")]
    other = Connection(0, lambda raw: None)
    s.server.handle(other, request(w.XS_WRITE, b"/local/domain/1/data/x\0v"))
    assert s.ring.take_notify() is True
    assert [m.payload for m in s.responses()] == [b"data/x\0tok\0"]


def test_bad_request_indexes_stop_the_ring():
    s = Setup()
    set_u32(s.page, REQ_PROD, 2000)                   # prod - cons > ring size
    assert s.ring.read_requests() == []
    assert u32(s.page, ERROR) == w.XENSTORE_ERROR_RINGIDX
    set_u32(s.page, REQ_PROD, 0)
    s.client.send(request(w.XS_READ, b"name\0"))
    s.serve()
    assert s.responses() == []                        # stays stopped


def test_bad_response_indexes_stop_the_ring():
    s = Setup()
    set_u32(s.page, RSP_CONS, 5000)
    s.client.send(request(w.XS_READ, b"name\0"))
    s.serve()
    assert u32(s.page, ERROR) == w.XENSTORE_ERROR_RINGIDX


def test_oversized_payload_is_a_protocol_error():
    s = Setup()
    header = struct.pack("<4I", w.XS_WRITE, 1, 0, w.XENSTORE_PAYLOAD_MAX + 1)
    s.client.send(header)
    s.serve()
    assert u32(s.page, ERROR) == w.XENSTORE_ERROR_PROTO
    assert s.responses() == []


def test_reconnection_resets_ring_and_connection_state():
    s = Setup(77)
    s.ring.advertise()
    assert u32(s.page, FEATURES) == (w.XENSTORE_SERVER_FEATURE_RECONNECTION
                                     | w.XENSTORE_SERVER_FEATURE_ERROR)
    s.client.send(request(w.XS_WATCH, b"data\0t\0"))
    s.client.send(request(w.XS_TRANSACTION_START, b"\0", req_id=2))
    s.serve()
    assert s.conn.watches and s.conn.transactions
    s.client.send(request(w.XS_READ, b"name\0")[:9])   # a torn request
    set_u32(s.page, CONNECTION, w.XENSTORE_RECONNECT)
    assert s.serve() is True
    assert u32(s.page, CONNECTION) == w.XENSTORE_CONNECTED
    assert [u32(s.page, o) for o in (REQ_CONS, REQ_PROD, RSP_CONS, RSP_PROD)] == [0] * 4
    assert s.conn.watches == [] and s.conn.transactions == {} and s.ring.partial == 0
    client = ClientRing(s.page)                       # the guest starts afresh
    client.send(request(w.XS_READ, b"name\0", req_id=9))
    s.serve()
    (reply,) = [Message.unpack(m) for m in client.read_responses()]
    assert (reply.req_id, reply.payload) == (9, b"one")


def test_needs_a_whole_writable_page():
    with pytest.raises(ValueError):
        ServerRing(bytes(4096))
    with pytest.raises(ValueError):
        ServerRing(bytearray(100))
    ServerRing(memoryview(bytearray(8192))[4096:])
