"""The snapshot file: a header, then tagged sections, each with its length and CRC-32.

    header   magic b"HVSNAP\\r\\n" (8 bytes), version u32, flags u32 (0)
    section  tag (4 ASCII bytes), crc32 u32 of the payload, length u64, payload
    ...      the last section is END with an empty payload

All integers little-endian. The sections (docs/snapshot-format.md):
    META  JSON: what the toolstack needs to create the domain again (name, type, memory...)
    CPUS  JSON: the domain's hypervisor state and its vCPUs (registers, Xen's per-vCPU state)
    MEMR  one per memory region: paddr u64, size u64, then a zlib stream of
          (page index u32, 4096 bytes) records for the pages that are not all zero
    XSTR  JSON: the domain's xenstore subtree (relative paths), its watches, ring leftovers
    END   empty: the file is complete

The magic's "\\r\\n" catches text-mode mangling. A reader refuses a file with another
magic or version, a short or missing section, a CRC that does not match, or no END,
with one line (`SnapshotFormatError`): a snapshot is either whole or refused.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

MAGIC = b"HVSNAP\r\n"
VERSION = 1
HEADER = struct.Struct("<8sII")
SECTION = struct.Struct("<4sIQ")
PAGE_SIZE = 4096
_REGION = struct.Struct("<QQ")
_PAGE_INDEX = struct.Struct("<I")
_ZERO_PAGE = bytes(PAGE_SIZE)

META, CPUS, MEMR, XSTR, END = b"META", b"CPUS", b"MEMR", b"XSTR", b"END "
KNOWN = (META, CPUS, MEMR, XSTR, END)
MAX_SECTION = 1 << 36          # far more than any domain's RAM: a bigger length is damage


class SnapshotFormatError(Exception):
    """The file is not a snapshot this version can read (one line for the user)."""


@dataclass
class MemoryImage:
    """One region of a domain's physical memory: its non-zero pages by page index."""
    paddr: int
    size: int
    pages: dict[int, bytes]

    @classmethod
    def of(cls, paddr: int, view) -> "MemoryImage":
        """Copy the non-zero pages of `view` (a region's mapping)."""
        pages = {}
        for index in range(len(view) // PAGE_SIZE):
            page = bytes(view[index * PAGE_SIZE:(index + 1) * PAGE_SIZE])
            if page != _ZERO_PAGE:
                pages[index] = page
        return cls(paddr, len(view), pages)

    def write_into(self, view) -> None:
        """Make `view` (the same size) hold exactly this image: zero what is not saved."""
        if len(view) != self.size:
            raise SnapshotFormatError(f"memory region at {self.paddr:#x}: {len(view)} bytes,"
                                      f" the snapshot has {self.size}")
        for index in range(self.size // PAGE_SIZE):
            view[index * PAGE_SIZE:(index + 1) * PAGE_SIZE] = self.pages.get(index, _ZERO_PAGE)


def encode_memory(image: MemoryImage) -> bytes:
    z = zlib.compressobj(1)          # fast: pages are mostly code, tables and zeros
    chunks = [_REGION.pack(image.paddr, image.size)]
    for index in sorted(image.pages):
        chunks.append(z.compress(_PAGE_INDEX.pack(index) + image.pages[index]))
    chunks.append(z.flush())
    return b"".join(chunks)


def decode_memory(payload: bytes) -> MemoryImage:
    if len(payload) < _REGION.size:
        raise SnapshotFormatError("MEMR section too short")
    paddr, size = _REGION.unpack_from(payload)
    try:
        raw = zlib.decompress(payload[_REGION.size:])
    except zlib.error as err:
        raise SnapshotFormatError(f"MEMR section at {paddr:#x}: {err}") from None
    record = _PAGE_INDEX.size + PAGE_SIZE
    if len(raw) % record or size % PAGE_SIZE:
        raise SnapshotFormatError(f"MEMR section at {paddr:#x}: bad page records")
    pages = {}
    for at in range(0, len(raw), record):
        (index,) = _PAGE_INDEX.unpack_from(raw, at)
        if index >= size // PAGE_SIZE:
            raise SnapshotFormatError(f"MEMR section at {paddr:#x}: page {index} past its end")
        pages[index] = raw[at + _PAGE_INDEX.size:at + record]
    return MemoryImage(paddr, size, pages)


def pack_section(tag: bytes, payload: bytes) -> bytes:
    return SECTION.pack(tag, zlib.crc32(payload), len(payload)) + payload


def write_file(out: BinaryIO, packed: list[bytes]) -> None:
    """Header, sections already packed (`pack_section`), in order, then END. Parts of
    a file may be packed by different processes (the domain's, the host's)."""
    out.write(HEADER.pack(MAGIC, VERSION, 0))
    for part in packed:
        out.write(part)
    out.write(pack_section(END, b""))


def write_sections(out: BinaryIO, sections: list[tuple[bytes, bytes]]) -> None:
    write_file(out, [pack_section(tag, payload) for tag, payload in sections])


def read_sections(data: bytes, what: str = "snapshot") -> list[tuple[bytes, bytes]]:
    """The sections of a whole file (END excluded), or SnapshotFormatError."""
    return list(_sections(data, what))


def _sections(data: bytes, what: str) -> Iterator[tuple[bytes, bytes]]:
    if len(data) < HEADER.size or data[:len(MAGIC)] != MAGIC:
        raise SnapshotFormatError(f"{what}: not an hvcore snapshot (bad magic)")
    _magic, version, _flags = HEADER.unpack_from(data)
    if version != VERSION:
        raise SnapshotFormatError(f"{what}: snapshot format version {version};"
                                  f" this hvcore reads version {VERSION}")
    at = HEADER.size
    while True:
        if at + SECTION.size > len(data):
            raise SnapshotFormatError(f"{what}: truncated (no END section)")
        tag, crc, length = SECTION.unpack_from(data, at)
        at += SECTION.size
        name = tag.decode("ascii", "replace").strip()
        if tag not in KNOWN:
            raise SnapshotFormatError(f"{what}: unknown section {name!r} at offset {at - SECTION.size}")
        if length > MAX_SECTION or at + length > len(data):
            raise SnapshotFormatError(f"{what}: truncated ({name} section cut short)")
        payload = data[at:at + length]
        at += length
        if zlib.crc32(payload) != crc:
            raise SnapshotFormatError(f"{what}: {name} section is corrupted (CRC mismatch)")
        if tag == END:
            if at != len(data):
                raise SnapshotFormatError(f"{what}: {len(data) - at} stray bytes after END")
            return
        yield tag, payload
