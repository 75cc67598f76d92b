"""A raw disk image file as blkback serves it: whole 512-byte sectors, bounds-checked.

Reads and writes go straight between the file and the buffers given (the guest's
granted pages) with preadv/pwritev: no copy in between. Nothing is ever written
outside [0, sectors * 512): the image never grows and a trailing partial sector,
if the file has one, is not part of the disk.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SECTOR_SIZE = 512


class DiskError(Exception):
    """An I/O request the disk refuses (out of bounds, read-only) or that failed."""


@dataclass
class DiskImage:
    path: Path
    fd: int
    readonly: bool
    sectors: int

    @classmethod
    def open(cls, path: Path, readonly: bool) -> DiskImage:
        """OSError (with the path) if the file cannot be opened as asked."""
        fd = os.open(path, (os.O_RDONLY if readonly else os.O_RDWR) | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
        except OSError:
            os.close(fd)
            raise
        return cls(Path(path), fd, readonly, size // SECTOR_SIZE)

    def check(self, sector: int, count: int, write: bool) -> None:
        if write and self.readonly:
            raise DiskError("write to a read-only disk")
        if sector < 0 or count < 0 or sector + count > self.sectors:
            raise DiskError(f"sectors {sector}+{count} outside the disk ({self.sectors})")

    def readv(self, sector: int, buffers: list[memoryview]) -> None:
        """Fill `buffers` (each a whole number of sectors) from `sector` on."""
        self._io(sector, buffers, write=False)

    def writev(self, sector: int, buffers: list[memoryview]) -> None:
        self._io(sector, buffers, write=True)

    def _io(self, sector: int, buffers: list[memoryview], write: bool) -> None:
        total = sum(len(b) for b in buffers)
        self.check(sector, total // SECTOR_SIZE, write)
        move = os.pwritev if write else os.preadv
        done = move(self.fd, buffers, sector * SECTOR_SIZE)
        if done != total:
            raise DiskError(f"short {'write' if write else 'read'} at sector {sector}: "
                            f"{done} of {total} bytes")

    def flush(self) -> None:
        """Everything written so far is on disk when this returns."""
        if self.readonly:
            raise DiskError("flush of a read-only disk")
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
