"""Virtual disk names and their xenstore device numbers (xen-vbd-interface(7)).

    xvd<letters>[<part>]   d<disk>[p<part>]    Xen virtual disk
    sd<letters>[<part>]                        SCSI disk
    hd<letters>[<part>]                        IDE disk
    <number>                                   the xenstore value itself (legacy)

Disk letters count a=0 .. z=25, aa=26, ab=27 ... (xvdtq is disk 536).  A
partition number has no leading zero; none means the whole disk (partition 0).
The numbers written to xenstore are:

    202 << 8 | disk << 4 | part       xvd, disk and partition both up to 15
    1 << 28 | disk << 8 | part        xvd beyond that: disk < 2**20, part < 256
    8 << 8 | disk << 4 | part         sd, disks 0..15, partitions 0..15
    3 << 8 | disk << 6 | part         hd, disks 0..1, partitions 0..63
    22 << 8 | (disk - 2) << 6 | part  hd, disks 2..3, partitions 0..63

So xvda = 51712, xvdb = 51728, sda = 2048, hda = 768, hdc = 5632.
"""
from __future__ import annotations

import re

from .errors import SpecError

_LETTER_FORM = re.compile(r"(xvd|sd|hd)([a-z]+)([1-9][0-9]*)?")
_NUMBER_FORM = re.compile(r"d(0|[1-9][0-9]*)(?:p(0|[1-9][0-9]*))?")
_XENSTORE_FORM = re.compile(r"0[xX][0-9A-Fa-f]+|0[0-7]*|[1-9][0-9]*")

# kind -> (largest disk, largest partition)
_LIMITS = {"xvd": ((1 << 20) - 1, 255), "sd": (15, 15), "hd": (3, 63)}


def device_number(vdev: str) -> int:
    """The xenstore device number of a vdev name, or SpecError saying why not."""
    if _XENSTORE_FORM.fullmatch(vdev):
        return int(vdev, 0) if not _is_octal(vdev) else int(vdev, 8)
    kind, disk, partition = _split(vdev)
    max_disk, max_partition = _LIMITS[kind]
    if disk > max_disk:
        raise SpecError(f"vdev '{vdev}': {kind} disks go up to number {max_disk}, "
                        f"this is disk {disk}")
    if partition > max_partition:
        raise SpecError(f"vdev '{vdev}': {kind} partitions go up to {max_partition}")
    return _encode(kind, disk, partition)


def disk_index(letters: str) -> int:
    """'a' -> 0, 'z' -> 25, 'aa' -> 26: bijective base 26, counted from 0."""
    index = 0
    for letter in letters:
        index = index * 26 + (ord(letter) - ord("a") + 1)
    return index - 1


def _is_octal(text: str) -> bool:
    return len(text) > 1 and text[0] == "0" and text[1] not in "xX"


def _split(vdev: str) -> tuple[str, int, int]:
    """(kind, disk, partition) of a named vdev."""
    match = _LETTER_FORM.fullmatch(vdev)
    if match:
        return match[1], disk_index(match[2]), int(match[3] or 0)
    match = _NUMBER_FORM.fullmatch(vdev)
    if match:
        return "xvd", int(match[1]), int(match[2] or 0)
    raise SpecError(f"vdev '{vdev}' is not a disk name "
                    f"(expected xvdX, hdX or sdX, e.g. xvda, or d<N>p<N>)")


def _encode(kind: str, disk: int, partition: int) -> int:
    if kind == "xvd":
        if disk <= 15 and partition <= 15:
            return 202 << 8 | disk << 4 | partition
        return 1 << 28 | disk << 8 | partition
    if kind == "sd":
        return 8 << 8 | disk << 4 | partition
    if disk < 2:
        return 3 << 8 | disk << 6 | partition
    return 22 << 8 | (disk - 2) << 6 | partition
