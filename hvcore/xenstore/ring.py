"""The xenstore ring page (struct xenstore_domain_interface, docs/misc/xenstore-ring.txt).

Two byte queues share one page: req (guest -> xenstored) and rsp (xenstored -> guest),
each with free-running 32-bit consumer/producer indexes; byte x of a stream lives at
MASK_XENSTORE_IDX(x). A side only reads what prod - cons says is there and only writes
into RING_SIZE - (prod - cons) free bytes; an index pair further apart than the ring
is corrupt. Messages may be larger than the ring (4096 + 16 > 1024), so the reader
consumes bytes as they come and keeps partial messages itself until they complete.

`ServerRing` is xenstored's end (with the error field and reconnection), `ClientRing`
the guest's (used by tests, and by anything in-process playing a guest).
`service_ring` runs one round of a ServerRing through a XenStore.
"""
from __future__ import annotations

from ..shared_word import load_u32, store_u32
from ..public.io import xs_wire as w
from .protocol import Connection, FrameError, FrameReader, XenStore

_IFACE = w.xenstore_domain_interface_64      # same layout in both ABIs
PAGE_BYTES = _IFACE.error.offset + _IFACE.error.size
_MASK32 = 0xFFFFFFFF


class ByteRing:
    """One direction of the page: a data area plus its consumer and producer index."""

    def __init__(self, page: memoryview, data: str, cons: str, prod: str) -> None:
        self.page = page
        self.data_offset = getattr(_IFACE, data).offset
        self.cons_offset = getattr(_IFACE, cons).offset
        self.prod_offset = getattr(_IFACE, prod).offset

    def _index(self, offset: int) -> int:
        return load_u32(self.page, offset)

    def _set_index(self, offset: int, value: int) -> None:
        store_u32(self.page, offset, value)

    @property
    def cons(self) -> int:
        return self._index(self.cons_offset)

    @cons.setter
    def cons(self, value: int) -> None:
        self._set_index(self.cons_offset, value)

    @property
    def prod(self) -> int:
        return self._index(self.prod_offset)

    @prod.setter
    def prod(self, value: int) -> None:
        self._set_index(self.prod_offset, value)

    def used(self) -> int:
        """Bytes written and not yet consumed (valid only if `sane()`)."""
        return (self.prod - self.cons) & _MASK32

    def sane(self) -> bool:
        return self.used() <= w.XENSTORE_RING_SIZE

    def read(self) -> bytes:
        """Consume everything available (in up to two chunks around the wrap)."""
        if not self.sane():
            return b""
        cons, available = self.cons, self.used()
        chunks = []
        while available:
            start = w.MASK_XENSTORE_IDX(cons)
            size = min(available, w.XENSTORE_RING_SIZE - start)
            base = self.data_offset + start
            chunks.append(bytes(self.page[base:base + size]))
            cons, available = cons + size, available - size
        self.cons = cons
        return b"".join(chunks)

    def write(self, data: bytes) -> int:
        """Produce as much of `data` as fits; returns how many bytes went in."""
        if not self.sane():
            return 0
        prod, room = self.prod, w.XENSTORE_RING_SIZE - self.used()
        written = 0
        while written < len(data) and room:
            start = w.MASK_XENSTORE_IDX(prod)
            size = min(room, w.XENSTORE_RING_SIZE - start, len(data) - written)
            base = self.data_offset + start
            self.page[base:base + size] = data[written:written + size]
            prod, room, written = prod + size, room - size, written + size
        self.prod = prod
        return written


