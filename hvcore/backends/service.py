"""dom0's block backends for every domain of a host: created with a domain that has
disks, driven by xenstore watches and event-channel kicks from the host loop, torn
down when the domain goes.

One guest's trouble stays its own: an exception while serving its device closes that
device (logged), and the loop goes on serving everyone else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hvcore.backends.disk_image import DiskImage
from hvcore.backends.ring import RingOverflow
from hvcore.backends.vbd import GuestLink, Vbd
from hvcore.backends.watches import WatchConnection
from hvcore.backends.xenbus import XenbusBackend
from hvcore.toolstack.devices import DevicePaths, add_device, remove_backends, vbd_nodes


@dataclass
class _Device:
    paths: DevicePaths
    xenbus: XenbusBackend
    vbd: Vbd


@dataclass
class BlockBackends:
    xenstore: object                          # the host's XenStore (xenstored)
    ports: object                             # the host's Dom0Ports
    log: Callable[[str], None]
    devices: dict[str, _Device] = field(default_factory=dict)     # by backend path
    watches: WatchConnection | None = None

    def __post_init__(self) -> None:
        self.watches = WatchConnection(self.xenstore)

    # ---- a domain's disks ----------------------------------------------------------
    def add_domain(self, domid: int, grants, disks) -> None:
        """The toolstack's part (the device directories) and blkback's (a backend per
        disk, watching its frontend). A disk whose image cannot be opened is logged
        and its device closed; the domain still starts, as with xl."""
        for disk in disks:
            if disk.target is None:
                continue                      # an empty cdrom drive: nothing to serve
            paths = DevicePaths("vbd", domid, disk.devid)
            add_device(self.xenstore.store, paths, *vbd_nodes(disk, domid))
            self._start_device(paths, disk, GuestLink(domid, grants, self.ports))

    def _start_device(self, paths: DevicePaths, disk, guest: GuestLink) -> None:
        try:
            image = DiskImage.open(disk.target, disk.readonly)
        except OSError as err:
            self.log(f"vbd d{paths.domid} {disk.vdev}: {disk.target}: {err.strerror}")
            image = None
        vbd = Vbd(guest, image, cdrom=disk.is_cdrom) if image is not None else None
        xenbus = XenbusBackend(self.xenstore.store, paths.backend, paths.frontend,
                               vbd if vbd is not None else _NoDisk())
        self.devices[paths.backend] = _Device(paths, xenbus, vbd)
        self.watches.watch(f"{paths.frontend}/state", paths.backend)
        if vbd is None:
            xenbus.fatal(f"opening {disk.target} failed")
            return
        self._guarded(paths.backend, xenbus.probe)

    def remove_domain(self, domid: int) -> None:
        for path, dev in list(self.devices.items()):
            if dev.paths.domid != domid:
                continue
            self.watches.unwatch(f"{dev.paths.frontend}/state", path)
            dev.xenbus.remove()
            if dev.vbd is not None:
                dev.vbd.disk.close()
            del self.devices[path]
        remove_backends(self.xenstore.store, domid, "vbd")

    # ---- the host loop -------------------------------------------------------------
    def serve(self) -> bool:
        """Act on watch events and serve the rings that were kicked. True if some ring
        still has requests waiting (the loop should come back without sleeping)."""
        for _path, token in self.watches.events():
            dev = self.devices.get(token)
            if dev is not None:
                self._guarded(token, dev.xenbus.frontend_changed)
        busy = False
        for path, dev in list(self.devices.items()):
            blkif = dev.vbd.blkif if dev.vbd is not None else None
            if blkif is not None and blkif.kicked:
                busy |= bool(self._guarded(path, blkif.serve))
                for line in blkif.errors:
                    self.log(f"vbd {line}")
                blkif.errors.clear()
        return busy

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
                self.log(f"vbd {line}")
            dev.xenbus.log.clear()
        return None


class _NoDisk:
    """The driver of a device whose image could not be opened: never connects."""

    def features(self) -> dict[str, str]:
        return {}

    def connect(self, front) -> dict[str, str]:
        from hvcore.backends.xenbus import XenbusError
        raise XenbusError("no disk image")

    def disconnect(self) -> None:
        pass
