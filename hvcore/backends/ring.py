"""The back end of a shared I/O ring (public/io/ring.h), for any DEFINE_RING_TYPES ring.

The ring page belongs to the guest (a grant mapping): the frontend writes requests and
req_prod/rsp_event, we write responses and rsp_prod/req_event. Every index shared with
the other side is read and written with one machine load or store (shared_word); a
request is copied out of the page before it is looked at (RING_COPY_REQUEST), so a
frontend changing it underneath cannot make us check one thing and use another.
Indexes are free-running 32-bit counters; slots are index & (size - 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hvcore.native import atomic_library
from hvcore.public.io.ring import const_ring_size
from hvcore.shared_word import load_u32, store_u32

_MASK = 0xFFFFFFFF


class RingOverflow(Exception):
    """The frontend produced more requests than the ring can hold: it is broken or
    hostile, and the ring must not be served any more."""


@dataclass(frozen=True)
class RingLayout:
    """Where one protocol's ring keeps its indexes and entries (from `struct X_sring`)."""
    req_prod: int
    req_event: int
    rsp_prod: int
    rsp_event: int
    entries: int          # offset of ring[0]
    entry_size: int       # sizeof(union X_sring_entry)
    size: int             # number of entries: __CONST_RING_SIZE
    request_size: int
    response_size: int

    @classmethod
    def of(cls, sring_cls, request_cls, response_cls, ring_bytes: int = 4096) -> RingLayout:
        import ctypes
        return cls(sring_cls.req_prod.offset, sring_cls.req_event.offset,
                   sring_cls.rsp_prod.offset, sring_cls.rsp_event.offset,
                   sring_cls.ring.offset, sring_cls.ring.size,
                   const_ring_size(sring_cls, ring_bytes),
                   ctypes.sizeof(request_cls), ctypes.sizeof(response_cls))


class BackRing:
    """struct X_back_ring: our private rsp_prod_pvt and req_cons over the shared page."""

    def __init__(self, page: memoryview, layout: RingLayout, start: int = 0) -> None:
        self.page = page
        self.layout = layout
        self.rsp_prod_pvt = start          # BACK_RING_ATTACH
        self.req_cons = start
        self._mb = atomic_library().hv_mb  # xen_mb(): x86 may pass a load before a store

    # ---- requests ------------------------------------------------------------------
    def unconsumed_requests(self) -> int:
        """XEN_RING_NR_UNCONSUMED_REQUESTS: never more than the free response slots.
        RingOverflow if req_prod claims more than a ring's worth (RING_REQUEST_PROD_OVERFLOW)."""
        prod = load_u32(self.page, self.layout.req_prod)
        if (prod - self.rsp_prod_pvt) & _MASK > self.layout.size:
            raise RingOverflow(f"req_prod {prod} is more than a ring ahead of {self.rsp_prod_pvt}")
        req = (prod - self.req_cons) & _MASK
        rsp = self.layout.size - ((self.req_cons - self.rsp_prod_pvt) & _MASK)
        return min(req, rsp)

    def take_request(self) -> bytes:
        """RING_COPY_REQUEST at req_cons, then req_cons++. Call only when there is one."""
        at = self._slot(self.req_cons)
        self.req_cons = (self.req_cons + 1) & _MASK
        return bytes(self.page[at:at + self.layout.request_size])

    def final_check_for_requests(self) -> bool:
        """RING_FINAL_CHECK_FOR_REQUESTS: if none are left, ask for an event at the next
        one (req_event = req_cons + 1) and look again, so none slips in unnoticed."""
        if self.unconsumed_requests():
            return True
        store_u32(self.page, self.layout.req_event, self.req_cons + 1)
        self._mb()
        return bool(self.unconsumed_requests())

    def serve(self, budget: int, answer: Callable[[], None],
              notify: Callable[[], None]) -> bool:
        """The back end's loop: `answer()` takes (and answers) the requests of one
        unit of work while there are any, up to `budget` units, publishing responses
        and notifying as the frontend asked. True if the budget ran out first."""
        done = 0
        while True:
            while self.unconsumed_requests():
                if done == budget:
                    return True
                answer()
                done += 1
                if self.push_responses_and_check_notify():
                    notify()
            if not self.final_check_for_requests():
                return False

    # ---- responses -----------------------------------------------------------------
    def put_response(self, response: bytes) -> None:
        """Write a response at rsp_prod_pvt (not yet visible: see push_responses)."""
        at = self._slot(self.rsp_prod_pvt)
        self.page[at:at + len(response)] = response
        self.rsp_prod_pvt = (self.rsp_prod_pvt + 1) & _MASK

    def push_responses_and_check_notify(self) -> bool:
        """RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: publish rsp_prod; True if the frontend
        asked (rsp_event) to be told about one of the responses just pushed."""
        old = load_u32(self.page, self.layout.rsp_prod)
        new = self.rsp_prod_pvt
        if old == new:
            return False
        store_u32(self.page, self.layout.rsp_prod, new)   # the entries were written first
        self._mb()
        event = load_u32(self.page, self.layout.rsp_event)
        return (new - event) & _MASK < (new - old) & _MASK

    def _slot(self, index: int) -> int:
        return self.layout.entries + (index & (self.layout.size - 1)) * self.layout.entry_size
