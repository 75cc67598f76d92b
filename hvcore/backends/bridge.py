"""dom0's software bridge: the vifs of a host's guests on one Ethernet segment.

A learning switch, as Linux's bridge forwards: the source MAC of every frame teaches
it which port that address is behind; a frame to a known unicast address goes to that
port only, one to a group address (broadcast, multicast) or to an address not yet
seen goes to every port but the one it came in on. A frame is never sent back out of
its own port. Every frame that enters the bridge goes to the capture, if there is one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

ETH_ALEN = 6
ETH_HLEN = 14


class BridgePort(Protocol):
    def transmit(self, frame: bytes) -> None:
        """Hand the frame to the port's guest (queued for its rx ring)."""


@dataclass
class Bridge:
    name: str
    capture: object = None                      # a PcapWriter, or None
    ports: list[BridgePort] = field(default_factory=list)
    fdb: dict[bytes, BridgePort] = field(default_factory=dict)   # MAC -> port
    frames: int = 0
    flooded: int = 0

    def add_port(self, port: BridgePort) -> None:
        if port not in self.ports:
            self.ports.append(port)

    def remove_port(self, port: BridgePort) -> None:
        if port in self.ports:
            self.ports.remove(port)
        for mac in [m for m, p in self.fdb.items() if p is port]:
            del self.fdb[mac]

    def forward(self, source: BridgePort, frame: bytes) -> None:
        """A frame that `source`'s guest sent (at least an Ethernet header long)."""
        self.frames += 1
        if self.capture is not None:
            self.capture.write(frame)
        dst, src = frame[:ETH_ALEN], frame[ETH_ALEN:2 * ETH_ALEN]
        if not src[0] & 1:
            self.fdb[src] = source
        out = self.fdb.get(dst) if not dst[0] & 1 else None
        if out is None:
            self.flooded += 1
            for port in self.ports:
                if port is not source:
                    port.transmit(frame)
        elif out is not source:
            out.transmit(frame)
