"""Exceptions and interrupts delivered through the guest's IDT (the IVT in real mode),
by the hypervisor, as the CPU does it (the engine never delivers them itself).

Protected mode: interrupt and trap gates (16- and 32-bit), the gate's DPL checked for
`int N`, a privilege change switching to the stack named by the TSS (ss0/esp0 ...),
the frame pushed with the error code where the vector has one, IF cleared through an
interrupt gate. Long mode: 16-byte gates, RSP0-2 or the IST, 16-byte stack alignment,
SS:RSP always pushed. Real mode: the IVT's segment:offset, FLAGS CS IP pushed.

A fault while delivering becomes #DF by the CPU's rules (benign / contributory / page
fault classes); a fault while delivering #DF is a triple fault (`TripleFault`).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from unicorn import x86_const as X

from hvcore.arch.x86.paging import PageFault
from hvcore.arch.x86.hvm.cpu_state import (CS, DESC_CODE, DESC_DPL_SHIFT, DESC_P, DS, ES, FS,
                                           GS, SS, CpuState, Segment, descriptor_to_segment)
from hvcore.arch.x86.hvm.guest_memory import LinearMemory
from hvcore.arch.x86.hvm import task_switch

DE, DB, NMI, BP, OF, BR, UD, NM, DF, TS, NP, SSF, GP, PF, MF, AC, MC, XM = \
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19
ERROR_CODE_VECTORS = frozenset({DF, TS, NP, SSF, GP, PF, AC})
CONTRIBUTORY = frozenset({DE, TS, NP, SSF, GP})

RF_TF, RF_IF, RF_NT, RF_RF, RF_VM, RF_AC = 1 << 8, 1 << 9, 1 << 14, 1 << 16, 1 << 17, 1 << 18
GATE_INT16, GATE_TRAP16, GATE_INT32, GATE_TRAP32, GATE_TASK = 0x6, 0x7, 0xE, 0xF, 0x5
_MASK32 = 0xFFFFFFFF


@dataclass
class Event:
    """Something to deliver: an exception (with its error code), `int N` (software,
    RIP already past it), or an external interrupt."""
    vector: int
    error_code: int | None = None
    software: bool = False
    external: bool = False
    insn_length: int = 0      # `int N` (2), int3/into (1): a fault in delivery is on it


class TripleFault(Exception):
    """A fault while delivering a double fault: the CPU shuts down."""


class DeliveryFault(Exception):
    """The delivery itself faulted: deliver this exception instead."""

    def __init__(self, vector: int, error_code: int | None = 0, cr2: int | None = None,
                 committed: bool = False) -> None:
        super().__init__(vector)
        self.vector, self.error_code, self.cr2 = vector, error_code, cr2
        self.committed = committed      # a task switch got past its commit point


def deliver(state: CpuState, mem: LinearMemory, event: Event) -> None:
    """Deliver `event`; escalate to #DF and to a triple fault as the CPU would."""
    first = event
    for _ in range(3):
        try:
            _deliver_once(state, mem, event)
            return
        except DeliveryFault as fault:
            if fault.cr2 is not None:
                state.engine.set_reg(X.UC_X86_REG_CR2, fault.cr2)
            if event.software and not fault.committed:   # reported on the int instruction
                rip = state.engine.reg(X.UC_X86_REG_RIP)
                state.engine.set_reg(X.UC_X86_REG_RIP, rip - event.insn_length)
            if event.vector == DF:
                raise TripleFault(f"fault {fault.vector} while delivering #DF")
            if _double_fault(event.vector, fault.vector) and not event.external:
                event = Event(DF, 0)
            else:
                event = Event(fault.vector, fault.error_code)
    raise TripleFault(f"cannot deliver vector {first.vector}")


def _double_fault(first: int, second: int) -> bool:
    if first in CONTRIBUTORY:
        return second in CONTRIBUTORY
    if first == PF:
        return second in CONTRIBUTORY or second == PF
    return False


def _deliver_once(state: CpuState, mem: LinearMemory, event: Event) -> None:
    if not state.protected:
        _deliver_real(state, mem, event)
    elif state.long_mode:
        _deliver_long(state, mem, event)
    else:
        _deliver_protected(state, mem, event)


def _idt_error(event: Event, size: int) -> int:
    """Error code of a fault on an IDT entry: index, IDT bit, EXT bit."""
    return event.vector * 8 + 2 + (1 if event.external else 0)


