"""netback's data path: one vif's tx and rx rings (public/io/netif.h), rx-copy only.

tx (guest -> dom0): a packet is one request, or a chain of them linked by
NETTXF_more_data (the first request's size is the whole packet's, each following
one's the size of its own fragment), with NETTXF_extra_info slots after the first.
Every slot is checked (fragment inside its page, packet at least an Ethernet header
and at most XEN_NETIF_MAX_TX_SIZE, chain at most XEN_NETIF_NR_SLOTS_MIN slots) before
any grant is mapped; the fragments are then copied out of the guest's granted pages
(read-only mappings, unmapped at once) and the frame goes to the bridge. Each slot
gets its response: NETIF_RSP_OKAY, NETIF_RSP_ERROR for a malformed packet or a grant
dom0 may not map, NETIF_RSP_DROPPED for a well-formed frame larger than the vif's
MTU, NETIF_RSP_NULL for extra-info slots. A bad packet costs only itself.

rx (dom0 -> guest): frames from the bridge wait in a bounded queue until the guest
posts buffers (netif_rx_request: a page granted to dom0); dom0 copies the frame into
the page (grant copy semantics: dom0 writes into the granted page, nothing of it stays
mapped) and answers with the byte count as status, or NETIF_RSP_ERROR if the grant
is bad. A frame longer than a page takes several buffers (NETRXF_more_data) when the
frontend has feature-sg, else it is dropped.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from hvcore.backends.bridge import ETH_HLEN
from hvcore.backends.ring import BackRing, RingLayout
from hvcore.grant_table import GrantError
from hvcore.public.io import netif as N

PAGE_SIZE = 4096
RX_QUEUE_FRAMES = 512                 # frames waiting for rx buffers; more are dropped
ETH_VLAN_HLEN = ETH_HLEN + 4

TX_RING = RingLayout.of(N.netif_tx_sring_64, N.netif_tx_request_64, N.netif_tx_response_64)
RX_RING = RingLayout.of(N.netif_rx_sring_64, N.netif_rx_request_64, N.netif_rx_response_64)
# netif has no 64-bit members: both ABIs share these layouts (the layout probe checks).


class BadPacket(Exception):
    """Every slot of this packet gets `status` (the reason is for dom0's log)."""

    def __init__(self, what: str, status: int = N.NETIF_RSP_ERROR) -> None:
        self.status = status
        super().__init__(what)


@dataclass
class NetifStats:
    tx_frames: int = 0
    tx_errors: int = 0
    rx_frames: int = 0
    rx_errors: int = 0
    rx_dropped: int = 0


@dataclass
class Netif:
    """A connected vif: the frontend's two rings and where its frames go."""
    domid: int
    grants: object                          # the guest's HostGrantTable
    tx: BackRing
    rx: BackRing
    notify_tx: Callable[[], None]
    notify_rx: Callable[[], None]
    deliver: Callable[[bytes], None]        # a frame the guest sent: to the bridge
    mtu: int = 1500
    sg: bool = False                        # the frontend takes rx frames in pieces
    tx_kicked: bool = True
    queue: deque = field(default_factory=deque)
    stats: NetifStats = field(default_factory=NetifStats)
    errors: list[str] = field(default_factory=list)

    def serve_tx(self, budget: int = 64) -> bool:
        """Send what the guest queued (if it kicked us); True if more is waiting."""
        if not self.tx_kicked:
            return False
        self.tx_kicked = self.tx.serve(budget, self._transmit_packet, self.notify_tx)
        return self.tx_kicked

    def serve_rx(self, budget: int = 64) -> bool:
        """Copy waiting frames into the guest's buffers; True if more could go now."""
        return self._receive(budget) if self.queue else False

    def transmit(self, frame: bytes) -> None:
        """A frame for this guest (from the bridge): queued for its rx ring."""
        if len(self.queue) >= RX_QUEUE_FRAMES:
            self.stats.rx_dropped += 1
            return
        self.queue.append(frame)

    # ---- tx: the guest's packets ------------------------------------------------------
    def _transmit_packet(self) -> None:
        slots, extras = self._take_slots()
        try:
            frame = self._gather(slots)
        except (BadPacket, GrantError) as err:
            status = err.status if isinstance(err, BadPacket) else N.NETIF_RSP_ERROR
            if status == N.NETIF_RSP_ERROR:
                self.stats.tx_errors += 1
            self._note(f"d{self.domid}: tx id {slots[0].id}: {err}")
        else:
            status = N.NETIF_RSP_OKAY
            self.stats.tx_frames += 1
            self.deliver(frame)
        self._respond_tx(slots[0].id, status)
        for _ in range(extras):
            self._respond_tx(0, N.NETIF_RSP_NULL)
        for slot in slots[1:]:
            self._respond_tx(slot.id, status)

    def _take_slots(self) -> tuple[list, int]:
        """The packet's requests (first, then its fragments) and its extra-info count.
        A chain that runs past the requests produced so far ends there (and fails)."""
        first = N.netif_tx_request_64.from_buffer_copy(self.tx.take_request())
        slots, extras, more = [first], 0, bool(first.flags & N.NETTXF_extra_info)
        while more and self.tx.unconsumed_requests():
            extra = N.netif_extra_info_64.from_buffer_copy(self.tx.take_request()[:8])
            extras += 1
            more = bool(extra.flags & N.XEN_NETIF_EXTRA_FLAG_MORE)
        more = bool(first.flags & N.NETTXF_more_data)
        while more and self.tx.unconsumed_requests():
            slot = N.netif_tx_request_64.from_buffer_copy(self.tx.take_request())
            slots.append(slot)
            more = bool(slot.flags & N.NETTXF_more_data)
        if more:
            slots[-1].flags |= N.NETTXF_more_data       # _gather refuses the cut chain
        return slots, extras

    def _gather(self, slots: list) -> bytes:
        total = slots[0].size
        if slots[-1].flags & N.NETTXF_more_data:
            raise BadPacket("chain runs past the requests produced")
        if len(slots) > N.XEN_NETIF_NR_SLOTS_MIN:
            raise BadPacket(f"{len(slots)} slots (at most {N.XEN_NETIF_NR_SLOTS_MIN})")
        rest = sum(slot.size for slot in slots[1:])
        if total < ETH_HLEN or rest > total:
            raise BadPacket(f"packet size {total} (fragments after the first: {rest})")
        sizes = [total - rest] + [slot.size for slot in slots[1:]]
        for slot, size in zip(slots, sizes):
            if slot.offset + size > PAGE_SIZE:
                raise BadPacket(f"fragment {slot.offset}+{size} crosses its page")
        if total > self.mtu + ETH_VLAN_HLEN:
            raise BadPacket(f"{total}-byte frame over MTU {self.mtu}", N.NETIF_RSP_DROPPED)
        return b"".join(self._copy_from(slot.gref, slot.offset, size)
                        for slot, size in zip(slots, sizes))

    def _copy_from(self, gref: int, offset: int, size: int) -> bytes:
        mapping = self.grants.map(gref, 0, readonly=True)
        try:
            return bytes(mapping.view[offset:offset + size])
        finally:
            mapping.unmap()

    def _respond_tx(self, rid: int, status: int) -> None:
        self.tx.put_response(bytes(N.netif_tx_response_64(id=rid, status=status)))

    # ---- rx: frames for the guest -----------------------------------------------------
    def _receive(self, budget: int) -> bool:
        done = 0
        while self.queue and done < budget:
            frame = self.queue[0]
            need = -(-len(frame) // PAGE_SIZE)
            if need > 1 and not self.sg:
                self.queue.popleft()
                self.stats.rx_dropped += 1
                continue
            if not self._buffers(need):
                break
            self.queue.popleft()
            self._copy_to_guest(frame)
            done += 1
        if self.rx.push_responses_and_check_notify():
            self.notify_rx()
        return bool(self.queue) and done == budget

    def _buffers(self, need: int) -> bool:
        """Has the guest posted `need` rx buffers? If not, ask for an event when it
        posts the next one (the frame waits in the queue)."""
        if self.rx.unconsumed_requests() >= need:
            return True
        self.rx.final_check_for_requests()
        return self.rx.unconsumed_requests() >= need

    def _copy_to_guest(self, frame: bytes) -> None:
        chunks = [frame[at:at + PAGE_SIZE] for at in range(0, len(frame), PAGE_SIZE)]
        failed = False
        for index, chunk in enumerate(chunks):
            req = N.netif_rx_request_64.from_buffer_copy(self.rx.take_request())
            status = self._copy_into(req.gref, chunk)
            failed |= status < 0
            flags = N.NETRXF_more_data if index + 1 < len(chunks) else 0
            rsp = N.netif_rx_response_64(id=req.id, offset=0, flags=flags, status=status)
            self.rx.put_response(bytes(rsp))
        if failed:
            self.stats.rx_errors += 1
        else:
            self.stats.rx_frames += 1

    def _copy_into(self, gref: int, chunk: bytes) -> int:
        try:
            mapping = self.grants.map(gref, 0, readonly=False)
        except GrantError as err:
            self._note(f"d{self.domid}: rx buffer: {err}")
            return N.NETIF_RSP_ERROR
        try:
            mapping.view[:len(chunk)] = chunk
        finally:
            mapping.unmap()
        return len(chunk)

    def _note(self, line: str) -> None:
        if len(self.errors) < 100:
            self.errors.append(line)