class _RingEnd:
    """Message framing over an inbound and an outbound ByteRing of one page."""

    def __init__(self, page, inbound: tuple[str, str, str],
                 outbound: tuple[str, str, str]) -> None:
        view = memoryview(page).cast("B")
        if view.readonly or len(view) < PAGE_BYTES:
            raise ValueError(f"need a writable buffer of at least {PAGE_BYTES} bytes")
        self.page = view
        self.inbound = ByteRing(view, *inbound)
        self.outbound = ByteRing(view, *outbound)
        self._frames = FrameReader()
        self._queue = bytearray()          # outbound bytes waiting for room
        self._notify = False

    def _field(self, name: str) -> int:
        return load_u32(self.page, getattr(_IFACE, name).offset)

    def _set_field(self, name: str, value: int) -> None:
        store_u32(self.page, getattr(_IFACE, name).offset, value)

    def _receive(self) -> list[bytes]:
        """Complete messages from the inbound ring (FrameError on an oversized one)."""
        if not self.inbound.sane() or not self.inbound.used():
            return []
        data = self.inbound.read()
        self._notify = True
        return self._frames.feed(data)

    def send(self, message: bytes) -> None:
        """Queue a whole message and push what fits now."""
        self._queue += message
        self.flush()

    def flush(self) -> int:
        if not self._queue or not self.outbound.sane():
            return 0
        written = self.outbound.write(bytes(self._queue))
        del self._queue[:written]
        self._notify = self._notify or written > 0
        return written

    @property
    def queued(self) -> int:
        """Outbound bytes still waiting for room in the ring."""
        return len(self._queue)

    @property
    def partial(self) -> int:
        """Inbound bytes of a message not yet complete."""
        return self._frames.pending

    def take_notify(self) -> bool:
        """True once after indexes moved: the peer should get an event-channel kick."""
        notify, self._notify = self._notify, False
        return notify


class ServerRing(_RingEnd):
    """xenstored's end: reads req, writes rsp, reports errors, honours reconnection."""

    FEATURES = w.XENSTORE_SERVER_FEATURE_RECONNECTION | w.XENSTORE_SERVER_FEATURE_ERROR

    def __init__(self, page) -> None:
        super().__init__(page, ("req", "req_cons", "req_prod"), ("rsp", "rsp_cons", "rsp_prod"))

    def advertise(self, features: int = FEATURES) -> None:
        """Offer features (before any data moves); bits are only ever added."""
        self._set_field("server_features", self._field("server_features") | features)

    @property
    def error(self) -> int:
        return self._field("error")

    def fail(self, error: int) -> None:
        """Stop talking on this ring, telling the guest why (XENSTORE_ERROR_*)."""
        self._set_field("error", error)
        self._frames.clear()
        self._queue.clear()
        self._notify = True

    def read_requests(self) -> list[bytes]:
        """Whole requests now available; none once the ring has failed."""
        if self.error:
            return []
        if not self.inbound.sane():
            self.fail(w.XENSTORE_ERROR_RINGIDX)
            return []
        try:
            return self._receive()
        except FrameError:
            self.fail(w.XENSTORE_ERROR_PROTO)
            return []

    def flush(self) -> int:
        if self.error:
            return 0
        if not self.outbound.sane():
            self.fail(w.XENSTORE_ERROR_RINGIDX)
            return 0
        return super().flush()

    def reconnect_requested(self) -> bool:
        return self._field("connection") == w.XENSTORE_RECONNECT

    def reset(self) -> None:
        """Complete a reconnection: empty both queues and all state, say CONNECTED."""
        self._frames.clear()
        self._queue.clear()
        for name in ("req_cons", "req_prod", "rsp_cons", "rsp_prod", "error"):
            self._set_field(name, 0)
        self._set_field("connection", w.XENSTORE_CONNECTED)
        self._notify = True


class ClientRing(_RingEnd):
    """The guest's end: writes req, reads rsp."""

    def __init__(self, page) -> None:
        super().__init__(page, ("rsp", "rsp_cons", "rsp_prod"), ("req", "req_cons", "req_prod"))

    def read_responses(self) -> list[bytes]:
        return self._receive()


def service_ring(ring: ServerRing, server: XenStore, conn: Connection) -> bool:
    """One round for a domain's ring: reconnect if asked, answer every whole request,
    push queued output. `conn.send` should be `ring.send` so watch events use the ring.
    Returns True if the guest should be notified on the ring's event channel."""
    if ring.reconnect_requested():
        server.reset_connection(conn)
        ring.reset()
    for request in ring.read_requests():
        for reply in server.handle(conn, request):
            ring.send(reply)
    ring.flush()
    return ring.take_notify()
