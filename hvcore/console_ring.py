"""The PV console ring (io/console.h, struct xencons_interface) as the backend sees it:
in[1024] @0, out[2048] @1024, in_cons @3072, in_prod @3076, out_cons @3080, out_prod @3084.
Works on any writable buffer holding the page (a view of the guest's memfd)."""
from __future__ import annotations

from .shared_word import load_u32, store_u32

IN, OUT = 0, 1024
IN_SIZE, OUT_SIZE = 1024, 2048
IN_CONS, IN_PROD, OUT_CONS, OUT_PROD = 3072, 3076, 3080, 3084


def take_output(buf, base: int) -> bytes:
    """What the guest wrote since last time; frees that room in the ring."""
    cons = load_u32(buf, base + OUT_CONS)
    prod = load_u32(buf, base + OUT_PROD)
    count = (prod - cons) & 0xFFFFFFFF
    if count == 0 or count > OUT_SIZE:
        return b""                   # empty, or indexes the guest broke: take nothing
    data = bytes(buf[base + OUT + ((cons + i) & (OUT_SIZE - 1))] for i in range(count))
    store_u32(buf, base + OUT_CONS, prod)
    return data


def put_input(buf, base: int, data: bytes) -> int:
    """Give the guest input; returns how many bytes fitted (the caller notifies)."""
    cons = load_u32(buf, base + IN_CONS)
    prod = load_u32(buf, base + IN_PROD)
    taken = data[:max(0, IN_SIZE - ((prod - cons) & 0xFFFFFFFF))]
    for i, byte in enumerate(taken):
        buf[base + IN + ((prod + i) & (IN_SIZE - 1))] = byte
    if taken:   # the bytes first, then the index: the guest never sees one without the other
        store_u32(buf, base + IN_PROD, prod + len(taken))
    return len(taken)
