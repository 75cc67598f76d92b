"""`DomainSnapshot`: everything needed to run a domain on from where it was, in memory.

Capture and restore (hvcore/snapshot/pv.py, hvm.py) work on this object only; files are
one way to keep it (`to_bytes` / `from_bytes`, format in hvcore/snapshot/format.py), so
code that keeps snapshots in memory (deterministic replay) never touches a file.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

from hvcore.snapshot import format as F
from hvcore.snapshot.format import MemoryImage, SnapshotFormatError

KINDS = ("pv", "hvm")


@dataclass
class DomainSnapshot:
    kind: str                                   # "pv" or "hvm"
    domain: dict                                # the hypervisor's state of the domain (JSON-able)
    vcpus: list[dict]                           # one per vCPU: registers and Xen's state
    memory: list[MemoryImage]                   # every region of its physical memory
    meta: dict = field(default_factory=dict)    # the toolstack's: name, config (host fills it)
    xenstore: dict = field(default_factory=dict)   # the host's: subtree, watches

    def region(self, paddr: int) -> MemoryImage:
        for image in self.memory:
            if image.paddr == paddr:
                return image
        raise SnapshotFormatError(f"no memory region at {paddr:#x} in the snapshot")

    # ---- as a file -------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        F.write_sections(out, self.sections())
        return out.getvalue()

    def sections(self) -> list[tuple[bytes, bytes]]:
        return [self.meta_section(), *self.domain_sections(), self.xenstore_section()]

    def meta_section(self) -> tuple[bytes, bytes]:
        return F.META, _json({**self.meta, "kind": self.kind})

    def domain_sections(self) -> list[tuple[bytes, bytes]]:
        """What the domain's own process knows: its state and memory."""
        cpus = {"domain": self.domain, "vcpus": self.vcpus}
        return [(F.CPUS, _json(cpus))] + [(F.MEMR, F.encode_memory(i)) for i in self.memory]

    def xenstore_section(self) -> tuple[bytes, bytes]:
        return F.XSTR, _json(self.xenstore)

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "snapshot",
                   memory: bool = True) -> "DomainSnapshot":
        """The snapshot in `data`, checked whole (every CRC). Without `memory` the
        pages are left out (the host needs META and XSTR only)."""
        found: dict[bytes, list[bytes]] = {}
        for tag, payload in F.read_sections(data, what):
            found.setdefault(tag, []).append(payload)
        for tag in (F.META, F.CPUS, F.MEMR):
            if tag not in found:
                raise SnapshotFormatError(f"{what}: no {tag.decode().strip()} section")
        meta = _unjson(found[F.META][0], "META", what)
        cpus = _unjson(found[F.CPUS][0], "CPUS", what)
        kind = meta.pop("kind", None)
        if kind not in KINDS or not isinstance(cpus.get("vcpus"), list):
            raise SnapshotFormatError(f"{what}: META/CPUS sections do not describe a domain")
        xenstore = _unjson(found[F.XSTR][0], "XSTR", what) if F.XSTR in found else {}
        return cls(kind, cpus.get("domain", {}), cpus["vcpus"],
                   [F.decode_memory(p) for p in found[F.MEMR]] if memory else [],
                   meta, xenstore)


def read_file(path: str, memory: bool = True) -> DomainSnapshot:
    """A snapshot file, checked whole; SnapshotFormatError (one line) if it cannot be used."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise SnapshotFormatError(f"{path}: {err.strerror}") from None
    return DomainSnapshot.from_bytes(data, path, memory)


def _json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _unjson(payload: bytes, name: str, what: str) -> dict:
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        value = None
    if not isinstance(value, dict):
        raise SnapshotFormatError(f"{what}: {name} section is not a JSON object")
    return value
