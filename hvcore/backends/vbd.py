"""A virtual block device's backend: what blkback advertises, and connecting its ring.

The xenbus state machine (xenbus.py) calls `connect` once the frontend is Initialised:
we read its ring-ref, event-channel, protocol and feature-persistent, map the ring page
through the guest's grant table, bind dom0's end of its event channel, and hand back the
nodes the frontend reads before it uses the disk (sectors, sector-size, info, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from hvcore.backends.blkback import NATIVE_PROTOCOL, PROTOCOLS, Blkif
from hvcore.backends.disk_image import SECTOR_SIZE, DiskImage
from hvcore.backends.ring import BackRing
from hvcore.backends.xenbus import FrontendReader, XenbusError
from hvcore.grant_table import GrantError
from hvcore.public.io import blkif as B


@dataclass
class GuestLink:
    """What a backend needs of the hypervisor for one guest."""
    domid: int
    grants: object                        # its HostGrantTable: map(ref, mapper, readonly)
    ports: object                         # dom0's event channels: bind / notify / close


@dataclass
class Vbd:
    guest: GuestLink
    disk: DiskImage
    cdrom: bool = False
    blkif: Blkif | None = None
    ring_mapping: object = None
    port: int | None = None

    def features(self) -> dict[str, str]:
        return {"feature-flush-cache": "1", "feature-barrier": "1",
                "feature-persistent": "1", "feature-discard": "0"}

    def connect(self, front: FrontendReader) -> dict[str, str]:
        ring_ref = front.number("ring-ref")
        guest_port = front.number("event-channel")
        name = front.text("protocol") or NATIVE_PROTOCOL
        protocol = PROTOCOLS.get(name)
        if protocol is None:
            raise XenbusError(f"unknown protocol {name[:32]!r}")
        persistent = front.number("feature-persistent", 0, limit=1) == 1
        try:
            self.ring_mapping = self.guest.grants.map(ring_ref, 0, readonly=False)
        except GrantError as err:
            raise XenbusError(f"mapping ring-ref {ring_ref}: {err}") from None
        try:
            self.port = self.guest.ports.bind(self.guest.domid, guest_port, self._kick)
        except Exception as err:                      # Dom0PortError: errno and reason
            self.disconnect()
            raise XenbusError(f"binding event-channel {guest_port}: {err}") from None
        port = self.port
        self.blkif = Blkif(self.guest.domid, self.disk, self.guest.grants,
                           BackRing(self.ring_mapping.view, protocol.ring), protocol,
                           notify=lambda: self.guest.ports.notify(port), persistent=persistent)
        self._kick()
        return {"sectors": str(self.disk.sectors), "sector-size": str(SECTOR_SIZE),
                "physical-sector-size": str(SECTOR_SIZE), "info": str(self.info()),
                "feature-persistent": "1" if persistent else "0"}

    def info(self) -> int:
        return (B.VDISK_READONLY if self.disk.readonly else 0) | \
            (B.VDISK_CDROM | B.VDISK_REMOVABLE if self.cdrom else 0)

    def disconnect(self) -> None:
        if self.blkif is not None:
            self.blkif.close()
            self.blkif = None
        if self.port is not None:
            self.guest.ports.close(self.port)
            self.port = None
        if self.ring_mapping is not None:
            self.ring_mapping.unmap()
            self.ring_mapping = None

    def _kick(self) -> None:
        if self.blkif is not None:
            self.blkif.kicked = True
