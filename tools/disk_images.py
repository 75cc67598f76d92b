"""Real disk image files (tests, demo, benchmarks): an MBR partition table and an ext2 filesystem
made by mke2fs (e2fsprogs) from a folder, no mounting needed."""
from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

SECTOR = 512
FIRST_SECTOR = 2048          # where partitioning tools put the first partition (1 MiB)
LINUX_PARTITION = 0x83


def mke2fs() -> str:
    tool = shutil.which("mke2fs") or "/sbin/mke2fs"
    assert Path(tool).exists(), "mke2fs (e2fsprogs) is needed; tools/setup.sh installs it"
    return tool


def ext2_disk(path: Path, files: dict[str, str], fs_mib: int = 4) -> Path:
    """A disk with one Linux partition holding an ext2 filesystem with `files`
    ({"boot/grub/grub.cfg": text, ...})."""
    tree = path.with_suffix(".tree")
    for name, text in files.items():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    fs = path.with_suffix(".fs")
    subprocess.run([mke2fs(), "-q", "-F", "-t", "ext2", "-d", str(tree), str(fs), f"{fs_mib}M"],
                   check=True)
    data = fs.read_bytes()
    mbr = bytearray(SECTOR)
    # status, CHS first (unused: LBA only), type, CHS last, first LBA, sectors
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\xff" * 3, LINUX_PARTITION, b"\xff" * 3,
                               FIRST_SECTOR, len(data) // SECTOR)
    mbr[510:512] = b"\x55\xaa"
    path.write_bytes(bytes(mbr) + bytes((FIRST_SECTOR - 1) * SECTOR) + data)
    fs.unlink()
    return path
