"""The gdb remote protocol's framing: $data#cs packets, acks, escapes, Ctrl-C."""
from __future__ import annotations

from dataclasses import dataclass, field

INTERRUPT = b"\x03"
_ESCAPED = b"#$}*"


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def frame(data: bytes) -> bytes:
    """One packet, binary-safe: '#', '$', '}' and '*' are escaped with '}' and ^0x20."""
    out = bytearray()
    for b in data:
        if b in _ESCAPED:
            out += bytes([0x7D, b ^ 0x20])
        else:
            out.append(b)
    return b"$" + bytes(out) + b"#%02x" % checksum(bytes(out))


def unescape(data: bytes) -> bytes:
    """The body of a packet as sent (X packets carry escaped binary)."""
    out = bytearray()
    it = iter(data)
    for b in it:
        out.append(next(it) ^ 0x20 if b == 0x7D else b)
    return bytes(out)


@dataclass
class Reader:
    """Turns the byte stream from gdb into events: ('packet', body), ('interrupt', b''),
    ('ack', b'+'/b'-'). A packet with a bad checksum is answered '-' by the caller."""
    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        self.buffer += data
        events: list[tuple[str, bytes]] = []
        while self.buffer:
            head = self.buffer[0:1]
            if head == INTERRUPT:
                events.append(("interrupt", b""))
                del self.buffer[0]
            elif head in (b"+", b"-"):
                events.append(("ack", bytes(head)))
                del self.buffer[0]
            elif head == b"$":
                end = self.buffer.find(b"#")
                if end < 0 or len(self.buffer) < end + 3:
                    break                       # the rest has not arrived yet
                body = bytes(self.buffer[1:end])
                sent = bytes(self.buffer[end + 1:end + 3])
                del self.buffer[:end + 3]
                ok = sent.lower() == b"%02x" % checksum(body)
                events.append(("packet" if ok else "bad", body))
            else:
                del self.buffer[0]              # noise between packets
        return events
