"""dom0's network backends for every domain of a host: a vif per `vif = [...]` entry,
each a port of the software bridge its spec names, driven by xenstore watches and
event-channel kicks from the host loop, torn down when the domain goes.

With a capture file, every frame that enters any bridge is written there (pcap).
One guest's trouble stays its own: an exception while serving its vif closes that
vif (logged), and the loop goes on serving everyone else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hvcore.backends.bridge import Bridge
from hvcore.backends.pcap import PcapWriter
from hvcore.backends.ring import RingOverflow
from hvcore.backends.vbd import GuestLink
from hvcore.backends.vif import Vif
from hvcore.backends.watches import WatchConnection
from hvcore.backends.xenbus import XenbusBackend
from hvcore.toolstack.devices import DevicePaths, add_device, remove_backends
from hvcore.toolstack.vif_device import DEFAULT_MTU, vif_nodes


@dataclass
class _Device:
    paths: DevicePaths
    xenbus: XenbusBackend
    vif: Vif


@dataclass
class NetBackends:
    xenstore: object                          # the host's XenStore (xenstored)
    ports: object                             # the host's Dom0Ports
    log: Callable[[str], None]
    capture_path: Path | None = None
    bridges: dict[str, Bridge] = field(default_factory=dict)
    devices: dict[str, _Device] = field(default_factory=dict)     # by backend path
    watches: WatchConnection | None = None
    capture: PcapWriter | None = None

    def __post_init__(self) -> None:
        self.watches = WatchConnection(self.xenstore)
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
            self.devices[paths.backend] = _Device(paths, xenbus, vif)
            self.watches.watch(f"{paths.frontend}/state", paths.backend)
            self._guarded(paths.backend, xenbus.probe)

    def remove_domain(self, domid: int) -> None:
        for path, dev in list(self.devices.items()):
            if dev.paths.domid == domid:
                self.watches.unwatch(f"{dev.paths.frontend}/state", path)
                dev.xenbus.remove()
                del self.devices[path]
        remove_backends(self.xenstore.store, domid, "vif")

    def close(self) -> None:
        if self.capture is not None:
            self.capture.close()
            self.capture = None

    # ---- the host loop -------------------------------------------------------------
    def serve(self) -> bool:
        """Act on watch events, then move frames: every vif's tx first (onto the
        bridge), then every vif's rx. True if some ring has work waiting."""
        for _path, token in self.watches.events():
            dev = self.devices.get(token)
            if dev is not None:
                self._guarded(token, dev.xenbus.frontend_changed)
        busy = False
        for serve in ("serve_tx", "serve_rx"):
            for path, dev in list(self.devices.items()):
                netif = dev.vif.netif
                if netif is not None:
                    busy |= bool(self._guarded(path, getattr(netif, serve)))
                    self._log_errors(netif)
        if self.capture is not None:
            self.capture.flush()
        return busy

    def _log_errors(self, netif) -> None:
        for line in netif.errors:
            self.log(f"vif {line}")
        netif.errors.clear()

    def _bridge(self, name: str) -> Bridge:
        if name not in self.bridges:
            self.bridges[name] = Bridge(name, capture=self.capture)
            self.log(f"bridge {name} up")
        return self.bridges[name]

    def _guarded(self, path: str, work: Callable[[], object]) -> object:
        dev = self.devices[path]
        try:
            return work()
        except RingOverflow as err:
            dev.xenbus.fatal(f"ring overflow: {err}")
        except Exception as err:   # noqa: BLE001 - one device's failure is only its own
            from hvcore.crash import describe_bug
            dev.xenbus.fatal(f"backend failure: {describe_bug(err)}")
        finally:
            for line in dev.xenbus.log:
                self.log(f"vif {line}")
            dev.xenbus.log.clear()
        return None
