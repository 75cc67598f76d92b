"""The vCPU's segment caches and mode flags, read and written in the engine's live state.

The engine is opened in 64-bit mode (the only mode whose register API reaches RAX..R15
and RIP, which a 64-bit guest needs) and put into real mode here, at reset, by writing
the state a reset leaves (tests/test_hvm_cpu.py keeps the whole climb under test).
In 64-bit mode `reg_write(CS/SS/DS/ES)` sets the selector only, not the hidden part
(base, limit, attributes), and the engine keeps the code size and CPL in its `hflags`.
So segment loads done by the hypervisor (reset, interrupt delivery through the IDT,
the IVT in real mode) write the hidden part and recompute the mode bits, as the CPU
does when it loads a segment register.

Layout facts (unicorn 2.1.x, checked by `CpuState.check_layout`): the six segment
caches follow hflags and hflags2 in the CPU state, ES CS SS DS FS GS, each
{u32 selector, u32 pad, u64 base, u32 limit, u32 flags}; `flags` is the descriptor's
high dword (type, S, DPL, P, AVL, L, D/B, G), with the limit already scaled by G.
"""
from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

from unicorn import x86_const as X

from hvcore import engine as eng

ES, CS, SS, DS, FS, GS = range(6)
SEGMENT_REGS = {ES: X.UC_X86_REG_ES, CS: X.UC_X86_REG_CS, SS: X.UC_X86_REG_SS,
                DS: X.UC_X86_REG_DS, FS: X.UC_X86_REG_FS, GS: X.UC_X86_REG_GS}
_SEGS_OFFSET = eng._ENV_HFLAGS + 8
_SEG = struct.Struct("<IIQII")
# The exception being raised: error code, `int N` flag (then RIP is already past it);
# they sit just before old_exception's neighbours (tests/test_hvm_cpu.py checks both).
_ENV_ERROR_CODE = eng._ENV_OLD_EXCEPTION - 112
_ENV_EXCEPTION_IS_INT = _ENV_ERROR_CODE + 4

# hflags bits (the engine's summary of the mode)
HF_CPL = 3
HF_INHIBIT_IRQ = 1 << 3      # interrupt shadow after sti / mov ss / pop ss
HF_CS32 = 1 << 4
HF_SS32 = 1 << 5
HF_ADDSEG = 1 << 6
HF_PE = 1 << 7
HF_LMA = 1 << 14
HF_CS64 = 1 << 15

# descriptor attribute bits (high dword)
DESC_TYPE_SHIFT = 8
DESC_S = 1 << 12
DESC_DPL_SHIFT = 13
DESC_P = 1 << 15
DESC_L = 1 << 21
DESC_B = 1 << 22
DESC_G = 1 << 23
DESC_CODE = 1 << 11
REAL_MODE_DATA = DESC_P | DESC_S | (0x3 << DESC_TYPE_SHIFT)   # present, data, RW, accessed
REAL_MODE_CODE = DESC_P | DESC_S | (0xB << DESC_TYPE_SHIFT)   # present, code, RX, accessed

FLAT32_DATA = REAL_MODE_DATA | DESC_B | DESC_G
FLAT32_CODE = REAL_MODE_CODE | DESC_B | DESC_G
CR0_PE = 1
CR0_ET = 1 << 4
CR0_PG = 1 << 31
MSR_EFER = 0xC0000080
EFER_LME = 1 << 8
EFER_LMA = 1 << 10
RFLAGS_RESET = 0x2


@dataclass
class Segment:
    selector: int
    base: int
    limit: int
    flags: int

    @property
    def dpl(self) -> int:
        return (self.flags >> DESC_DPL_SHIFT) & 3


def descriptor_to_segment(selector: int, raw: int) -> Segment:
    """An 8-byte GDT/LDT descriptor as the CPU caches it (limit scaled by G)."""
    lo, hi = raw & 0xFFFFFFFF, raw >> 32
    base = (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000)
    limit = (lo & 0xFFFF) | (hi & 0x000F0000)
    if hi & DESC_G:
        limit = (limit << 12) | 0xFFF
    return Segment(selector, base, limit, hi & 0x00F0FF00)


