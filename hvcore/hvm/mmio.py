"""Memory-mapped device pages whose reads cost no Python call.

A device register page (the LAPIC at FEE00000, the IOAPIC at FEC00000) is a page of
host memory mapped into the vCPU's engine. The device keeps what a read must return
current in that page, so a guest load is an ordinary memory access (the LAPIC ID read
on every per-CPU lookup of a teaching kernel never leaves the engine). Writes have side
effects: a UC_HOOK_MEM_WRITE on that page only calls the device with the offset and the
value *before* the store lands (the engine stores the value into the page afterwards,
so a register whose read-back differs from what was written is put right by the
device's `fixup` at the next exit). A register whose value moves with time (the LAPIC
timer's current count) gets a read hook on its own 4 bytes, which refreshes the page
before the load completes.
"""
from __future__ import annotations

import ctypes
import mmap
import struct
from dataclasses import dataclass, field
from typing import Callable

from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE

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

    def map_into(self, engine: eng.Engine,
                 on_write: Callable[[int, int, int], None],
                 on_read: tuple[int, Callable[[int], None]] | None = None) -> None:
        """Map the page at `base` in `engine`; `on_write(offset, size, value)` for every
        store to it; `on_read = (offset, fn)`: `fn(offset)` before loads of that dword."""
        engine.map_host_memory(self.base, PAGE, self.host_addr)
        base = self.base

        def write_hook(_access: int, address: int, size: int, value: int) -> None:
            on_write(address - base, size, value & 0xFFFFFFFF)
        engine.uc.hook_add(UC_HOOK_MEM_WRITE, engine._guarded(write_hook), None,
                           base, base + PAGE - 1)
        if on_read is not None:
            offset, fn = on_read

            def read_hook(_access: int, address: int, _size: int, _value: int) -> None:
                fn(address - base)
            engine.uc.hook_add(UC_HOOK_MEM_READ, engine._guarded(read_hook), None,
                               base + offset, base + offset + 3)
        engine.flush_tlb()
