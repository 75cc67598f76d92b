"""x86 paging facts and a software walker over guest page tables (long mode / PAE)."""
from __future__ import annotations

from dataclasses import dataclass

from hvcore.memory import PhysicalMemory, BadAddress

PAGE_PRESENT = 0x001
PAGE_RW = 0x002
PAGE_USER = 0x004
PAGE_PWT = 0x008
PAGE_PCD = 0x010
PAGE_ACCESSED = 0x020
PAGE_DIRTY = 0x040
PAGE_PSE = 0x080
PAGE_GLOBAL = 0x100
PAGE_NX = 1 << 63

PADDR_MASK = 0x000F_FFFF_FFFF_F000

# #PF error code bits
PFEC_PRESENT = 1
PFEC_WRITE = 2
PFEC_USER = 4
PFEC_RESERVED = 8
PFEC_FETCH = 16

ACCESS_READ, ACCESS_WRITE, ACCESS_FETCH = 0, 1, 2


@dataclass
class Translation:
    paddr: int
    writable: bool
    user: bool
    leaf_pte_paddr: int


@dataclass
class PageFault(Exception):
    """A walk that the CPU would fault: address and #PF error code."""
    address: int
    error_code: int

    def __str__(self) -> str:
        return f"page fault at {self.address:#x} (error code {self.error_code:#x})"


def canonical(va: int) -> int:
    """Sign-extend bit 47, as the CPU requires of 64-bit addresses."""
    va &= (1 << 64) - 1
    return va | 0xFFFF_0000_0000_0000 if va & (1 << 47) else va & 0x0000_FFFF_FFFF_FFFF


def walk(mem: PhysicalMemory, cr3: int, va: int, access: int = ACCESS_READ,
         user: bool = False) -> Translation:
    """Translate `va` through a 4-level table at `cr3`, as the CPU would.

    Raises PageFault with the error code the CPU would have produced; this is how the
    hypervisor rebuilds #PF error codes, which the engine does not report.
    """
    table = cr3 & PADDR_MASK
    writable = True
    usr = True
    shifts = (39, 30, 21, 12)
    pte_paddr = 0
    for depth, shift in enumerate(shifts):
        pte_paddr = table + ((va >> shift) & 511) * 8
        try:
            pte = mem.read_u64(pte_paddr)
        except BadAddress:
            raise PageFault(va, _error_code(False, access, user))
        if not pte & PAGE_PRESENT:
            raise PageFault(va, _error_code(False, access, user))
        writable = writable and bool(pte & PAGE_RW)
        usr = usr and bool(pte & PAGE_USER)
        if shift == 12 or (shift in (30, 21) and pte & PAGE_PSE):
            size_mask = (1 << shift) - 1
            paddr = (pte & PADDR_MASK & ~size_mask) | (va & size_mask)
            if (user and not usr) or (access == ACCESS_WRITE and not writable):
                raise PageFault(va, _error_code(True, access, user))
            return Translation(paddr, writable, usr, pte_paddr)
        table = pte & PADDR_MASK
    raise AssertionError("unreachable")


def _error_code(present: bool, access: int, user: bool) -> int:
    code = PFEC_PRESENT if present else 0
    if access == ACCESS_WRITE:
        code |= PFEC_WRITE
    if access == ACCESS_FETCH:
        code |= PFEC_FETCH
    if user:
        code |= PFEC_USER
    return code
