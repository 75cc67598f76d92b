"""The C instruction/block trace hook (hvcore/native/trace.c), seen from Python.

One `CodeTrace` per traced kind and domain: its hook is added to every vCPU's engine
(the vCPUs of a domain run in turn on one thread, so they can share the buffers), for
the address ranges asked for. `drain()` after each run of an engine takes the ids
recorded and the addresses seen for the first time.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

from unicorn import UC_HOOK_BLOCK, UC_HOOK_CODE

IDS_CAPACITY = 1 << 20          # ids per run before the hook stops the engine to drain
FRESH_CAPACITY = 1 << 16        # new addresses per run, likewise
ALL_ADDRESSES = [(1, 0)]        # unicorn: begin > end means every address
_HOOK_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                              ctypes.c_void_p)


class _HvTrace(ctypes.Structure):
    """struct hv_trace of trace.c (same field order and types)."""
    _fields_ = [("ids", ctypes.POINTER(ctypes.c_uint32)), ("n", ctypes.c_uint32),
                ("cap", ctypes.c_uint32), ("fresh_addr", ctypes.POINTER(ctypes.c_uint64)),
                ("fresh_size", ctypes.POINTER(ctypes.c_uint32)), ("nfresh", ctypes.c_uint32),
                ("fresh_cap", ctypes.c_uint32), ("next_id", ctypes.c_uint32),
                ("stopped", ctypes.c_uint32), ("keys", ctypes.c_void_p),
                ("vals", ctypes.c_void_p), ("mask", ctypes.c_uint32), ("used", ctypes.c_uint32)]


@dataclass
class Drained:
    ids: bytes                              # little-endian u32 ids, in execution order
    fresh: list[tuple[int, int, int]]       # (id, address, size) seen for the first time
    stopped: bool                           # the hook stopped the engine (buffer full)


class CodeTrace:
    def __init__(self, block: bool, engines: list, ranges: list[tuple[int, int]] | None) -> None:
        from hvcore.native import trace_library
        self.lib = trace_library()
        self.ptr = self.lib.hv_trace_new(IDS_CAPACITY, FRESH_CAPACITY)
        if not self.ptr:
            raise MemoryError("trace buffers")
        self.t = _HvTrace.from_address(self.ptr)
        self.hook = _HOOK_TYPE(("hv_trace_hook", self.lib))
        kind = UC_HOOK_BLOCK if block else UC_HOOK_CODE
        spans = ALL_ADDRESSES if ranges is None else [(lo, hi - 1) for lo, hi in ranges]
        self.handles = [(engine, engine.add_native_hook(kind, self.hook, self.ptr, lo, hi))
                        for engine in engines for lo, hi in spans]

    def drain(self) -> Drained:
        t = self.t
        ids = ctypes.string_at(t.ids, t.n * 4) if t.n else b""
        first = t.next_id - t.nfresh
        fresh = [(first + i, t.fresh_addr[i], t.fresh_size[i]) for i in range(t.nfresh)]
        stopped = bool(t.stopped)
        t.n = t.nfresh = t.stopped = 0
        return Drained(ids, fresh, stopped)

    def close(self) -> None:
        for engine, handle in self.handles:
            engine.remove_native_hook(handle)
        self.handles = []
        self.lib.hv_trace_free(self.ptr)
        self.ptr = None