def _mem_fault(err: PageFault) -> DeliveryFault:
    return DeliveryFault(PF, err.error_code, err.address)


# ---- real mode -------------------------------------------------------------------
def _deliver_real(state: CpuState, mem: LinearMemory, event: Event) -> None:
    e = state.engine
    base, limit = _table(e, X.UC_X86_REG_IDTR)
    if event.vector * 4 + 3 > limit:
        raise DeliveryFault(GP, 0)
    ip, cs = struct.unpack("<HH", mem.read(base + event.vector * 4, 4))
    flags = e.reg(X.UC_X86_REG_RFLAGS)
    ss = state.segment(SS)
    sp = e.reg(X.UC_X86_REG_RSP) & 0xFFFF
    frame = struct.pack("<HHH", e.reg(X.UC_X86_REG_RIP) & 0xFFFF, state.segment(CS).selector,
                        flags & 0xFFFF)
    sp = (sp - 6) & 0xFFFF
    mem.write(ss.base + sp, frame)
    e.set_reg(X.UC_X86_REG_SP, sp)
    e.set_reg(X.UC_X86_REG_RFLAGS, flags & ~(RF_IF | RF_TF | RF_AC))
    state.load_real_mode_segment(CS, cs)
    e.set_reg(X.UC_X86_REG_RIP, ip)


# ---- descriptors -------------------------------------------------------------------
def _table(e, reg: int) -> tuple[int, int]:
    _sel, base, limit, _flags = e.uc.reg_read(reg)
    return base, limit


def _code_segment(state: CpuState, mem: LinearMemory, selector: int, event: Event) -> Segment:
    """The gate's target code segment, checked as the CPU checks it."""
    ext = 1 if event.external else 0
    if selector & ~3 == 0:
        raise DeliveryFault(GP, ext)
    seg = _descriptor(state, mem, selector, ext)
    if not seg.flags & DESC_CODE or not seg.flags & (1 << 12):
        raise DeliveryFault(GP, (selector & ~3) | ext)
    if seg.dpl > state.cpl:
        raise DeliveryFault(GP, (selector & ~3) | ext)
    if not seg.flags & DESC_P:
        raise DeliveryFault(NP, (selector & ~3) | ext)
    return seg


def _descriptor(state: CpuState, mem: LinearMemory, selector: int, ext: int) -> Segment:
    e = state.engine
    base, limit = _table(e, X.UC_X86_REG_LDTR if selector & 4 else X.UC_X86_REG_GDTR)
    index = selector & ~7
    if index + 7 > limit:
        raise DeliveryFault(GP, (selector & ~3) | ext)
    try:
        raw = mem.read_u64(base + index)
    except PageFault as err:
        raise _mem_fault(err)
    return descriptor_to_segment(selector, raw)


def _gate(mem: LinearMemory, state: CpuState, event: Event, size: int) -> tuple[int, int]:
    """(low, high) words of the IDT entry, after the limit, present and DPL checks."""
    base, limit = _table(state.engine, X.UC_X86_REG_IDTR)
    if event.vector * size + size - 1 > limit:
        raise DeliveryFault(GP, _idt_error(event, size))
    try:
        raw = mem.read(base + event.vector * size, size)
    except PageFault as err:
        raise _mem_fault(err)
    lo, hi = struct.unpack_from("<II", raw)
    if event.software and ((hi >> DESC_DPL_SHIFT) & 3) < state.cpl:
        raise DeliveryFault(GP, _idt_error(event, size))
    if not hi & DESC_P:
        raise DeliveryFault(NP, _idt_error(event, size))
    return (lo | (hi << 32), struct.unpack_from("<Q", raw, 8)[0] if size == 16 else 0)


def _new_flags(flags: int, gate_type: int) -> int:
    flags &= ~(RF_TF | RF_NT | RF_RF | RF_VM)
    if gate_type in (GATE_INT16, GATE_INT32):
        flags &= ~RF_IF
    return flags


