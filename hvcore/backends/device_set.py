"""What every kind of dom0 backend does for the devices of a host's domains: keep them by
backend path, watch each frontend's state, drive the xenbus state machine, tear a
domain's devices down, and keep one device's failure its own (an exception while
serving it closes that device, logged, and the loop goes on serving everyone else).

A kind of backend (BlockBackends, NetBackends) adds its devices with `register` and
serves its rings in `serve`, after `frontend_events()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

from hvcore.backends.ring import RingOverflow
from hvcore.backends.watches import WatchConnection
from hvcore.backends.xenbus import XenbusBackend
from hvcore.toolstack.devices import DevicePaths, remove_backends


@dataclass
class Device:
    paths: DevicePaths
    xenbus: XenbusBackend
    driver: object | None          # the Vbd or Vif; None when it could not be set up


@dataclass
class DeviceBackends:
    KIND: ClassVar[str] = ""                  # xenstore's device kind: "vbd", "vif"
    xenstore: object                          # the host's XenStore (xenstored)
    ports: object                             # the host's Dom0Ports
    log: Callable[[str], None]
    devices: dict[str, Device] = field(default_factory=dict, init=False)   # by backend path
    watches: WatchConnection | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.watches = WatchConnection(self.xenstore)

    def register(self, paths: DevicePaths, xenbus: XenbusBackend, driver) -> Device:
        """Keep the device and follow its frontend's state."""
        device = self.devices[paths.backend] = Device(paths, xenbus, driver)
        self.watches.watch(f"{paths.frontend}/state", paths.backend)
        return device

    def remove_domain(self, domid: int) -> None:
        for path, dev in list(self.devices.items()):
            if dev.paths.domid != domid:
                continue
            self.watches.unwatch(f"{dev.paths.frontend}/state", path)
            dev.xenbus.remove()
            self.release(dev)
            del self.devices[path]
        remove_backends(self.xenstore.store, domid, self.KIND)

    def release(self, dev: Device) -> None:
        """What a kind of backend frees when a device goes (nothing by default)."""

    def frontend_events(self) -> None:
        """Move each device's state machine on for its frontend's state changes."""
        for _path, token in self.watches.events():
            dev = self.devices.get(token)
            if dev is not None:
                self.guarded(token, dev.xenbus.frontend_changed)

    def guarded(self, path: str, work: Callable[[], object]) -> object:
        dev = self.devices[path]
        try:
            return work()
        except RingOverflow as err:
            dev.xenbus.fatal(f"ring overflow: {err}")
        except Exception as err:   # noqa: BLE001 - one device's failure is only its own
            from hvcore.crash import describe_bug
            dev.xenbus.fatal(f"backend failure: {describe_bug(err)}")
        finally:
            self.log_lines(dev.xenbus.log)
        return None

    def log_lines(self, lines: list[str]) -> None:
        for line in lines:
            self.log(f"{self.KIND} {line}")
        lines.clear()
