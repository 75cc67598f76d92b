"""dom0's network backends for every domain of a host: a vif per `vif = [...]` entry,
each a port of the software bridge its spec names, driven by xenstore watches and
event-channel kicks from the host loop, torn down when the domain goes.

With a capture file, every frame that enters any bridge is written there (pcap).
What every kind of backend shares (watches, teardown, one device's failure kept its
own) is in device_set.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hvcore.backends.bridge import Bridge
from hvcore.backends.device_set import DeviceBackends
from hvcore.backends.pcap import PcapWriter
from hvcore.backends.vbd import GuestLink
from hvcore.backends.vif import Vif
from hvcore.backends.xenbus import XenbusBackend
from hvcore.toolstack.devices import DevicePaths, add_device
from hvcore.toolstack.vif_device import DEFAULT_MTU, vif_nodes


@dataclass
class NetBackends(DeviceBackends):
    KIND = "vif"
    capture_path: Path | None = None
    bridges: dict[str, Bridge] = field(default_factory=dict)
    capture: PcapWriter | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.capture_path is not None:
            self.capture = PcapWriter(self.capture_path)

    # ---- a domain's vifs -----------------------------------------------------------
    def add_domain(self, domid: int, grants, vifs) -> None:
        """The toolstack's part (the device directories) and netback's (a backend per
        vif, watching its frontend)."""
        for index, spec in enumerate(vifs):
            devid = spec.devid if spec.devid is not None else index
            paths = DevicePaths("vif", domid, devid)
            add_device(self.xenstore.store, paths, *vif_nodes(spec, devid))
            vif = Vif(GuestLink(domid, grants, self.ports), self._bridge(spec.bridge),
                      mtu=spec.mtu or DEFAULT_MTU)
            xenbus = XenbusBackend(self.xenstore.store, paths.backend, paths.frontend, vif)
            self.register(paths, xenbus, vif)
            self.guarded(paths.backend, xenbus.probe)

    def close(self) -> None:
        if self.capture is not None:
            self.capture.close()
            self.capture = None

    # ---- the host loop -------------------------------------------------------------
    def serve(self) -> bool:
        """Act on watch events, then move frames: every vif's tx first (onto the
        bridge), then every vif's rx. True if some ring has work waiting."""
        self.frontend_events()
        busy = False
        for serve in ("serve_tx", "serve_rx"):
            for path, dev in list(self.devices.items()):
                netif = dev.driver.netif
                if netif is not None:
                    busy |= bool(self.guarded(path, getattr(netif, serve)))
                    self.log_lines(netif.errors)
        if self.capture is not None:
            self.capture.flush()
        return busy

    def _bridge(self, name: str) -> Bridge:
        if name not in self.bridges:
            self.bridges[name] = Bridge(name, capture=self.capture)
            self.log(f"bridge {name} up")
        return self.bridges[name]
