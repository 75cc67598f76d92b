"""Memory-mapped device pages whose reads cost no Python call.

A device register page (the LAPIC at FEE00000, the IOAPIC at FEC00000) is a page of
host memory mapped into the vCPU's engine. The device keeps what a read must return
current in that page, so a guest load is an ordinary memory access (the LAPIC ID read
on every per-CPU lookup of a teaching kernel never leaves the engine).

Writes have side effects. The page is mapped read-only for the engine and a
UC_HOOK_MEM_WRITE_PROT hook calls the device with the offset and the value *before* the
store lands (the engine then stores the value into the page anyway, so a register whose
read-back differs from what was written is put right by the device's `fixup` at the
next exit). A ranged UC_HOOK_MEM_WRITE or UC_HOOK_MEM_READ hook would do as well, but
the engine then checks hooks on every load and store of the guest, wherever it points:
a compute loop with one memory access per dozen instructions runs ~30% slower.

A register whose value moves with time (the LAPIC timer's current count) needs a read
hook on its own 4 bytes, which refreshes the page before the load completes. It is
installed only while the value moves (a `ReadWatch` the device turns on and off), and
changed between runs of the engine (the device asks for a stop at the next block).
"""
from __future__ import annotations

import ctypes
import mmap
import struct
from dataclasses import dataclass, field
from typing import Callable

from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE_PROT

from hvcore import engine as eng

PAGE = 0x1000
_U32 = struct.Struct("<I")


@dataclass
class MmioPage:
    """One page of device registers in host memory, mappable into several engines."""
    base: int
    buffer: mmap.mmap = field(default_factory=lambda: mmap.mmap(-1, PAGE))

    def __post_init__(self) -> None:
        self.host_addr = ctypes.addressof((ctypes.c_char * PAGE).from_buffer(self.buffer))

    def read32(self, offset: int) -> int:
        return _U32.unpack_from(self.buffer, offset)[0]

    def write32(self, offset: int, value: int) -> None:
        _U32.pack_into(self.buffer, offset, value & 0xFFFFFFFF)

    def map_into(self, engine: eng.Engine, on_write: Callable[[int, int, int], None],
                 on_read: tuple[int, Callable[[int], None]] | None = None) -> "ReadWatch | None":
        """Map the page at `base` in `engine`; `on_write(offset, size, value)` for every
        store to it; `on_read = (offset, fn)`: a watch (off at first) that, while on,
        calls `fn(offset)` before loads of that dword."""
        engine.map_host_memory(self.base, PAGE, self.host_addr, writable=False)
        base = self.base

        def write_hook(_access: int, address: int, size: int, value: int) -> bool:
            on_write(address - base, size, value & 0xFFFFFFFF)
            return True                 # handled: the engine goes on and stores it
        engine.uc.hook_add(UC_HOOK_MEM_WRITE_PROT, engine._guarded(write_hook, result=True),
                           None, base, base + PAGE - 1)
        engine.flush_tlb()
        if on_read is None:
            return None
        offset, fn = on_read
        return ReadWatch(engine, base + offset, lambda address: fn(address - base))


@dataclass
class ReadWatch:
    """A read hook on one dword, present only while wanted (see the module's note)."""
    engine: eng.Engine
    address: int
    fn: Callable[[int], None]
    wanted: bool = False
    handle: int | None = None

    def want(self, on: bool) -> None:
        """Called by the device, maybe from inside the engine: takes effect before the
        guest runs again (`sync`), the engine stopping at its next block."""
        self.wanted = on
        if on != (self.handle is not None):
            self.engine.kick()

    def sync(self) -> None:
        """Between runs: add or remove the hook as wanted."""
        if self.wanted and self.handle is None:
            def read_hook(_access: int, address: int, _size: int, _value: int) -> None:
                self.fn(address)
            self.handle = self.engine.uc.hook_add(
                UC_HOOK_MEM_READ, self.engine._guarded(read_hook), None,
                self.address, self.address + 3)
        elif not self.wanted and self.handle is not None:
            self.engine.uc.hook_del(self.handle)
            self.handle = None
