"""Lab 3 autograder: the given driver (given/main.c) with the student's blkio.c, booted
from a config with a disk image the grader writes (served by our blkback); the image is
checked afterwards."""
from __future__ import annotations

import zlib

from labs.grading import Check, Fail, Work

FILES = ["main.c", "blkio.c"]
LABEL = b"HVCORE-LAB3-DISK"
SECTOR = 512


def _label_page() -> bytes:
    return (LABEL + bytes(range(256)) * 16)[:4096]


def _checksum(data: bytes) -> int:
    value = 0
    for byte in data:
        value = (value * 31 + byte) & 0xFFFFFFFF
    return value


def _run(work: Work, abi: str) -> dict:
    if abi not in work.results:
        elf = work.build("blk", FILES, abi)
        folder = elf.parent
        image = folder / "disk.img"
        image.write_bytes(_label_page() + bytes(1 << 20))
        cfg = folder / "blk.cfg"
        cfg.write_text(f'name = "lab3"\nkernel = "{elf}"\nmemory = 32\n'
                       f'disk = [ "{image},raw,xvda,rw" ]\non_crash = "destroy"\n')
        result = work.hv_run(cfg, "--no-progress", "10", timeout=40)
        result["image"] = image.read_bytes()
        work.results[abi] = result
    return work.results[abi]


def _line(text: str, abi: str = "pv64"):
    def run(work: Work) -> None:
        tail = _run(work, abi)["console_tail"]
        if text not in tail:
            failed = [l for l in tail.splitlines() if "FAIL" in l]
            raise Fail(failed[0] if failed else f"no {text!r} on the console ({abi})")
    return run


def _image_written(work: Work) -> None:
    data = _run(work, "pv64")["image"]
    wanted = bytes((i * 13 + 5) & 0xFF for i in range(4096))
    if data[8 * SECTOR:16 * SECTOR] != wanted:
        raise Fail("sectors 8-15 of the disk image do not hold the pattern")
    if data[:4096] != _label_page():
        raise Fail("sectors 0-7 of the disk image changed (a read must not write)")


def _refused_past_end(work: Work) -> None:
    _line("blk: read back OK")(work)            # an error from a frontend that never works
    _line("blk: past the end refused OK")(work)  # would prove nothing


def _builds(work: Work) -> None:
    work.build("blk", FILES, "pv64")


def _passes_32(work: Work) -> None:
    _line("blk: PASS", "pv32")(work)


CHECKS = [
    Check("builds", 10, _builds),
    Check("reads sector 0 (label and checksum)", 25,
          _line(f'read label "{LABEL.decode()}" checksum {_checksum(_label_page()):08x}')),
    Check("write completes", 15, _line("blk: write done")),
    Check("the image holds what was written", 20, _image_written),
    Check("read back matches", 10, _line("blk: read back OK")),
    Check("a request past the end gets an error", 10, _refused_past_end),
    Check("all of it on a 32-bit guest", 10, _passes_32),
]
