"""blkback's data path: the requests on one connected blkif ring, served from a disk image.

Each request is copied out of the ring, checked whole (operation, segment count and
sector ranges, the disk's bounds and mode) before any grant is mapped, then its
segments are mapped and the file is read into or written from the guest's pages
directly (preadv/pwritev on the grant views). Anything wrong with it (a bad grant, a
sector past the end, a write to a read-only disk) costs only that request:
BLKIF_RSP_ERROR, as Linux's blkback answers. A ring the frontend overflows stops
being served (RingOverflow goes to the caller, which closes the device).

With feature-persistent, grants stay mapped (read-write, as blkif.h asks frontends to
grant them) and are reused by ref, so a request costs no mapping at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hvcore.backends.disk_image import SECTOR_SIZE, DiskError, DiskImage
from hvcore.backends.ring import BackRing, RingLayout
from hvcore.grant_table import GrantError
from hvcore.public.io import blkif as B
from hvcore.public.io.protocols import XEN_IO_PROTO_ABI_X86_32, XEN_IO_PROTO_ABI_X86_64

SECTORS_PER_PAGE = 4096 // SECTOR_SIZE
MAX_PERSISTENT_GRANTS = 1056       # Linux blkback's default: 32 requests x 11 segments x 3


@dataclass(frozen=True)
class BlkifProtocol:
    """One ABI's request and response layouts, and its ring's geometry."""
    name: str
    request: type
    response: type
    ring: RingLayout


PROTOCOLS = {
    XEN_IO_PROTO_ABI_X86_64: BlkifProtocol(
        XEN_IO_PROTO_ABI_X86_64, B.blkif_request_64, B.blkif_response_64,
        RingLayout.of(B.blkif_sring_64, B.blkif_request_64, B.blkif_response_64)),
    XEN_IO_PROTO_ABI_X86_32: BlkifProtocol(
        XEN_IO_PROTO_ABI_X86_32, B.blkif_request_32, B.blkif_response_32,
        RingLayout.of(B.blkif_sring_32, B.blkif_request_32, B.blkif_response_32)),
}
NATIVE_PROTOCOL = XEN_IO_PROTO_ABI_X86_64       # dom0's own ABI


class BadRequest(Exception):
    """This request gets BLKIF_RSP_ERROR (the reason is for dom0's log)."""


@dataclass
class Blkif:
    """A connected ring: the frontend's domain, its ring page and the disk behind it."""
    domid: int
    disk: DiskImage
    grants: object                   # the guest's HostGrantTable
    ring: BackRing
    protocol: BlkifProtocol
    notify: Callable[[], None]       # kick the frontend's event channel
    persistent: bool = False
    kicked: bool = True              # look at the ring at least once after connecting
    persistent_grants: dict[int, object] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    requests: int = 0

    def serve(self, budget: int = 64) -> bool:
        """Answer up to `budget` requests; True if more are waiting (call again soon)."""
        if not self.kicked:
            return False
        self.kicked = False
        done = 0
        while True:
            while self.ring.unconsumed_requests():
                if done == budget:
                    self.kicked = True
                    return True
                self._answer(self.ring.take_request())
                done += 1
                if self.ring.push_responses_and_check_notify():
                    self.notify()
            if not self.ring.final_check_for_requests():
                return False

    def close(self) -> None:
        for mapping in self.persistent_grants.values():
            mapping.unmap()
        self.persistent_grants.clear()

    # ---- one request -------------------------------------------------------------
    def _answer(self, raw: bytes) -> None:
        req = self.protocol.request.from_buffer_copy(raw)
        self.requests += 1
        try:
            status = self._dispatch(req)
        except (BadRequest, DiskError, GrantError, OSError) as err:
            self._note(f"d{self.domid}: request {req.id:#x} op {req.operation}: {err}")
            status = B.BLKIF_RSP_ERROR
        rsp = self.protocol.response(id=req.id, operation=req.operation, status=status)
        self.ring.put_response(bytes(rsp))

    def _dispatch(self, req) -> int:
        op = req.operation
        if op in (B.BLKIF_OP_READ, B.BLKIF_OP_WRITE):
            self._transfer(req, write=op == B.BLKIF_OP_WRITE)
        elif op in (B.BLKIF_OP_FLUSH_DISKCACHE, B.BLKIF_OP_WRITE_BARRIER):
            if self.disk.readonly:
                raise BadRequest("flush or barrier on a read-only disk")
            if op == B.BLKIF_OP_WRITE_BARRIER:
                self.disk.flush()        # everything before the barrier is on disk first
            if req.nr_segments:
                self._transfer(req, write=True)
            self.disk.flush()            # ...and the request itself before we answer
        else:
            return B.BLKIF_RSP_EOPNOTSUPP          # discard and indirect are not offered
        return B.BLKIF_RSP_OKAY

    def _transfer(self, req, write: bool) -> None:
        nseg = req.nr_segments
        if not 1 <= nseg <= B.BLKIF_MAX_SEGMENTS_PER_REQUEST:
            raise BadRequest(f"{nseg} segments")
        segs = [(s.gref, s.first_sect, s.last_sect) for s in req.seg[:nseg]]
        count = 0
        for _gref, first, last in segs:
            if not first <= last < SECTORS_PER_PAGE:
                raise BadRequest(f"segment sectors {first}..{last}")
            count += last - first + 1
        self.disk.check(req.sector_number, count, write)       # before touching grants
        mappings, views = [], []
        try:
            for gref, first, last in segs:
                mapping = self._map(gref, readonly=write, keep=mappings)
                views.append(mapping.view[first * SECTOR_SIZE:(last + 1) * SECTOR_SIZE])
            if write:
                self.disk.writev(req.sector_number, views)
            else:
                self.disk.readv(req.sector_number, views)
        finally:
            for view in views:
                view.release()
            for mapping in mappings:
                mapping.unmap()

    def _map(self, gref: int, readonly: bool, keep: list) -> object:
        """The grant's page: a persistent mapping if we may keep one, else a mapping
        that goes back (into `keep`) when the request is done."""
        mapping = self.persistent_grants.get(gref)
        if mapping is not None:
            return mapping
        if self.persistent and len(self.persistent_grants) < MAX_PERSISTENT_GRANTS:
            try:
                mapping = self.grants.map(gref, 0, readonly=False)
            except GrantError:
                if not readonly:
                    raise
            else:
                self.persistent_grants[gref] = mapping
                return mapping
        mapping = self.grants.map(gref, 0, readonly=readonly)
        keep.append(mapping)
        return mapping

    def _note(self, line: str) -> None:
        if len(self.errors) < 100:
            self.errors.append(line)

