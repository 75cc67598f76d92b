"""Snapshots of domains: `hv save` / `hv restore` (docs/snapshot-format.md).

    capture(dom) -> DomainSnapshot          the domain now, in memory (between slices)
    restore_into(dom, snap)                 a domain of the same shape becomes the snapshot
    DomainSnapshot.to_bytes / from_bytes    the file format (format.py), versioned
"""
from hvcore.snapshot.format import SnapshotFormatError
from hvcore.snapshot.pv import SnapshotError, capture, restore_into
from hvcore.snapshot.state import DomainSnapshot, read_file

__all__ = ["DomainSnapshot", "SnapshotError", "SnapshotFormatError", "capture",
           "read_file", "restore_into"]
