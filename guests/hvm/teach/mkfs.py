"""Make the teaching kernel's file system image: sector 0 holds "HVFS" and, from byte
32, up to 15 directory entries {char name[20]; u32 lba, size, pad}; each file follows
from its sector, padded to whole sectors.

    python3 mkfs.py OUT FILE...      (a file's name is its base name, without .bin)
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

SECTOR, ENTRIES, NAME_MAX = 512, 15, 20


def build(paths: list[Path]) -> bytes:
    if len(paths) > ENTRIES:
        raise SystemExit(f"mkfs: {len(paths)} files, at most {ENTRIES}")
    directory = bytearray(SECTOR)
    directory[:4] = b"HVFS"
    data, lba = bytearray(), 1
    for index, path in enumerate(paths):
        name = path.name.removesuffix(".bin").encode()
        if len(name) >= NAME_MAX:
            raise SystemExit(f"mkfs: {path.name}: name longer than {NAME_MAX - 1}")
        body = path.read_bytes()
        struct.pack_into("<20sIII", directory, 32 + 32 * index, name, lba, len(body), 0)
        padded = body + bytes(-len(body) % SECTOR)
        data += padded
        lba += len(padded) // SECTOR
    return bytes(directory + data)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit("usage: mkfs.py OUT FILE...")
    Path(sys.argv[1]).write_bytes(build([Path(p) for p in sys.argv[2:]]))
