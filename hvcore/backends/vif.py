"""netback's xenbus driver for one vif: the keys it offers and reads, its rings.

Offered (backend directory): feature-rx-copy 1 and feature-rx-flip 0 (rx-copy is the
only mode), feature-sg, feature-split-event-channels; no GSO, no checksum offload, no
multicast control, one queue. Read from the frontend at connect: tx-ring-ref,
rx-ring-ref, event-channel (or event-channel-tx and event-channel-rx), request-rx-copy
(must be 1), feature-sg. Connected, the vif is a port of its bridge.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hvcore.backends.bridge import Bridge
from hvcore.backends.netback import RX_RING, TX_RING, Netif
from hvcore.backends.ring import BackRing
from hvcore.backends.vbd import GuestLink
from hvcore.backends.xenbus import FrontendReader, XenbusError
from hvcore.grant_table import GrantError

FEATURES = {"feature-rx-copy": "1", "feature-rx-flip": "0", "feature-sg": "1",
            "feature-split-event-channels": "1", "feature-gso-tcpv4": "0",
            "feature-gso-tcpv6": "0", "feature-ipv6-csum-offload": "0",
            "feature-multicast-control": "0", "feature-ctrl-ring": "0"}


@dataclass(eq=False)
class Vif:
    guest: GuestLink
    bridge: Bridge
    mtu: int = 1500
    netif: Netif | None = None
    mappings: list = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    def features(self) -> dict[str, str]:
        return dict(FEATURES)

    def connect(self, front: FrontendReader) -> dict[str, str]:
        if front.number("request-rx-copy", 0, limit=1) != 1:
            raise XenbusError("request-rx-copy is not 1: only rx-copy is supported")
        try:
            tx = BackRing(self._map_ring(front, "tx-ring-ref"), TX_RING)
            rx = BackRing(self._map_ring(front, "rx-ring-ref"), RX_RING)
            notify_tx, notify_rx = self._bind(front)
        except XenbusError:
            self.disconnect()
            raise
        self.netif = Netif(self.guest.domid, self.guest.grants, tx, rx, notify_tx, notify_rx,
                           deliver=lambda frame: self.bridge.forward(self, frame),
                           mtu=self.mtu, sg=front.number("feature-sg", 0, limit=1) == 1)
        self.bridge.add_port(self)
        return {}

    def transmit(self, frame: bytes) -> None:
        """The bridge's side: a frame for this guest."""
        if self.netif is not None:
            self.netif.transmit(frame)

    def disconnect(self) -> None:
        self.bridge.remove_port(self)
        self.netif = None
        for port in self.ports:
            self.guest.ports.close(port)
        self.ports.clear()
        for mapping in self.mappings:
            mapping.unmap()
        self.mappings.clear()

    def _map_ring(self, front: FrontendReader, key: str) -> memoryview:
        ref = front.number(key)
        try:
            mapping = self.guest.grants.map(ref, 0, readonly=False)
        except GrantError as err:
            raise XenbusError(f"mapping {key} {ref}: {err}") from None
        self.mappings.append(mapping)
        return mapping.view

    def _bind(self, front: FrontendReader):
        """The frontend's event channel(s): one for both rings, or split (tx, rx)."""
        if front.text("event-channel-tx") is not None:
            keys = ("event-channel-tx", "event-channel-rx")
        else:
            keys = ("event-channel",)
        for key in keys:
            guest_port = front.number(key)
            try:
                self.ports.append(self.guest.ports.bind(self.guest.domid, guest_port, self._kick))
            except Exception as err:                  # Dom0PortError: errno and reason
                raise XenbusError(f"binding {key} {guest_port}: {err}") from None
        tx_port, rx_port = self.ports[0], self.ports[-1]
        return (lambda: self.guest.ports.notify(tx_port)), \
            (lambda: self.guest.ports.notify(rx_port))

    def _kick(self) -> None:
        if self.netif is not None:
            self.netif.tx_kicked = True
