"""Loads and stores of words that another process (or the guest) reads at the same time.

Ring indexes, inbox heads and grant flags live in shared memory and are read by a
process that never takes a lock with us, so every store must be one aligned machine
store. `struct.pack_into` is not: CPython zero-fills the target before packing into
it, so a reader can catch the word at 0 between the two stores (seen as lost and
repeated inbox entries). A store through a memoryview cast is a single memcpy of the
native type, i.e. one `mov`; loads through `struct.unpack_from` with a native format
are one load as well. x86 keeps stores in program order and loads in program order,
so "write the data, then the index" needs no fence here.
"""
from __future__ import annotations

import struct

_LOAD32 = struct.Struct("@I").unpack_from
_LOAD64 = struct.Struct("@Q").unpack_from


def load_u32(buf, offset: int) -> int:
    return _LOAD32(buf, offset)[0]


def load_u64(buf, offset: int) -> int:
    return _LOAD64(buf, offset)[0]


def store_u32(buf, offset: int, value: int) -> None:
    with memoryview(buf) as view:
        with view[offset:offset + 4] as word, word.cast("I") as cell:
            cell[0] = value & 0xFFFFFFFF


def store_u64(buf, offset: int, value: int) -> None:
    with memoryview(buf) as view:
        with view[offset:offset + 8] as word, word.cast("Q") as cell:
            cell[0] = value & 0xFFFFFFFFFFFFFFFF
