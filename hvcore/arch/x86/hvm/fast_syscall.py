"""SYSCALL and SYSENTER in HVM guests, carried out as the CPU would.

The engine never carries these two out: its helpers only call the instruction hooks and
move RIP past the instruction (SYSRET and SYSEXIT it does run). Both end the run as a
syscall exit (hvcore/native/exits.c), and here the vCPU's state is changed as the
manuals say: AMD's APM vol. 3 and Intel's SDM vol. 2 (SYSCALL in long, compatibility
and legacy protected mode; SYSENTER in protected and IA-32e mode).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import x86_const as X

from hvcore.arch.x86.hvm import delivery
from hvcore.arch.x86.hvm.cpu_state import (CS, DESC_B, DESC_CODE, DESC_G, DESC_L, DESC_P,
                                           DESC_S, MSR_EFER, SS, Segment)
from hvcore.arch.x86.hvm.delivery import Event

if TYPE_CHECKING:
    from hvcore.arch.x86.hvm.vcpu import HvmVcpu

EFER_SCE = 1
MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_FMASK = 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084
MSR_SYSENTER_CS, MSR_SYSENTER_ESP, MSR_SYSENTER_EIP = 0x174, 0x175, 0x176
RFLAGS_IF, RFLAGS_RF, RFLAGS_VM = 1 << 9, 1 << 16, 1 << 17

_ACCESSED, _READ_WRITE = 1 << 8, 1 << 9           # descriptor type bits
_FLAT_CODE = DESC_G | DESC_P | DESC_S | DESC_CODE | _READ_WRITE | _ACCESSED
CODE64 = _FLAT_CODE | DESC_L
CODE32 = _FLAT_CODE | DESC_B
DATA = DESC_G | DESC_B | DESC_P | DESC_S | _READ_WRITE | _ACCESSED


def emulate(vcpu: "HvmVcpu", sysenter: bool) -> Event | None:
    """Carry out the SYSCALL (or SYSENTER) just before RIP, as the exit said which (no
    decode). None when done; otherwise the fault to deliver, RIP put back on the
    instruction (both are 2 bytes)."""
    e = vcpu.engine
    rip = e.reg(X.UC_X86_REG_RIP)
    fault = _sysenter(vcpu) if sysenter else _syscall(vcpu, rip)
    if fault is not None:
        e.set_reg(X.UC_X86_REG_RIP, rip - 2)
    return fault


def _syscall(vcpu: "HvmVcpu", next_rip: int) -> Event | None:
    e, state = vcpu.engine, vcpu.state
    msr = e.uc.msr_read
    if not msr(MSR_EFER) & EFER_SCE or not state.protected:
        return Event(delivery.UD)
    star, rflags = msr(MSR_STAR), e.reg(X.UC_X86_REG_EFLAGS)
    selector = (star >> 32) & 0xFFFC
    if state.long_mode:
        target = msr(MSR_LSTAR) if state.code64 else msr(MSR_CSTAR)
        e.set_reg(X.UC_X86_REG_RCX, next_rip)
        e.set_reg(X.UC_X86_REG_R11, rflags & ~RFLAGS_RF)
        rflags &= ~(msr(MSR_FMASK) | RFLAGS_RF)
        code = CODE64
    else:
        target = star & 0xFFFFFFFF
        e.set_reg(X.UC_X86_REG_RCX, next_rip & 0xFFFFFFFF)
        rflags &= ~(RFLAGS_IF | RFLAGS_VM | RFLAGS_RF)
        code = CODE32
    _enter_ring0(vcpu, selector, code, rflags, target)
    return None


def _sysenter(vcpu: "HvmVcpu") -> Event | None:
    e, state = vcpu.engine, vcpu.state
    msr = e.uc.msr_read
    selector = msr(MSR_SYSENTER_CS) & 0xFFFC
    if not state.protected or not selector:
        return Event(delivery.GP, 0)
    mask = (1 << 64) - 1 if state.long_mode else 0xFFFFFFFF
    e.set_reg(X.UC_X86_REG_RSP, msr(MSR_SYSENTER_ESP) & mask)
    rflags = e.reg(X.UC_X86_REG_EFLAGS) & ~(RFLAGS_IF | RFLAGS_VM | RFLAGS_RF)
    _enter_ring0(vcpu, selector, CODE64 if state.long_mode else CODE32, rflags,
                 msr(MSR_SYSENTER_EIP) & mask)
    return None


def _enter_ring0(vcpu: "HvmVcpu", selector: int, code: int, rflags: int, rip: int) -> None:
    """Flat CS at `selector` and SS at `selector` + 8, both DPL 0, as both instructions
    load them (from the MSR, not from the GDT)."""
    state, e = vcpu.state, vcpu.engine
    state.load_segment(SS, Segment(selector + 8, 0, 0xFFFFFFFF, DATA))
    state.load_segment(CS, Segment(selector, 0, 0xFFFFFFFF, code))
    state.set_cpl(0)
    e.set_reg(X.UC_X86_REG_EFLAGS, rflags)
    e.set_reg(X.UC_X86_REG_RIP, rip)
