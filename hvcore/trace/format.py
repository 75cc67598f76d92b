"""The trace file format, version 1 (described in docs/trace-format.md).

A file is a header, then records appended as they come. Every record starts with the
same 16-byte header; payloads are little-endian and fixed-size except where noted.
"""
from __future__ import annotations

import json
import struct

MAGIC = b"HVTRACE\0"
VERSION = 1
# magic, version, flags, length of the JSON that follows
FILE_HEADER = struct.Struct("<8sHHI")
# kind, vcpu, domid, payload length, time (CLOCK_MONOTONIC nanoseconds)
RECORD_HEADER = struct.Struct("<BBHIQ")

DOMAIN, END, CODE, INSN, BLOCK_CODE, BLOCK = 1, 2, 3, 4, 5, 6
HYPERCALL, TRAP, EVTCHN, IO, MMU, SCHED = 7, 8, 9, 10, 11, 12
KIND_NAMES = {DOMAIN: "domain", END: "end", CODE: "code", INSN: "insn",
              BLOCK_CODE: "block_code", BLOCK: "block", HYPERCALL: "hypercall",
              TRAP: "trap", EVTCHN: "evtchn", IO: "io", MMU: "mmu", SCHED: "sched"}

# Fixed payloads (variable ones: DOMAIN/END JSON, CODE/BLOCK_CODE text, INSN/BLOCK ids).
CODE_FIXED = struct.Struct("<IQB")           # id, address, length of the bytes that follow
BLOCK_CODE_FIXED = struct.Struct("<IQI")     # id, address, block size; then symbol text
HYPERCALL_BODY = struct.Struct("<IIq5Q")     # nr, duration ns, result, 5 arguments
TRAP_BODY = struct.Struct("<BxHIQQ")         # exit kind, vector, duration ns, rip, address
EVTCHN_BODY = struct.Struct("<BBxxI")        # op, vcpu notified, port
IO_BODY = struct.Struct("<BBHI")             # direction, size, port, value
MMU_BODY = struct.Struct("<BxxxiQQ")         # op, result, a, b (see MMU_OPS)
SCHED_BODY = struct.Struct("<BxxxI")         # op, duration ns (runs)

# Whole records with a fixed payload: header and body packed in one call.
def _record(body: struct.Struct) -> struct.Struct:
    return struct.Struct(RECORD_HEADER.format + body.format[1:])


HYPERCALL_RECORD = _record(HYPERCALL_BODY)
TRAP_RECORD = _record(TRAP_BODY)
EVTCHN_RECORD = _record(EVTCHN_BODY)
IO_RECORD = _record(IO_BODY)
MMU_RECORD = _record(MMU_BODY)
SCHED_RECORD = _record(SCHED_BODY)

# A record split where a run loop's records differ: what stays the same for a vCPU
# (kind, vcpu, domid, payload length), packed once, and the rest from the time on.
RECORD_PREFIX = struct.Struct("<BBHI")
HYPERCALL_TAIL = struct.Struct("<Q" + HYPERCALL_BODY.format[1:])

TRAP_KINDS = {1: "syscall", 2: "exception", 3: "invalid", 4: "io_denied", 5: "unmapped",
              6: "other", 7: "interrupt", 8: "msr", 9: "int"}
# HVM only: 7 an external interrupt or NMI delivered, 8 an rdmsr/wrmsr served (address:
# the MSR), 9 a software `int N` (real-mode BIOS calls are `int`s below 32: not exceptions)
TRAP_INTERRUPT, TRAP_MSR, TRAP_SOFTWARE_INT = 7, 8, 9
EVTCHN_OPS = {1: "pending", 2: "upcall"}
IO_DIRECTIONS = {0: "in", 1: "out"}
MMU_OPS = {1: "mmu_update", 2: "update_va_mapping", 3: "mmuext_op"}
SCHED_OPS = {1: "run", 2: "block", 3: "wake"}
SCHED_RUN, SCHED_BLOCK, SCHED_WAKE = 1, 2, 3
EVTCHN_PENDING, EVTCHN_UPCALL = 1, 2
MAX_DURATION_NS = 0xFFFFFFFF    # durations saturate at ~4.29 s


class FormatError(Exception):
    """Not a trace file, or a version this reader does not know."""


def file_header(meta: dict) -> bytes:
    text = json.dumps(meta, sort_keys=True).encode()
    return FILE_HEADER.pack(MAGIC, VERSION, 0, len(text)) + text


def parse_file_header(data: bytes) -> tuple[dict, int]:
    """(metadata, offset of the first record) from the start of a file."""
    if data[:len(MAGIC)] != MAGIC[:len(data)] or not data:
        raise FormatError("not an hvcore trace file (bad magic)")
    if len(data) < FILE_HEADER.size:
        raise FormatError("too short for a trace file header")
    _magic, version, _flags, length = FILE_HEADER.unpack_from(data)
    if version != VERSION:
        raise FormatError(f"trace format version {version} (this reader knows {VERSION})")
    end = FILE_HEADER.size + length
    if len(data) < end:
        raise FormatError("truncated trace file header")
    try:
        return json.loads(data[FILE_HEADER.size:end]), end
    except ValueError:
        raise FormatError("bad trace file header (JSON)") from None


def json_record(kind: int, domid: int, t_ns: int, value: dict) -> bytes:
    payload = json.dumps(value, sort_keys=True).encode()
    return RECORD_HEADER.pack(kind, 0, domid, len(payload), t_ns) + payload


def ids_record(kind: int, vcpu: int, domid: int, t_ns: int, ids: bytes) -> bytes:
    return RECORD_HEADER.pack(kind, vcpu, domid, len(ids), t_ns) + ids


def code_record(domid: int, t_ns: int, code_id: int, address: int, data: bytes,
                text: str, symbol: str) -> bytes:
    payload = CODE_FIXED.pack(code_id, address, len(data)) + data \
        + f"{text}\0{symbol}".encode()
    return RECORD_HEADER.pack(CODE, 0, domid, len(payload), t_ns) + payload


def block_code_record(domid: int, t_ns: int, code_id: int, address: int, size: int,
                      symbol: str) -> bytes:
    payload = BLOCK_CODE_FIXED.pack(code_id, address, size) + symbol.encode()
    return RECORD_HEADER.pack(BLOCK_CODE, 0, domid, len(payload), t_ns) + payload
