"""Hardware task switching for an interrupt or exception through an IDT task gate
(Intel SDM vol. 3, chapter 7, and INT n's TASK-GATE pseudo-code), done by the
hypervisor because the engine never delivers through the IDT.

The engine switches tasks itself for `jmp`/`call` to a TSS or a task gate in the GDT
and for `iret` with EFLAGS.NT=1 (tests/test_hvm_task.py measures it), so only the
interrupt path is here. An interrupt task switch nests as `call` does: the old task
stays busy, the new one becomes busy, gets EFLAGS.NT and the old TR in its back link,
so its `iret` (run by the engine) returns to the interrupted task.

Faults before the commit point (the TSS descriptor, the TSSes not reachable) belong
to the old task; after it (the new task's LDT and segments, the error code push) to
the new one: they carry `committed`, so the interrupted `int N` is not backed up.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from unicorn import x86_const as X

from hvcore.arch.x86.paging import PageFault
from hvcore.arch.x86.hvm.cpu_state import (CS, DESC_CODE, DESC_P, DESC_S, DS, ES, FS, GS,
                                           REAL_MODE_DATA, SS, CpuState, Segment,
                                           descriptor_to_segment)
from hvcore.arch.x86.hvm.guest_memory import LinearMemory
from hvcore.memory import BadAddress

# exception vectors (delivery.py's; repeated here: delivery imports this module)
_TS, _NP, _SS, _GP, _PF = 10, 11, 12, 13, 14
TSS16_AVAILABLE, TSS16_BUSY, LDT_TYPE, TSS32_AVAILABLE, TSS32_BUSY = 0x1, 0x3, 0x2, 0x9, 0xB
TSS_BUSY_BIT = 0x2               # in the type: available 1/9 -> busy 3/B
RF_NT, RF_VM = 1 << 14, 1 << 17
RF_LOADABLE = 0x003F7FD5         # the EFLAGS bits a task can hold; bit 1 is always set
CR0_TS, CR0_PG = 1 << 3, 1 << 31
DPL3 = 3 << 13
_TYPE_CONFORMING, _TYPE_READABLE_OR_WRITABLE, _TYPE_ACCESSED = 1 << 10, 1 << 9, 1 << 8
_GENERAL = (X.UC_X86_REG_EAX, X.UC_X86_REG_ECX, X.UC_X86_REG_EDX, X.UC_X86_REG_EBX,
            X.UC_X86_REG_ESP, X.UC_X86_REG_EBP, X.UC_X86_REG_ESI, X.UC_X86_REG_EDI)


class TaskFault(Exception):
    """The switch faulted: deliver this exception (after the commit point: in the new
    task's context)."""

    def __init__(self, vector: int, error_code: int, cr2: int | None = None,
                 committed: bool = False) -> None:
        super().__init__(vector)
        self.vector, self.error_code, self.cr2, self.committed = vector, error_code, cr2, committed


@dataclass(frozen=True)
class TssLayout:
    """Where a TSS keeps each part of a task's state (SDM figures 7-2 and 7-11)."""
    width: int                   # 4: 32-bit TSS, 2: 16-bit TSS
    min_limit: int
    eip: int
    eflags: int
    regs: int                    # EAX ECX EDX EBX ESP EBP ESI EDI, `width` bytes each
    segments: tuple[tuple[int, int], ...]    # (segment register, offset), in load order
    ldt: int
    cr3: int | None

    def get(self, raw: bytes, at: int) -> int:
        return int.from_bytes(raw[at:at + self.width], "little")


TSS32 = TssLayout(4, 0x67, 0x20, 0x24, 0x28,
                  ((CS, 0x4C), (SS, 0x50), (ES, 0x48), (DS, 0x54), (FS, 0x58), (GS, 0x5C)),
                  0x60, 0x1C)
# A 16-bit TSS has no FS, GS or CR3: those stay as they are.
TSS16 = TssLayout(2, 0x2B, 0x0E, 0x10, 0x12, ((CS, 0x24), (SS, 0x26), (ES, 0x22), (DS, 0x28)),
                  0x2A, None)


@dataclass
class Tss:
    selector: int
    base: int
    limit: int
    flags: int

    @property
    def type(self) -> int:
        return (self.flags >> 8) & 0xF

    @property
    def layout(self) -> TssLayout:
        return TSS16 if self.type in (TSS16_AVAILABLE, TSS16_BUSY) else TSS32


def switch_through_gate(state: CpuState, mem: LinearMemory, tss_selector: int,
                        error_code: int | None, external: bool) -> None:
    """The task switch of an interrupt or exception whose IDT entry is a task gate
    naming `tss_selector`; `error_code` is pushed on the new task's stack."""
    ext = 1 if external else 0
    new = _new_tss(state, mem, tss_selector, ext)
    old = Tss(*state.engine.uc.reg_read(X.UC_X86_REG_TR))
    _check_reachable(mem, old, new, ext)
    _save_task(state, mem, old, ext)
    raw = _read(mem, new.base, new.layout.min_limit + 1, ext)
    _write(mem, new.base, struct.pack("<H", old.selector), ext)     # back link
    _set_busy(state, mem, new.selector, ext)
    busy = new.flags | (TSS_BUSY_BIT << 8)
    state.engine.uc.reg_write(X.UC_X86_REG_TR, (new.selector, new.base, new.limit, busy))
    e = state.engine
    e.set_reg(X.UC_X86_REG_CR0, e.reg(X.UC_X86_REG_CR0) | CR0_TS)
    # ---- commit point: from here on, faults belong to the new task ----
    try:
        _load_task(state, mem, new.layout, raw, ext)
        if error_code is not None:
            _push_error_code(state, mem, new.layout.width, error_code)
        cs = state.segment(CS)
        if e.reg(X.UC_X86_REG_EIP) > cs.limit:
            raise TaskFault(_GP, ext)
    except TaskFault as fault:
        fault.committed = True
        raise


# ---- before the commit point ----------------------------------------------------------
def _new_tss(state: CpuState, mem: LinearMemory, selector: int, ext: int) -> Tss:
    """The gate's TSS descriptor, checked: in the GDT, an available TSS, present, long
    enough for its kind."""
    err = (selector & ~3) | ext
    base, limit = _table(state, X.UC_X86_REG_GDTR)
    if selector & 4 or (selector & ~7) + 7 > limit:
        raise TaskFault(_GP, err)
    seg = descriptor_to_segment(selector, _read_u64(mem, base + (selector & ~7), ext))
    tss = Tss(selector, seg.base, seg.limit, seg.flags)
    if tss.flags & DESC_S or tss.type not in (TSS16_AVAILABLE, TSS32_AVAILABLE):
        raise TaskFault(_GP, err)          # not a TSS, or busy
    if not tss.flags & DESC_P:
        raise TaskFault(_NP, err)
    if tss.limit < tss.layout.min_limit:
        raise TaskFault(_TS, err)
    return tss


def _check_reachable(mem: LinearMemory, old: Tss, new: Tss, ext: int) -> None:
    """Both TSSes must be reachable before anything is written (SDM 7.3 step 5); the
    old one must be long enough to hold the state saved in it."""
    if old.limit < old.layout.min_limit:
        raise TaskFault(_TS, (old.selector & ~3) | ext)
    for tss in (new, old):
        end = tss.base + tss.layout.min_limit
        for page in range(tss.base & ~0xFFF, end + 1, 0x1000):
            try:
                mem.translate(max(page, tss.base), write=True)
            except PageFault as err:
                raise TaskFault(_PF, err.error_code, err.address)


def _save_task(state: CpuState, mem: LinearMemory, old: Tss, ext: int) -> None:
    """EIP, EFLAGS, the general registers and the segment selectors into the old TSS
    (not CR3 and not the LDT selector: the CPU never writes those)."""
    e, layout = state.engine, old.layout
    fmt = "<H" if layout.width == 2 else "<I"
    mask = (1 << (8 * layout.width)) - 1
    head = struct.pack(fmt, e.reg(X.UC_X86_REG_EIP) & mask) + \
        struct.pack(fmt, e.reg(X.UC_X86_REG_EFLAGS) & mask) + \
        b"".join(struct.pack(fmt, e.reg(r) & mask) for r in _GENERAL)
    _write(mem, old.base + layout.eip, head, ext)
    for index, at in layout.segments:
        _write(mem, old.base + at, struct.pack("<H", state.segment(index).selector), ext)


def _set_busy(state: CpuState, mem: LinearMemory, selector: int, ext: int) -> None:
    base, _limit = _table(state, X.UC_X86_REG_GDTR)
    at = base + (selector & ~7) + 5
    _write(mem, at, bytes([_read(mem, at, 1, ext)[0] | TSS_BUSY_BIT]), ext)


# ---- after it: the new task's state ------------------------------------------------
def _load_task(state: CpuState, mem: LinearMemory, layout: TssLayout, raw: bytes,
               ext: int) -> int:
    """CR3, EFLAGS (with NT: the switch nests), EIP, general registers, then LDTR and
    the segment registers with their checks. Returns the new CPL."""
    e = state.engine
    if layout.cr3 is not None and e.reg(X.UC_X86_REG_CR0) & CR0_PG:
        e.set_reg(X.UC_X86_REG_CR3, layout.get(raw, layout.cr3))
    eflags = layout.get(raw, layout.eflags)
    if layout.width == 2:
        eflags |= e.reg(X.UC_X86_REG_EFLAGS) & 0xFFFF0000 & ~RF_VM
    e.set_reg(X.UC_X86_REG_EFLAGS, (eflags & RF_LOADABLE) | RF_NT | 0x2)
    e.set_reg(X.UC_X86_REG_EIP, layout.get(raw, layout.eip))
    for i, reg in enumerate(_GENERAL):
        value = layout.get(raw, layout.regs + i * layout.width)
        if layout.width == 2:          # a 16-bit task: the upper halves are left as they are
            value |= e.reg(reg) & 0xFFFF0000
        e.set_reg(reg, value)
    selectors = {index: int.from_bytes(raw[at:at + 2], "little") for index, at in layout.segments}
    # The selectors are in the registers before any descriptor is checked: a handler of
    # a fault in the checks below sees (and reloads) the new task's selectors.
    for index, selector in selectors.items():
        old = state.segment(index)
        state.load_segment(index, Segment(selector, old.base, old.limit, old.flags))
    if eflags & RF_VM:
        return _load_vm86_segments(state, selectors)
    _load_ldt(state, mem, int.from_bytes(raw[layout.ldt:layout.ldt + 2], "little"), ext)
    cpl = selectors[CS] & 3
    state.set_cpl(cpl)
    for index, selector in selectors.items():
        state.load_segment(index, _checked_segment(state, mem, index, selector, cpl, ext))
    return cpl


def _load_vm86_segments(state: CpuState, selectors: dict[int, int]) -> int:
    """A task whose EFLAGS.VM is set resumes in virtual-8086 mode: every segment is
    selector * 16 with a 64 KiB limit, at CPL 3."""
    state.set_cpl(3)
    for index, selector in selectors.items():
        state.load_segment(index, Segment(selector, selector << 4, 0xFFFF,
                                          REAL_MODE_DATA | DPL3))
    return 3


def _load_ldt(state: CpuState, mem: LinearMemory, selector: int, ext: int) -> None:
    """LDTR from the new TSS: null (no LDT) or an LDT descriptor in the GDT, present;
    anything else is #TS(LDT selector)."""
    err = (selector & ~3) | ext
    if selector & ~3 == 0:
        state.engine.uc.reg_write(X.UC_X86_REG_LDTR, (selector, 0, 0, 0))
        return
    base, limit = _table(state, X.UC_X86_REG_GDTR)
    if selector & 4 or (selector & ~7) + 7 > limit:
        raise TaskFault(_TS, err)
    seg = descriptor_to_segment(selector, _read_u64(mem, base + (selector & ~7), ext))
    if seg.flags & DESC_S or (seg.flags >> 8) & 0xF != LDT_TYPE or not seg.flags & DESC_P:
        raise TaskFault(_TS, err)
    state.engine.uc.reg_write(X.UC_X86_REG_LDTR, (selector, seg.base, seg.limit, seg.flags))


def _checked_segment(state: CpuState, mem: LinearMemory, index: int, selector: int,
                     cpl: int, ext: int) -> Segment:
    """A segment register of the new task, checked as SDM table 7-1 lists (#TS for a
    bad selector or descriptor, #NP / #SS for one not present)."""
    err = (selector & ~3) | ext
    if selector & ~3 == 0:
        if index in (CS, SS):
            raise TaskFault(_TS, err)
        return Segment(selector, 0, 0, 0)             # a null data segment: unusable
    seg = _descriptor(state, mem, selector, ext)
    code, conforming = bool(seg.flags & DESC_CODE), bool(seg.flags & _TYPE_CONFORMING)
    rw = bool(seg.flags & _TYPE_READABLE_OR_WRITABLE)
    if not seg.flags & DESC_S:
        raise TaskFault(_TS, err)
    if index == CS:
        bad = not code or (seg.dpl > cpl if conforming else seg.dpl != cpl)
    elif index == SS:
        bad = code or not rw or seg.dpl != cpl or selector & 3 != cpl
    else:
        bad = (code and not rw) or (
            not (code and conforming) and (seg.dpl < cpl or seg.dpl < selector & 3))
    if bad:
        raise TaskFault(_TS, err)
    if not seg.flags & DESC_P:
        raise TaskFault(_SS if index == SS else _NP, err)
    _set_accessed(state, mem, selector, seg, ext)
    return seg


def _push_error_code(state: CpuState, mem: LinearMemory, width: int, code: int) -> None:
    """The exception's error code on the new task's stack, as wide as its TSS."""
    e, ss = state.engine, state.segment(SS)
    mask = 0xFFFFFFFF if ss.flags & (1 << 22) else 0xFFFF
    sp = (e.reg(X.UC_X86_REG_ESP) - width) & mask
    data = struct.pack("<I" if width == 4 else "<H", code & ((1 << (8 * width)) - 1))
    try:
        mem.write(ss.base + sp, data)
    except PageFault as err:
        raise TaskFault(_PF, err.error_code, err.address)
    except BadAddress:
        raise TaskFault(_SS, 0)
    if mask == 0xFFFF:
        e.set_reg(X.UC_X86_REG_SP, sp)
    else:
        e.set_reg(X.UC_X86_REG_ESP, sp)


# ---- descriptor tables and guest memory ----------------------------------------------
def _table(state: CpuState, reg: int) -> tuple[int, int]:
    _sel, base, limit, _flags = state.engine.uc.reg_read(reg)
    return base, limit


def _descriptor(state: CpuState, mem: LinearMemory, selector: int, ext: int) -> Segment:
    """A GDT or (new) LDT descriptor; outside its table: #TS(selector)."""
    base, limit = _table(state, X.UC_X86_REG_LDTR if selector & 4 else X.UC_X86_REG_GDTR)
    if (selector & ~7) + 7 > limit:
        raise TaskFault(_TS, (selector & ~3) | ext)
    return descriptor_to_segment(selector, _read_u64(mem, base + (selector & ~7), ext))


def _set_accessed(state: CpuState, mem: LinearMemory, selector: int, seg: Segment,
                  ext: int) -> None:
    """The CPU marks a descriptor accessed when it loads it."""
    if seg.flags & _TYPE_ACCESSED:
        return
    seg.flags |= _TYPE_ACCESSED
    base, _limit = _table(state, X.UC_X86_REG_LDTR if selector & 4 else X.UC_X86_REG_GDTR)
    at = base + (selector & ~7) + 5
    _write(mem, at, bytes([_read(mem, at, 1, ext)[0] | 1]), ext)


def _read(mem: LinearMemory, linear: int, length: int, ext: int) -> bytes:
    try:
        return mem.read(linear, length)
    except PageFault as err:
        raise TaskFault(_PF, err.error_code, err.address)
    except BadAddress:                    # no RAM there: as a TSS past its limit
        raise TaskFault(_TS, ext)


def _read_u64(mem: LinearMemory, linear: int, ext: int) -> int:
    return int.from_bytes(_read(mem, linear, 8, ext), "little")


def _write(mem: LinearMemory, linear: int, data: bytes, ext: int) -> None:
    try:
        mem.write(linear, data)
    except PageFault as err:
        raise TaskFault(_PF, err.error_code, err.address)
    except BadAddress:
        raise TaskFault(_TS, ext)
