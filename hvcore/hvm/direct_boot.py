"""Direct boot of an HVM guest: no firmware runs. A Multiboot (v1) kernel is loaded per
its header or its ELF segments (loaders/multiboot.py) and the boot vCPU starts at its
entry in flat 32-bit protected mode, paging off, EAX = 0x2BADB002, EBX = the multiboot
information (memory sizes, the memory map, the command line)."""
from __future__ import annotations

from hvcore.hvm.domain import HvmBuildError
from loaders.multiboot import BOOTLOADER_MAGIC, MultibootError, info_structure, load_multiboot

INFO_BASE = 0x9000          # one page below the EBDA: the information and what it points to
INFO_PAGE = 0x1000


def boot_multiboot(dom, path: str, cmdline: str) -> None:
    try:
        image = load_multiboot(path)
    except MultibootError as err:
        raise HvmBuildError(str(err))
    for paddr, data, memsz in image.segments:
        if paddr + memsz > dom.ram.size or paddr < INFO_BASE + INFO_PAGE <= paddr + memsz \
                or paddr < INFO_BASE + INFO_PAGE and paddr + memsz > INFO_BASE:
            raise HvmBuildError(f"{path}: a segment at {paddr:#x} (+{memsz:#x}) does not fit"
                                f" the guest's {dom.ram.size >> 20} MiB")
        dom.mem.write(paddr, data)
        dom.mem.zero(paddr + len(data), memsz - len(data))
    dom.mem.write(INFO_BASE, info_structure(INFO_BASE, dom.ram.size, cmdline))
    dom.vcpus[0].state.enter_flat32(image.entry, BOOTLOADER_MAGIC, INFO_BASE)