class CpuState:
    """Direct access to the hidden segment state and mode flags of one engine."""

    def __init__(self, engine: eng.Engine) -> None:
        self.engine = engine
        self.env = ctypes.addressof(engine.cpu.hflags) - eng._ENV_HFLAGS
        self.hflags = engine.cpu.hflags
        self.check_layout()

    def check_layout(self) -> None:
        """The selector the register API writes must show up where we read it."""
        uc = self.engine.uc
        saved = uc.reg_read(X.UC_X86_REG_CS)
        for probe in (0x1234, 0x0B58):
            uc.reg_write(X.UC_X86_REG_CS, probe)
            if self.segment(CS).selector != probe:
                raise eng.EngineError("unsupported unicorn build: segment cache layout differs")
        uc.reg_write(X.UC_X86_REG_CS, saved)

    # ---- segments -----------------------------------------------------------------
    def segment(self, index: int) -> Segment:
        sel, _pad, base, limit, flags = _SEG.unpack(
            ctypes.string_at(self.env + _SEGS_OFFSET + index * _SEG.size, _SEG.size))
        return Segment(sel & 0xFFFF, base, limit, flags)

    def load_segment(self, index: int, seg: Segment) -> None:
        """Load a segment register's visible and hidden parts, and the mode bits that
        follow from it (code size from CS; stack size and CPL from SS)."""
        data = _SEG.pack(seg.selector & 0xFFFF, 0, seg.base & (2**64 - 1),
                         seg.limit & 0xFFFFFFFF, seg.flags)
        ctypes.memmove(self.env + _SEGS_OFFSET + index * _SEG.size, data, _SEG.size)
        self._update_mode_bits()

    def load_real_mode_segment(self, index: int, selector: int) -> None:
        flags = REAL_MODE_CODE if index == CS else REAL_MODE_DATA
        self.load_segment(index, Segment(selector, selector << 4, 0xFFFF, flags))

    def _update_mode_bits(self) -> None:
        hf = self.hflags.value
        cs, ss = self.segment(CS), self.segment(SS)
        hf &= ~(HF_CS32 | HF_CS64 | HF_SS32 | HF_ADDSEG)
        if hf & HF_LMA and cs.flags & DESC_L:
            hf |= HF_CS32 | HF_CS64 | HF_SS32
        else:
            if cs.flags & DESC_B:
                hf |= HF_CS32
            if ss.flags & DESC_B:
                hf |= HF_SS32
        if not hf & HF_CS64:
            flat = not (self.segment(DS).base | self.segment(ES).base | ss.base)
            if not hf & HF_PE or not hf & HF_CS32 or not flat:
                hf |= HF_ADDSEG
        self.hflags.value = hf

    # ---- the exception the engine just reported ---------------------------------------
    @property
    def exception_error_code(self) -> int:
        return ctypes.c_int32.from_address(self.env + _ENV_ERROR_CODE).value & 0xFFFFFFFF

    @property
    def exception_is_int(self) -> bool:
        return ctypes.c_int32.from_address(self.env + _ENV_EXCEPTION_IS_INT).value != 0

    def forget_exception(self) -> None:
        """Clear the `int N` flag once read: the engine moves RIP to the stale
        "next instruction" of the last `int N` on exits that do not set it (the MSR
        intercept's), where the flag is still up (tests/test_hvm_apic.py)."""
        ctypes.c_int32.from_address(self.env + _ENV_EXCEPTION_IS_INT).value = 0

    # ---- privilege and mode ---------------------------------------------------------
    @property
    def cpl(self) -> int:
        return self.hflags.value & HF_CPL

    def set_cpl(self, cpl: int) -> None:
        self.hflags.value = (self.hflags.value & ~HF_CPL) | (cpl & 3)

    @property
    def interrupt_shadow(self) -> bool:
        """The instruction after sti / mov ss has not run yet: no interrupt now."""
        return bool(self.hflags.value & HF_INHIBIT_IRQ)

    @property
    def long_mode(self) -> bool:
        return bool(self.hflags.value & HF_LMA)

    @property
    def code64(self) -> bool:
        return bool(self.hflags.value & HF_CS64)

    @property
    def protected(self) -> bool:
        return bool(self.hflags.value & HF_PE)

    @property
    def code32(self) -> bool:
        return bool(self.hflags.value & HF_CS32)

    def enter_flat32(self, eip: int, eax: int, ebx: int) -> None:
        """32-bit protected mode with paging off and flat 4 GiB segments (CS 08h, data
        10h), as a Multiboot loader leaves the CPU; from the reset state."""
        e = self.engine
        e.set_reg(X.UC_X86_REG_CR0, CR0_PE | CR0_ET)
        flat = dict(base=0, limit=0xFFFFFFFF)
        for index in (ES, SS, DS, FS, GS):
            self.load_segment(index, Segment(0x10, flags=FLAT32_DATA, **flat))
        self.load_segment(CS, Segment(0x08, flags=FLAT32_CODE, **flat))
        e.set_reg(X.UC_X86_REG_RAX, eax)
        e.set_reg(X.UC_X86_REG_RBX, ebx)
        e.set_reg(X.UC_X86_REG_RIP, eip)

    # ---- reset ------------------------------------------------------------------------
    def reset(self, cs: int = 0xF000, ip: int = 0xFFF0) -> None:
        """The state of a PC CPU after reset (or INIT): real mode, paging off, EFER 0,
        flat 64 KiB segments, EFLAGS 2, execution at cs:ip.

        The engine starts in long mode: it leaves it the way the CPU allows, by clearing
        LME with paging on, then paging, then protection. A real CPU starts at
        F000:FFF0 with CS base FFFF0000 (the top alias of the BIOS); we load CS base
        F0000 (the low alias, the same bytes), as after the BIOS's first far jump."""
        e = self.engine
        e.uc.msr_write(MSR_EFER, 0)
        e.set_reg(X.UC_X86_REG_CR0, CR0_PE | CR0_ET | CR0_PG)   # leaving long mode needs PG
        e.set_reg(X.UC_X86_REG_CR0, CR0_ET)
        e.set_reg(X.UC_X86_REG_CR4, 0)
        e.set_reg(X.UC_X86_REG_CR3, 0)
        e.set_reg(X.UC_X86_REG_CR2, 0)
        if e.uc.msr_read(MSR_EFER) & EFER_LMA or self.long_mode:
            raise eng.EngineError("the engine did not leave long mode at reset")
        self.set_cpl(0)
        for index in (ES, SS, DS, FS, GS):
            self.load_real_mode_segment(index, 0)
        self.load_real_mode_segment(CS, cs)
        e.set_reg(X.UC_X86_REG_RFLAGS, RFLAGS_RESET)
        for reg in (X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX,
                    X.UC_X86_REG_RSI, X.UC_X86_REG_RDI, X.UC_X86_REG_RBP, X.UC_X86_REG_RSP):
            e.set_reg(reg, 0)
        e.uc.reg_write(X.UC_X86_REG_IDTR, (0, 0, 0x3FF, 0))
        e.uc.reg_write(X.UC_X86_REG_GDTR, (0, 0, 0xFFFF, 0))
        e.set_reg(X.UC_X86_REG_RIP, ip)
        self.hflags.value &= ~HF_INHIBIT_IRQ
