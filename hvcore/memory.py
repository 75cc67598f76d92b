"""Guest RAM and hypervisor-private frames: memfd-backed, shared, zero-copy.

A `MemoryRegion` is one memfd mapped MAP_SHARED into this process. The engine maps the
same host pages with `mem_map_ptr`, so a write through either side is seen by the
other at once, and another process can map the memfd to reach the same frames.
"""
from __future__ import annotations

import ctypes
import mmap
import os
from dataclasses import dataclass

from typing import Callable

from .shared_word import load_u32, load_u64, store_u32, store_u64

# guest virtual/linear address, whether for a write -> physical address
Translate = Callable[[int, bool], int]

PAGE_SIZE = 4096
PAGE_SHIFT = 12



class MemoryRegion:
    """`size` bytes of shared memory that appear at guest-physical `paddr`."""

    def __init__(self, name: str, paddr: int, size: int) -> None:
        self.paddr = paddr
        self.size = size
        self.fd = os.memfd_create(name, os.MFD_CLOEXEC)
        os.ftruncate(self.fd, size)
        self.map = mmap.mmap(self.fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.view = memoryview(self.map)
        self.host_addr = ctypes.addressof(ctypes.c_char.from_buffer(self.map))

    def contains(self, paddr: int, length: int = 1) -> bool:
        return self.paddr <= paddr and paddr + length <= self.paddr + self.size

    def close(self) -> None:
        self.view.release()
        try:
            self.map.close()
        except BufferError:
            pass   # a ctypes structure still looks at it; the fd close below frees the file
        os.close(self.fd)


class PhysicalMemory:
    """The guest-physical address space of one domain: RAM plus hypervisor frames."""

    def __init__(self) -> None:
        self.regions: list[MemoryRegion] = []

    def add(self, region: MemoryRegion) -> MemoryRegion:
        self.regions.append(region)
        return region

    def remove(self, region) -> None:
        self.regions.remove(region)
        region.close()

    def region_of(self, paddr: int, length: int = 1) -> MemoryRegion:
        for region in self.regions:
            if region.contains(paddr, length):
                return region
        raise BadAddress(paddr)

    def read(self, paddr: int, length: int) -> bytes:
        region = self.region_of(paddr, length)
        off = paddr - region.paddr
        return bytes(region.view[off:off + length])

    def write(self, paddr: int, data: bytes) -> None:
        region = self.region_of(paddr, len(data))
        off = paddr - region.paddr
        region.view[off:off + len(data)] = data

    def read_u64(self, paddr: int) -> int:
        region = self.region_of(paddr, 8)
        return load_u64(region.map, paddr - region.paddr)

    def write_u64(self, paddr: int, value: int) -> None:
        region = self.region_of(paddr, 8)
        store_u64(region.map, paddr - region.paddr, value)

    def read_u32(self, paddr: int) -> int:
        region = self.region_of(paddr, 4)
        return load_u32(region.map, paddr - region.paddr)

    def write_u32(self, paddr: int, value: int) -> None:
        region = self.region_of(paddr, 4)
        store_u32(region.map, paddr - region.paddr, value)

    def read_paged(self, translate: "Translate", va: int, length: int) -> bytes:
        """`length` bytes at a guest virtual (or linear) address, page by page through
        `translate(va, write)` -> physical address (it raises for an unmapped page)."""
        out = bytearray()
        while length > 0:
            chunk = min(length, 4096 - (va & 0xFFF))
            out += self.read(translate(va, False), chunk)
            va, length = va + chunk, length - chunk
        return bytes(out)

    def write_paged(self, translate: "Translate", va: int, data: bytes) -> None:
        """`data` at a guest virtual (or linear) address, as `read_paged`."""
        pos = 0
        while pos < len(data):
            chunk = min(len(data) - pos, 4096 - (va & 0xFFF))
            self.write(translate(va, True), data[pos:pos + chunk])
            va, pos = va + chunk, pos + chunk

    def zero(self, paddr: int, length: int) -> None:
        self.write(paddr, bytes(length))

    def struct_at(self, cls, paddr: int):
        """A ctypes structure living in guest memory (no copy)."""
        region = self.region_of(paddr, ctypes.sizeof(cls))
        return cls.from_buffer(region.map, paddr - region.paddr)

    def close(self) -> None:
        for region in self.regions:
            region.close()
        self.regions.clear()


@dataclass
class BadAddress(Exception):
    """A guest-physical address with no memory behind it."""
    paddr: int

    def __str__(self) -> str:
        return f"no memory at physical address {self.paddr:#x}"


class FrameAllocator:
    """Hands out zeroed frames of a hypervisor-private region, in order."""

    def __init__(self, mem: PhysicalMemory, region: MemoryRegion) -> None:
        self.mem = mem
        self.region = region
        self.next = region.paddr

    def alloc(self, pages: int = 1) -> int:
        paddr = self.next
        if paddr + pages * PAGE_SIZE > self.region.paddr + self.region.size:
            raise MemoryError("hypervisor frame pool exhausted")
        self.next += pages * PAGE_SIZE
        self.mem.zero(paddr, pages * PAGE_SIZE)
        return paddr


class ForeignRegion:
    """A page of another domain's memory (its memfd, mapped here) that appears at machine
    address `paddr` in this domain: a grant mapping. No copy; `close` drops the view."""

    def __init__(self, paddr: int, source: mmap.mmap, source_addr: int, offset: int,
                 size: int = PAGE_SIZE) -> None:
        self.paddr = paddr
        self.size = size
        self.map = memoryview(source)[offset:offset + size]
        self.view = self.map
        self.host_addr = source_addr + offset

    def contains(self, paddr: int, length: int = 1) -> bool:
        return self.paddr <= paddr and paddr + length <= self.paddr + self.size

    def close(self) -> None:
        self.map.release()
