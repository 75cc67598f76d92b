"""Direct boot of an HVM guest: no firmware runs. A PVH kernel (loaders/pvh.py) is
entered at its PHYS32 entry with EBX = its hvm_start_info. A Multiboot (v1) kernel is loaded per
its header or its ELF segments (loaders/multiboot.py) and the boot vCPU starts at its
entry in flat 32-bit protected mode, paging off, EAX = 0x2BADB002, EBX = the multiboot
information (memory sizes, the memory map, the command line, `ramdisk =` as its one
module)."""
from __future__ import annotations

from hvcore.hvm.domain import HvmBuildError
from hvcore.hvm.xen import STORE_PFN
from loaders.pvh import PvhError, load_pvh, start_info
from loaders.multiboot import (BOOTLOADER_MAGIC, MultibootError, info_structure, load_elf,
                               load_multiboot)

INFO_BASE = 0x9000          # one page below the EBDA: the information and what it points to
INFO_PAGE = 0x1000
SPECIAL_PAGES = STORE_PFN << 12       # the xenstore and console rings (hvm/xen.py)


def boot_multiboot(dom, path: str, cmdline: str, ramdisk: str | None = None,
                   entry32: bool = False) -> None:
    """Load and enter the kernel; with `entry32` any ELF, at its entry, with EAX and EBX
    0 (no Multiboot protocol: `hv run --entry32`)."""
    try:
        image = load_elf(path) if entry32 else load_multiboot(path)
    except MultibootError as err:
        raise HvmBuildError(str(err))
    _load_segments(dom, path, image.segments)
    module = _load_module(dom, ramdisk, image) if ramdisk else None
    dom.mem.write(INFO_BASE, info_structure(INFO_BASE, dom.ram.size, cmdline, module))
    if entry32:
        dom.vcpus[0].state.enter_flat32(image.entry, 0, 0)
    else:
        dom.vcpus[0].state.enter_flat32(image.entry, BOOTLOADER_MAGIC, INFO_BASE)


def boot_pvh(dom, path: str, cmdline: str, ramdisk: str | None = None) -> None:
    """A PVH kernel (loaders/pvh.py): at its XEN_ELFNOTE_PHYS32_ENTRY with EBX = the
    hvm_start_info, whose memory map is the one XENMEM_memory_map gives (hvm/xen.py)."""
    try:
        image = load_pvh(path)
    except PvhError as err:
        raise HvmBuildError(str(err))
    _load_segments(dom, path, image.segments)
    module = _load_module(dom, ramdisk, image) if ramdisk else None
    try:
        info = start_info(INFO_BASE, cmdline, module, dom.xen.e820())
    except PvhError as err:
        raise HvmBuildError(str(err))
    dom.mem.write(INFO_BASE, info)
    dom.vcpus[0].state.enter_flat32(image.entry, 0, INFO_BASE)


def _load_segments(dom, path: str, segments: list[tuple[int, bytes, int]]) -> None:
    """The kernel's segments at their physical addresses: inside RAM, clear of the
    information page and of the special pages (the rings) in the legacy hole."""
    for paddr, data, memsz in segments:
        if paddr + memsz > dom.ram.size or _overlaps(paddr, memsz, INFO_BASE, INFO_PAGE) \
                or _overlaps(paddr, memsz, SPECIAL_PAGES, 2 * INFO_PAGE):
            raise HvmBuildError(f"{path}: a segment at {paddr:#x} (+{memsz:#x}) does not fit"
                                f" the guest's {dom.ram.size >> 20} MiB")
        dom.mem.write(paddr, data)
        dom.mem.zero(paddr + len(data), memsz - len(data))


def _overlaps(start: int, size: int, other: int, other_size: int) -> bool:
    return start < other + other_size and other < start + size


def _load_module(dom, path: str, image) -> tuple[int, int]:
    """The ramdisk as Multiboot module 1, page-aligned after the kernel's last byte."""
    try:
        data = open(path, "rb").read()
    except OSError as err:
        raise HvmBuildError(f"ramdisk {path}: {err.strerror}")
    start = max(paddr + memsz for paddr, _data, memsz in image.segments)
    start = (start + INFO_PAGE - 1) // INFO_PAGE * INFO_PAGE
    if start + len(data) > dom.ram.size:
        raise HvmBuildError(f"ramdisk {path}: {len(data)} bytes do not fit after the kernel")
    dom.mem.write(start, data)
    return start, start + len(data)
