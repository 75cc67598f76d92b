"""dom0's block backends for every domain of a host: created with a domain that has
disks, driven by xenstore watches and event-channel kicks from the host loop, torn
down when the domain goes.

What every kind of backend shares (watches, teardown, one device's failure kept its
own) is in device_set.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from hvcore.backends.device_set import Device, DeviceBackends
from hvcore.backends.disk_image import DiskImage
from hvcore.backends.vbd import GuestLink, Vbd
from hvcore.backends.xenbus import XenbusBackend
from hvcore.toolstack.devices import DevicePaths, add_device, vbd_nodes


@dataclass
class BlockBackends(DeviceBackends):
    KIND = "vbd"

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
        self.register(paths, xenbus, vbd)
        if vbd is None:
            xenbus.fatal(f"opening {disk.target} failed")
            return
        self.guarded(paths.backend, xenbus.probe)

    def release(self, dev: Device) -> None:
        if dev.driver is not None:
            dev.driver.disk.close()

    # ---- the host loop -------------------------------------------------------------
    def serve(self) -> bool:
        """Act on watch events and serve the rings that were kicked. True if some ring
        still has requests waiting (the loop should come back without sleeping)."""
        self.frontend_events()
        busy = False
        for path, dev in list(self.devices.items()):
            blkif = dev.driver.blkif if dev.driver is not None else None
            if blkif is not None and blkif.kicked:
                busy |= bool(self.guarded(path, blkif.serve))
                self.log_lines(blkif.errors)
        return busy


class _NoDisk:
    """The driver of a device whose image could not be opened: never connects."""

    def features(self) -> dict[str, str]:
        return {}

    def connect(self, front) -> dict[str, str]:
        from hvcore.backends.xenbus import XenbusError
        raise XenbusError("no disk image")

    def disconnect(self) -> None:
        pass
