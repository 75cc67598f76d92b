"""The standard xenstore entries of a new domain, laid out and permissioned as xl does.

Permission shapes (libxl__domain_make):
  read-only  (n0, r<domid>): the home directory, control/, device/, values the guest reads
  guest-owned (n<domid>):    control/shutdown and feature flags, data/, drivers/, ...
  console frontend dir (n<domid>, r<backend>), its ring details read-only to the guest
"""
from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass

from . import paths
from .errors import XsError
from .perms import DOM0, Perm, PermBits, Perms
from .store import Store, Transaction

_NAMESPACE = uuidlib.UUID("6f1a3c52-9d7e-4b0a-8c55-2f3e8d1b7a90")
_RETRIES = 16
CONSOLE_LIMIT = 1048576


@dataclass(frozen=True)
class DomainLayout:
    domid: int
    path: str          # /local/domain/<domid>
    vm_path: str       # /vm/<uuid>
    uuid: str


@dataclass(frozen=True)
class DomainEntries:
    """What goes into a domain's entries besides its identity."""
    memory_kb: int
    max_memory_kb: int
    vcpus: int = 1
    hvm: bool = False
    store_port: int | None = None
    store_ring_ref: int | None = None
    console_port: int | None = None
    console_ring_ref: int | None = None
    backend_domid: int = 0


def default_uuid(domid: int, name: str) -> str:
    """A stable UUID per (domid, name), so runs are reproducible."""
    return str(uuidlib.uuid5(_NAMESPACE, f"{domid}:{name}"))


def populate_domain(store: Store, domid: int, name: str, *, memory_kb: int,
                    max_memory_kb: int | None = None, vcpus: int = 1,
                    uuid: str | None = None, hvm: bool = False,
                    store_port: int | None = None, store_ring_ref: int | None = None,
                    console_port: int | None = None, console_ring_ref: int | None = None,
                    backend_domid: int = 0) -> DomainLayout:
    """Create /local/domain/<domid>/... and /vm/<uuid>/... in one dom0 transaction.

    Existing entries of that domain and uuid are removed first, as xl does. Ports
    and ring references are written only when given (the builder may know them later).
    """
    uuid = uuid or default_uuid(domid, name)
    layout = DomainLayout(domid, paths.domain_path(domid), f"/vm/{uuid}", uuid)
    entries = DomainEntries(memory_kb, max_memory_kb or memory_kb, vcpus, hvm, store_port,
                            store_ring_ref, console_port, console_ring_ref, backend_domid)
    for _ in range(_RETRIES):
        tx = store.start_transaction(DOM0)
        try:
            _populate(_Writer(store, tx), layout, name, entries)
        except BaseException:
            store.end_transaction(tx, commit=False)
            raise
        try:
            store.end_transaction(tx, commit=True)
            return layout
        except XsError as err:
            if err.name != "EAGAIN":
                raise
    raise XsError("EAGAIN", f"could not populate domain {domid}")


@dataclass
class _Writer:
    store: Store
    tx: Transaction

    def write(self, path: str, value: object, perms: Perms | None = None) -> None:
        self.store.write(DOM0, path, str(value).encode(), self.tx)
        if perms is not None:
            self.store.set_perms(DOM0, path, perms, self.tx)

    def rm(self, path: str) -> None:
        """Remove if there; a missing parent is fine too (xl ignores that error)."""
        try:
            self.store.rm(DOM0, path, self.tx)
        except XsError as err:
            if err.name != "ENOENT":
                raise


def _populate(out: _Writer, layout: DomainLayout, name: str, e: DomainEntries) -> None:
    domid, home, vm = layout.domid, layout.path, layout.vm_path
    read_only = (Perm(0, PermBits.NONE), Perm(domid, PermBits.READ))
    guest_owned = (Perm(domid, PermBits.NONE),)

    out.rm(home)
    out.rm(vm)
    out.write(home, "", read_only)
    out.write(vm, "", read_only)
    out.write(f"{vm}/uuid", layout.uuid)
    out.write(f"{vm}/name", name)

    out.write(f"{home}/vm", vm)
    out.write(f"{home}/name", name)
    out.write(f"{home}/domid", domid)
    out.write(f"{home}/device", "", read_only)
    out.write(f"{home}/control", "", read_only)
    out.write(f"{home}/control/platform-feature-multiprocessor-suspend", 1)
    out.write(f"{home}/control/platform-feature-xs_reset_watches", 1)
    for key in ("shutdown", "feature-poweroff", "feature-reboot", "feature-suspend",
                "sysrq"):
        out.write(f"{home}/control/{key}", "", guest_owned)
    for key in ("data", "drivers", "feature", "attr", "error"):
        out.write(f"{home}/{key}", "", guest_owned)
    if e.hvm:
        out.write(f"{home}/hvmloader", "", guest_owned)

    out.write(f"{home}/memory/static-max", e.max_memory_kb)
    out.write(f"{home}/memory/target", e.memory_kb)
    for cpu in range(e.vcpus):
        out.write(f"{home}/cpu/{cpu}/availability", "online")
    if e.store_port is not None:
        out.write(f"{home}/store/port", e.store_port)
    if e.store_ring_ref is not None:
        out.write(f"{home}/store/ring-ref", e.store_ring_ref)
    _console(out, layout, e.console_port, e.console_ring_ref, e.backend_domid)


def _console(out: _Writer, layout: DomainLayout, port: int | None, ring_ref: int | None,
             backend_domid: int) -> None:
    domid, console = layout.domid, f"{layout.path}/console"
    frontend = (Perm(domid, PermBits.NONE), Perm(backend_domid, PermBits.READ))
    read_only = (Perm(backend_domid, PermBits.NONE), Perm(domid, PermBits.READ))
    out.write(console, "", frontend)
    out.write(f"{console}/backend",
              f"{paths.domain_path(backend_domid)}/backend/console/{domid}/0", read_only)
    out.write(f"{console}/backend-id", backend_domid, read_only)
    out.write(f"{console}/limit", CONSOLE_LIMIT, read_only)
    out.write(f"{console}/type", "xenconsoled", read_only)
    out.write(f"{console}/output", "pty", read_only)
    if port is not None:
        out.write(f"{console}/port", port, read_only)
    if ring_ref is not None:
        out.write(f"{console}/ring-ref", ring_ref, read_only)
