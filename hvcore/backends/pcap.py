"""Classic libpcap capture files (what tcpdump -w writes): link type Ethernet.

    global header  magic 0xa1b2c3d4, version 2.4, thiszone 0, sigfigs 0, snaplen, linktype
    per frame      ts_sec, ts_usec, incl_len, orig_len, then incl_len bytes
All fields in the writer's byte order (little endian here); readers tell the order
from the magic. `read_pcap` reads such a file back (the tests check captures with it).
"""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
SNAPLEN = 65535
_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")


class PcapError(Exception):
    """Not a classic pcap file, or a truncated one."""


@dataclass(frozen=True)
class PcapRecord:
    seconds: float
    data: bytes
    orig_len: int


class PcapWriter:
    def __init__(self, path: Path) -> None:
        self.file: BinaryIO = open(path, "wb")
        self.file.write(_GLOBAL.pack(PCAP_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        self.file.flush()
        self.frames = 0

    def write(self, frame: bytes | memoryview, when: float | None = None) -> None:
        when = time.time() if when is None else when
        sec = int(when)
        data = bytes(frame[:SNAPLEN])
        self.file.write(_RECORD.pack(sec, int((when - sec) * 1e6), len(data), len(frame)))
        self.file.write(data)
        self.frames += 1

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def read_pcap(path: Path) -> tuple[int, list[PcapRecord]]:
    """(linktype, records) of a classic pcap file in either byte order."""
    raw = Path(path).read_bytes()
    if len(raw) < _GLOBAL.size:
        raise PcapError(f"{path}: {len(raw)} bytes, shorter than a pcap header")
    order = {PCAP_MAGIC: "<", 0xD4C3B2A1: ">"}.get(struct.unpack_from("<I", raw)[0])
    if order is None:
        raise PcapError(f"{path}: not a classic pcap file (magic {raw[:4].hex()})")
    header, record = struct.Struct(order + "IHHiIII"), struct.Struct(order + "IIII")
    _magic, major, minor, _zone, _sig, _snap, linktype = header.unpack_from(raw)
    if (major, minor) != (2, 4):
        raise PcapError(f"{path}: pcap version {major}.{minor}")
    records, at = [], header.size
    while at < len(raw):
        if at + record.size > len(raw):
            raise PcapError(f"{path}: truncated record header at byte {at}")
        sec, usec, incl, orig = record.unpack_from(raw, at)
        at += record.size
        if at + incl > len(raw):
            raise PcapError(f"{path}: truncated frame at byte {at}")
        records.append(PcapRecord(sec + usec / 1e6, raw[at:at + incl], orig))
        at += incl
    return linktype, records
