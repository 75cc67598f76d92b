"""Guest linear addresses as the HVM vCPU sees them: no paging, 32-bit two-level tables
(4 MiB pages with CR4.PSE), PAE, and 4-level long-mode tables.

The hypervisor uses this to read the IDT, GDT and TSS and to push interrupt frames,
with supervisor rights (the CPU's implicit accesses), raising `PageFault` as the CPU
would (the error code of the access it was making).
"""
from __future__ import annotations

import struct

from unicorn import x86_const as X

from hvcore.arch.x86 import paging
from hvcore.arch.x86.paging import PageFault, PFEC_PRESENT, PFEC_USER, PFEC_WRITE
from hvcore.memory import BadAddress, PhysicalMemory

CR0_PG = 1 << 31
CR0_WP = 1 << 16
CR4_PSE = 1 << 4
CR4_PAE = 1 << 5
EFER_LMA = 1 << 10


class LinearMemory:
    """Linear -> physical through the vCPU's live control registers."""

    def __init__(self, mem: PhysicalMemory, engine) -> None:
        self.mem = mem
        self.engine = engine
        self.a20_mask = ~0             # ~(1 << 20) while A20 is off (hvcore/hvm/physmap.py)

    def set_a20_mask(self, mask: int) -> None:
        self.a20_mask = mask

    def translate(self, linear: int, write: bool = False, user: bool = False) -> int:
        """The physical address the CPU reaches at `linear`. The A20 mask applies to
        every address the CPU puts out: the result and the page-table entries it reads
        on the way (in long mode too, as the engine's own accesses see it)."""
        e = self.engine
        cr0 = e.reg(X.UC_X86_REG_CR0)
        if not cr0 & CR0_PG:
            return linear & 0xFFFFFFFF & self.a20_mask
        cr3, cr4 = e.reg(X.UC_X86_REG_CR3), e.reg(X.UC_X86_REG_CR4)
        access = paging.ACCESS_WRITE if write else paging.ACCESS_READ
        if e.uc.msr_read(0xC0000080) & EFER_LMA:
            return paging.walk(self.mem, cr3, linear, access, user).paddr & self.a20_mask
        linear &= 0xFFFFFFFF
        if cr4 & CR4_PAE:
            return self._walk_pae(cr3, linear, write, user) & self.a20_mask
        return self._walk_32(cr3, linear, write, user, bool(cr4 & CR4_PSE)) & self.a20_mask

    def _walk_32(self, cr3: int, va: int, write: bool, user: bool, pse: bool) -> int:
        pde = self._entry(cr3 & 0xFFFFF000, va >> 22, 4, va, write, user)
        if pse and pde & paging.PAGE_PSE:
            self._check(pde, pde, va, write, user)
            return (pde & 0xFFC00000) | (va & 0x3FFFFF)
        pte = self._entry(pde & 0xFFFFF000, (va >> 12) & 0x3FF, 4, va, write, user)
        self._check(pde, pte, va, write, user)
        return (pte & 0xFFFFF000) | (va & 0xFFF)

    def _walk_pae(self, cr3: int, va: int, write: bool, user: bool) -> int:
        pdpte = self._entry(cr3 & 0xFFFFFFE0, va >> 30, 8, va, write, user)
        pde = self._entry(pdpte & paging.PADDR_MASK, (va >> 21) & 511, 8, va, write, user)
        if pde & paging.PAGE_PSE:
            self._check(pde, pde, va, write, user)
            return (pde & paging.PADDR_MASK & ~0x1FFFFF) | (va & 0x1FFFFF)
        pte = self._entry(pde & paging.PADDR_MASK, (va >> 12) & 511, 8, va, write, user)
        self._check(pde, pte, va, write, user)
        return (pte & paging.PADDR_MASK) | (va & 0xFFF)

    def _entry(self, table: int, index: int, size: int, va: int, write: bool, user: bool) -> int:
        try:
            raw = self.mem.read((table + index * size) & self.a20_mask, size)
        except BadAddress:
            raise PageFault(va, _code(False, write, user))
        entry = int.from_bytes(raw, "little")
        if not entry & paging.PAGE_PRESENT:
            raise PageFault(va, _code(False, write, user))
        return entry

    def _check(self, upper: int, leaf: int, va: int, write: bool, user: bool) -> None:
        both = upper & leaf
        wp = self.engine.reg(X.UC_X86_REG_CR0) & CR0_WP
        if (user and not both & paging.PAGE_USER) or \
                (write and not both & paging.PAGE_RW and (user or wp)):
            raise PageFault(va, _code(True, write, user))

    # ---- reads and writes that may cross pages -------------------------------------
    def read(self, linear: int, length: int, user: bool = False) -> bytes:
        return self.mem.read_paged(self._translator(user), linear, length)

    def write(self, linear: int, data: bytes, user: bool = False) -> None:
        self.mem.write_paged(self._translator(user), linear, data)

    def _translator(self, user: bool):
        if not user:
            return self.translate
        return lambda linear, write: self.translate(linear, write, True)

    def read_u64(self, linear: int) -> int:
        return struct.unpack("<Q", self.read(linear, 8))[0]


def _code(present: bool, write: bool, user: bool) -> int:
    return (PFEC_PRESENT if present else 0) | (PFEC_WRITE if write else 0) | \
        (PFEC_USER if user else 0)
