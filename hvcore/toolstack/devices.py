"""The toolstack's half of a split device: the xenstore directories xl creates for it.

    frontend /local/domain/<domid>/device/<kind>/<devid>          perms n<domid> r<backend>
    backend  /local/domain/<backend>/backend/<kind>/<domid>/<devid>  perms n<backend> r<domid>

Each holds the path of the other (`backend`, `frontend`), its peer's domid and
state 1 (Initialising); the rest is per device kind (`vbd_nodes` for disks). The
frontend directory is the guest's own, the backend's is read-only to it.
"""
from __future__ import annotations

from dataclasses import dataclass

from hvcore.xenstore import DOM0, Perm, PermBits, XsError
from hvcore.xenstore.paths import domain_path

_RETRIES = 16


@dataclass(frozen=True)
class DevicePaths:
    kind: str            # "vbd", "vif", ...
    domid: int           # the frontend's domain
    devid: int
    backend_domid: int = 0

    @property
    def frontend(self) -> str:
        return f"{domain_path(self.domid)}/device/{self.kind}/{self.devid}"

    @property
    def backend(self) -> str:
        return f"{domain_path(self.backend_domid)}/backend/{self.kind}/{self.domid}/{self.devid}"


def add_device(store, dev: DevicePaths, front: dict[str, object],
               back: dict[str, object]) -> None:
    """Create both directories in one dom0 transaction (retried on conflicts)."""
    front = {"backend": dev.backend, "backend-id": dev.backend_domid, "state": 1, **front}
    back = {"frontend": dev.frontend, "frontend-id": dev.domid, "online": 1, "state": 1,
            **back}
    front_perms = (Perm(dev.domid, PermBits.NONE), Perm(dev.backend_domid, PermBits.READ))
    back_perms = (Perm(dev.backend_domid, PermBits.NONE), Perm(dev.domid, PermBits.READ))
    for _ in range(_RETRIES):
        tx = store.start_transaction(DOM0)
        try:
            _write_dir(store, tx, dev.frontend, front_perms, front)
            _write_dir(store, tx, dev.backend, back_perms, back)
        except BaseException:
            store.end_transaction(tx, commit=False)
            raise
        try:
            store.end_transaction(tx, commit=True)
            return
        except XsError as err:
            if err.name != "EAGAIN":
                raise
    raise XsError("EAGAIN", f"could not add {dev.kind} {dev.devid} of domain {dev.domid}")


def remove_backends(store, domid: int, kind: str, backend_domid: int = 0) -> None:
    """Forget every backend directory of `kind` that served `domid` (it is gone)."""
    try:
        store.rm(DOM0, f"{domain_path(backend_domid)}/backend/{kind}/{domid}")
    except XsError:
        pass          # none there: fine


def vbd_nodes(disk, domid: int) -> tuple[dict[str, object], dict[str, object]]:
    """(frontend, backend) nodes of a disk, as libxl writes them for a DiskSpec."""
    device_type = "cdrom" if disk.is_cdrom else "disk"
    front = {"virtual-device": disk.devid, "device-type": device_type}
    back = {"params": str(disk.target or ""), "type": disk.backendtype or "qdisk",
            "mode": "r" if disk.readonly else "w", "device-type": device_type,
            "dev": disk.vdev, "removable": int(disk.is_cdrom), "bootable": 1,
            "physical-device-path": str(disk.target or "")}
    if disk.discard is not None:
        back["discard-enable"] = int(disk.discard)
    return front, back


def _write_dir(store, tx, path: str, perms, nodes: dict[str, object]) -> None:
    store.write(DOM0, path, b"", tx)
    store.set_perms(DOM0, path, perms, tx)
    for key, value in nodes.items():
        store.write(DOM0, f"{path}/{key}", str(value).encode(), tx)
