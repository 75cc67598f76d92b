"""PVH direct boot (Xen's PVH ABI, arch-x86/hvm/start_info.h): an ELF kernel with a
XEN_ELFNOTE_PHYS32_ENTRY note is loaded at its segments' physical addresses and entered
there in flat 32-bit protected mode, paging off, EBX = the physical address of an
hvm_start_info (version 1: modules, command line, RSDP, memory map)."""
from __future__ import annotations

import ctypes
import io
import struct
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from hvcore.public import hvm as H
from loaders.multiboot import MultibootError, load_elf

MODLIST_AT, MEMMAP_AT, CMDLINE_AT, INFO_SIZE = 64, 128, 512, 4096


class PvhError(Exception):
    """The file is not a PVH kernel (one line for the user)."""


@dataclass
class PvhImage:
    entry: int
    segments: list[tuple[int, bytes, int]]      # (paddr, file bytes, memory size)


def load_pvh(path: str) -> PvhImage:
    try:
        image = load_elf(path)
        with open(path, "rb") as f:
            entry = _phys32_entry(path, f.read())
    except MultibootError as err:
        raise PvhError(str(err))
    except OSError as err:
        raise PvhError(f"{path}: {err.strerror}")
    return PvhImage(entry, image.segments)


def _phys32_entry(path: str, data: bytes) -> int:
    from loaders.elf import find_xen_notes
    try:
        notes = find_xen_notes(ELFFile(io.BytesIO(data)))
    except (ELFError, struct.error, ValueError) as err:
        raise PvhError(f"{path}: unreadable Xen notes ({err})")
    if notes.phys32_entry is None:
        raise PvhError(f"{path}: not a PVH kernel: no XEN_ELFNOTE_PHYS32_ENTRY note")
    return notes.phys32_entry & 0xFFFFFFFF


def start_info(base: int, cmdline: str, module: tuple[int, int] | None,
               memmap: list[tuple[int, int, int]]) -> bytes:
    """hvm_start_info at `base` and what it points to, in one page: the module list
    at +64, the memory map at +128, the command line at +512."""
    text = cmdline.encode()[:INFO_SIZE - CMDLINE_AT - 1] + b"\0"
    info = H.hvm_start_info(magic=H.XEN_HVM_START_MAGIC_VALUE, version=1,
                            cmdline_paddr=base + CMDLINE_AT,
                            memmap_paddr=base + MEMMAP_AT, memmap_entries=len(memmap))
    mods = b""
    if module is not None:
        info.nr_modules, info.modlist_paddr = 1, base + MODLIST_AT
        mods = bytes(H.hvm_modlist_entry(paddr=module[0], size=module[1] - module[0]))
    table = b"".join(bytes(H.hvm_memmap_table_entry(addr=a, size=s, type=t)) for a, s, t in memmap)
    if MEMMAP_AT + len(table) > CMDLINE_AT:
        raise PvhError(f"a memory map of {len(memmap)} entries does not fit the start info")
    page = bytearray(INFO_SIZE)
    page[0:ctypes.sizeof(info)] = bytes(info)
    page[MODLIST_AT:MODLIST_AT + len(mods)] = mods
    page[MEMMAP_AT:MEMMAP_AT + len(table)] = table
    page[CMDLINE_AT:CMDLINE_AT + len(text)] = text
    return bytes(page)