def _push_frame(state: CpuState, mem: LinearMemory, ss: Segment, sp: int, words: list[int],
                size: int) -> int:
    """Push `words` (first pushed first) on ss:sp; returns the new stack pointer."""
    wrap = _MASK32 if ss.flags & (1 << 22) or state.long_mode else 0xFFFF
    fmt = {2: "<H", 4: "<I", 8: "<Q"}[size]
    data = b"".join(struct.pack(fmt, w & ((1 << (8 * size)) - 1)) for w in reversed(words))
    new_sp = (sp - len(data)) & (wrap if size != 8 else (1 << 64) - 1)
    linear = ss.base + new_sp if size != 8 else new_sp
    try:
        # the CPU pushes from the top down: the higher page faults first
        for page in sorted({linear & ~0xFFF, (linear + len(data) - 1) & ~0xFFF}, reverse=True):
            mem.translate(max(page, linear), write=True)
        mem.write(linear, data)
    except PageFault as err:
        raise DeliveryFault(PF, err.error_code, _push_fault_address(linear, len(data), size,
                                                                    err.address))
    return new_sp


def _push_fault_address(linear: int, length: int, size: int, at: int) -> int:
    """CR2 for a push of `length` bytes at `linear` that faulted in `at`'s page: where
    the first push (from the top) into that page went, or the page's start for a word
    that reaches into it from below."""
    page = at & ~0xFFF
    k = min((page + 0xFFF - linear) // size, length // size - 1)
    return max(linear + k * size, page)


# ---- 32-bit protected mode ---------------------------------------------------------------
def _deliver_protected(state: CpuState, mem: LinearMemory, event: Event) -> None:
    e = state.engine
    raw, _ = _gate(mem, state, event, 8)
    gate_type = (raw >> 40) & 0x1F
    selector = (raw >> 16) & 0xFFFF
    if gate_type == GATE_TASK:
        _switch_task(state, mem, event, selector)
        return
    if gate_type not in (GATE_INT16, GATE_TRAP16, GATE_INT32, GATE_TRAP32):
        raise DeliveryFault(GP, _idt_error(event, 8))
    offset = (raw & 0xFFFF) | ((raw >> 32) & 0xFFFF0000)
    code = _code_segment(state, mem, selector, event)
    conforming = bool(code.flags & (1 << 10))
    old_cpl = state.cpl
    new_cpl = old_cpl if conforming else code.dpl
    size = 4 if gate_type in (GATE_INT32, GATE_TRAP32) else 2
    flags = e.reg(X.UC_X86_REG_RFLAGS)
    old_ss, old_sp = state.segment(SS), e.reg(X.UC_X86_REG_RSP) & _MASK32
    old_cs, eip = state.segment(CS).selector, e.reg(X.UC_X86_REG_RIP) & _MASK32
    vm86 = bool(flags & RF_VM)
    if vm86 and (conforming or code.dpl != 0):       # virtual-8086 mode leaves to ring 0 only
        raise DeliveryFault(GP, (selector & ~3) | (1 if event.external else 0))
    # from virtual-8086 mode the data segments go on the ring-0 stack too, and are
    # nulled: the handler must not run with real-mode style segments
    words = [state.segment(i).selector for i in (GS, FS, DS, ES)] if vm86 else []
    if new_cpl < old_cpl:
        ss, sp = _tss_stack(state, mem, new_cpl, event)
        words += [old_ss.selector, old_sp]
    else:
        ss, sp = old_ss, old_sp
    words += [flags, old_cs, eip]
    if event.vector in ERROR_CODE_VECTORS and not event.software and not event.external:
        words.append(event.error_code or 0)
    sp = _push_frame(state, mem, ss, sp, words, size)
    if ss is not old_ss:
        state.load_segment(SS, ss)
    for index in (GS, FS, DS, ES) if vm86 else ():
        state.load_segment(index, Segment(0, 0, 0, 0))
    state.set_cpl(new_cpl)
    state.load_segment(CS, Segment((selector & ~3) | new_cpl, code.base, code.limit, code.flags))
    if ss.flags & (1 << 22):
        e.set_reg(X.UC_X86_REG_ESP, sp)
    else:
        e.set_reg(X.UC_X86_REG_SP, sp)
    e.set_reg(X.UC_X86_REG_RFLAGS, _new_flags(flags, gate_type))
    e.set_reg(X.UC_X86_REG_RIP, offset if size == 4 else offset & 0xFFFF)


def _switch_task(state: CpuState, mem: LinearMemory, event: Event, tss_selector: int) -> None:
    """A task gate: the CPU switches to the task it names (task_switch.py)."""
    has_code = event.vector in ERROR_CODE_VECTORS and not event.software and not event.external
    try:
        task_switch.switch_through_gate(state, mem, tss_selector,
                                        (event.error_code or 0) if has_code else None,
                                        event.external)
    except task_switch.TaskFault as fault:
        raise DeliveryFault(fault.vector, fault.error_code, fault.cr2, fault.committed)


def _tss_stack(state: CpuState, mem: LinearMemory, cpl: int, event: Event) -> tuple[Segment, int]:
    """SS:ESP for ring `cpl` from the current TSS (32- or 16-bit), SS checked."""
    e = state.engine
    tr_sel, tr_base, tr_limit, tr_flags = e.uc.reg_read(X.UC_X86_REG_TR)
    ext = 1 if event.external else 0
    is32 = ((tr_flags >> 8) & 0xF) in (0x9, 0xB)
    at = 4 + cpl * 8 if is32 else 2 + cpl * 4
    if at + (5 if is32 else 3) > tr_limit:
        raise DeliveryFault(TS, (tr_sel & ~3) | ext)
    try:
        if is32:
            sp, ss_sel = struct.unpack("<IH", mem.read(tr_base + at, 6))
        else:
            sp, ss_sel = struct.unpack("<HH", mem.read(tr_base + at, 4))
    except PageFault as err:
        raise _mem_fault(err)
    if ss_sel & ~3 == 0 or ss_sel & 3 != cpl:
        raise DeliveryFault(TS, (ss_sel & ~3) | ext)
    ss = _descriptor(state, mem, ss_sel, ext)
    writable_data = ss.flags & (1 << 12) and not ss.flags & DESC_CODE and ss.flags & (1 << 9)
    if not writable_data or ss.dpl != cpl:
        raise DeliveryFault(TS, (ss_sel & ~3) | ext)
    if not ss.flags & DESC_P:
        raise DeliveryFault(SSF, (ss_sel & ~3) | ext)
    return ss, sp


# ---- long mode ------------------------------------------------------------------------------
def _deliver_long(state: CpuState, mem: LinearMemory, event: Event) -> None:
    e = state.engine
    lo, hi = _gate(mem, state, event, 16)
    gate_type = (lo >> 40) & 0x1F
    if gate_type not in (GATE_INT32, GATE_TRAP32):
        raise DeliveryFault(GP, _idt_error(event, 16))
    selector = (lo >> 16) & 0xFFFF
    offset = (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF0000) | ((hi & _MASK32) << 32)
    ist = (lo >> 32) & 7
    code = _code_segment(state, mem, selector, event)
    if not code.flags & (1 << 21):
        raise DeliveryFault(GP, selector & ~3)
    old_cpl = state.cpl
    new_cpl = old_cpl if code.flags & (1 << 10) else code.dpl
    flags = e.reg(X.UC_X86_REG_RFLAGS)
    old_ss, rsp = state.segment(SS), e.reg(X.UC_X86_REG_RSP)
    words = [old_ss.selector, rsp, flags, state.segment(CS).selector, e.reg(X.UC_X86_REG_RIP)]
    if new_cpl < old_cpl or ist:
        rsp = _tss_rsp(state, mem, new_cpl, ist, event)
    rsp &= ~0xF
    if event.vector in ERROR_CODE_VECTORS and not event.software and not event.external:
        words.append(event.error_code or 0)
    rsp = _push_frame(state, mem, old_ss, rsp, words, 8)
    if new_cpl < old_cpl:
        state.load_segment(SS, Segment(new_cpl, 0, 0, 0))   # null SS with RPL = new CPL
    state.set_cpl(new_cpl)
    state.load_segment(CS, Segment((selector & ~3) | new_cpl, code.base, code.limit, code.flags))
    e.set_reg(X.UC_X86_REG_RSP, rsp)
    e.set_reg(X.UC_X86_REG_RFLAGS, _new_flags(flags, gate_type))
    e.set_reg(X.UC_X86_REG_RIP, offset)


def _tss_rsp(state: CpuState, mem: LinearMemory, cpl: int, ist: int, event: Event) -> int:
    tr_sel, tr_base, tr_limit, _flags = state.engine.uc.reg_read(X.UC_X86_REG_TR)
    at = 0x24 + (ist - 1) * 8 if ist else 4 + cpl * 8
    if at + 7 > tr_limit:
        raise DeliveryFault(TS, (tr_sel & ~3) | (1 if event.external else 0))
    try:
        return mem.read_u64(tr_base + at)
    except PageFault as err:
        raise _mem_fault(err)
