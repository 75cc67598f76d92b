"""Multiboot (v1) kernels: the header, the image to load, the information structure.

A Multiboot kernel carries, in its first 8 KiB and 4-aligned, the header
{magic 0x1BADB002, flags, checksum} (the three sum to 0 mod 2^32). With flag bit 16 the
header gives the load addresses itself (header_addr, load_addr, load_end_addr,
bss_end_addr, entry_addr); otherwise the kernel is an ELF and its PT_LOAD segments are
loaded at their physical addresses and entered at its ELF entry. The loader leaves
EAX = 0x2BADB002 and EBX = the physical address of the multiboot information.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

HEADER_MAGIC = 0x1BADB002
BOOTLOADER_MAGIC = 0x2BADB002
SEARCH_BYTES = 8192
FLAG_ADDRESSES = 1 << 16
# multiboot_info.flags
INFO_MEMORY, INFO_CMDLINE, INFO_MODS, INFO_MMAP = 1 << 0, 1 << 2, 1 << 3, 1 << 6
E820_RAM = 1


class MultibootError(Exception):
    """Not a Multiboot kernel we can load (one line for the user)."""


@dataclass
class MultibootImage:
    entry: int
    segments: list[tuple[int, bytes, int]]      # (physical address, file bytes, memory size)


def find_header(data: bytes) -> tuple[int, int] | None:
    """(offset, flags) of the Multiboot header, or None."""
    for offset in range(0, min(len(data), SEARCH_BYTES) - 11, 4):
        magic, flags, checksum = struct.unpack_from("<III", data, offset)
        if magic == HEADER_MAGIC and (magic + flags + checksum) & 0xFFFFFFFF == 0:
            return offset, flags
    return None


def load_multiboot(path: str) -> MultibootImage:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise MultibootError(f"{path}: {err.strerror}")
    found = find_header(data)
    if found is None:
        raise MultibootError(f"{path}: no Multiboot header in its first {SEARCH_BYTES} bytes")
    offset, flags = found
    if flags & FLAG_ADDRESSES:
        return _from_addresses(path, data, offset)
    return _from_elf(path, data)


def _from_addresses(path: str, data: bytes, offset: int) -> MultibootImage:
    header_addr, load_addr, load_end, bss_end, entry = struct.unpack_from("<5I", data, offset + 12)
    start = offset - (header_addr - load_addr)
    end = len(data) if load_end == 0 else start + (load_end - load_addr)
    if start < 0 or end > len(data) or end < start:
        raise MultibootError(f"{path}: the Multiboot header's load addresses are inconsistent")
    size = max(end - start, (bss_end - load_addr) if bss_end else 0)
    return MultibootImage(entry, [(load_addr, data[start:end], size)])


def load_elf(path: str) -> MultibootImage:
    """Any ELF's PT_LOAD segments and entry (`hv run --entry32`: no header needed)."""
    try:
        with open(path, "rb") as f:
            return _from_elf(path, f.read())
    except OSError as err:
        raise MultibootError(f"{path}: {err.strerror}")


def _from_elf(path: str, data: bytes) -> MultibootImage:
    try:
        elf = ELFFile(io.BytesIO(data))
        segments = [(seg["p_paddr"], seg.data(), seg["p_memsz"]) for seg in elf.iter_segments()
                    if seg["p_type"] == "PT_LOAD" and seg["p_memsz"]]
        entry = elf.header["e_entry"]
    except (ELFError, struct.error, ValueError) as err:
        raise MultibootError(f"{path}: not a loadable ELF ({err})")
    if not segments:
        raise MultibootError(f"{path}: an ELF with nothing to load")
    return MultibootImage(entry, segments)


def info_structure(base: int, ram_bytes: int, cmdline: str,
                   module: tuple[int, int] | None = None) -> bytes:
    """The multiboot_info at `base`, with the command line, the module list (one module
    at most: [start, end) in guest memory) and the memory map after it, all within one
    page: RAM below 640 KiB and from 1 MiB up."""
    cmdline_at, mods_at, mmap_at = base + 128, base + 960, base + 1024
    regions = [(0, 0x9FC00), (0x100000, ram_bytes - 0x100000)]
    mmap = b"".join(struct.pack("<IQQI", 20, start, length, E820_RAM) for start, length in regions)
    flags = INFO_MEMORY | INFO_CMDLINE | INFO_MMAP | (INFO_MODS if module else 0)
    info = struct.pack("<IIIIIIII", flags, 639, (ram_bytes - 0x100000) // 1024, 0, cmdline_at,
                       1 if module else 0, mods_at if module else 0, 0)
    info += bytes(44 - len(info)) + struct.pack("<II", len(mmap), mmap_at)
    text = cmdline.encode()[:800] + b"\0"
    mods = struct.pack("<IIII", module[0], module[1], cmdline_at, 0) if module else b""
    return ((info.ljust(128, b"\0") + text).ljust(960, b"\0") + mods).ljust(1024, b"\0") + mmap
