"""Reading a trace file back: records as `Event`s, instruction ids resolved to their
code (address, bytes, disassembly, symbol).

A file that is still being written, or whose writer died, ends with at most one cut
record: it is left out and `TraceFile.truncated` says so.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Iterator

from hvcore.trace import format as fmt


@dataclass
class Code:
    address: int
    size: int
    data: bytes = b""
    text: str = ""
    symbol: str = ""


@dataclass
class Event:
    kind: int
    domid: int
    vcpu: int
    t_ns: int
    fields: tuple = ()
    code: Code | None = None           # insn and block events
    info: dict = field(default_factory=dict)   # domain and end records

    @property
    def kind_name(self) -> str:
        return fmt.KIND_NAMES.get(self.kind, f"#{self.kind}")


_BODIES = {fmt.HYPERCALL: fmt.HYPERCALL_BODY, fmt.TRAP: fmt.TRAP_BODY,
           fmt.EVTCHN: fmt.EVTCHN_BODY, fmt.IO: fmt.IO_BODY, fmt.MMU: fmt.MMU_BODY,
           fmt.SCHED: fmt.SCHED_BODY}


class TraceFile:
    """`TraceFile(path)` reads the header (raises OSError or FormatError);
    iterating gives the events in file order."""

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            self.data = f.read()
        self.meta, self.start = fmt.parse_file_header(self.data)
        self.truncated = False
        self.domains: dict[int, dict] = {}
        self.code: dict[tuple[int, int, int], Code] = {}   # (domid, kind, id) -> code

    def records(self) -> Iterator[tuple[int, int, int, int, int, memoryview]]:
        """(offset, kind, vcpu, domid, time, payload) of every whole record."""
        data, at, header = memoryview(self.data), self.start, fmt.RECORD_HEADER
        while at + header.size <= len(data):
            kind, vcpu, domid, length, t_ns = header.unpack_from(data, at)
            end = at + header.size + length
            if end > len(data):
                break
            yield at, kind, vcpu, domid, t_ns, data[at + header.size:end]
            at = end
        self.truncated = at != len(data)

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    def events(self, each_insn: bool = True) -> Iterator[Event]:
        """Events in file order; a record that does not decode raises FormatError.
        Without `each_insn`, an insn or block record is one event whose fields are
        (how many it holds,), for readers that only count them."""
        for at, kind, vcpu, domid, t_ns, payload in self.records():
            try:
                if not each_insn and kind in (fmt.INSN, fmt.BLOCK):
                    if len(payload) % 4:
                        raise ValueError("not a whole number of 4-byte ids")
                    yield Event(kind, domid, vcpu, t_ns, (len(payload) // 4,))
                    continue
                yield from self._events(kind, vcpu, domid, t_ns, payload)
            except (ValueError, struct.error, TypeError) as err:
                name = fmt.KIND_NAMES.get(kind, f"kind {kind}")
                raise fmt.FormatError(f"bad {name} record at byte {at}: {err}") from None

    def _events(self, kind: int, vcpu: int, domid: int, t_ns: int,
                payload: memoryview) -> Iterator[Event]:
        body = _BODIES.get(kind)
        if body is not None:
            yield Event(kind, domid, vcpu, t_ns, body.unpack(payload))
        elif kind in (fmt.INSN, fmt.BLOCK):
            table_kind = fmt.CODE if kind == fmt.INSN else fmt.BLOCK_CODE
            for code_id in payload.cast("I"):
                yield Event(kind, domid, vcpu, t_ns, (code_id,),
                            code=self.code.get((domid, table_kind, code_id)))
        elif kind in (fmt.CODE, fmt.BLOCK_CODE):
            self._learn_code(kind, domid, payload)
        elif kind in (fmt.DOMAIN, fmt.END):
            info = json.loads(bytes(payload))
            if kind == fmt.DOMAIN:
                self.domains[domid] = info
            yield Event(kind, domid, vcpu, t_ns, info=info)

    def _learn_code(self, kind: int, domid: int, payload: memoryview) -> None:
        if kind == fmt.CODE:
            code_id, address, nbytes = fmt.CODE_FIXED.unpack_from(payload)
            at = fmt.CODE_FIXED.size
            text, _, symbol = bytes(payload[at + nbytes:]).decode(errors="replace").partition("\0")
            self.code[(domid, kind, code_id)] = Code(address, nbytes, bytes(payload[at:at + nbytes]),
                                                     text, symbol)
        else:
            code_id, address, size = fmt.BLOCK_CODE_FIXED.unpack_from(payload)
            symbol = bytes(payload[fmt.BLOCK_CODE_FIXED.size:]).decode(errors="replace")
            self.code[(domid, kind, code_id)] = Code(address, size, symbol=symbol)
