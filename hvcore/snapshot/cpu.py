"""One vCPU's architectural state, out of an engine and back into another one.

Used for PV and HVM vCPUs alike. What the engine keeps of the CPU is taken whole:
general registers, RIP/RFLAGS, control registers and EFER, the six segment registers
with their hidden parts (base, limit, attributes: a guest may have changed its GDT
since it loaded them, so reloading from the table would not give them back), GDTR,
IDTR, LDTR, TR, the system-call MSRs, debug registers, x87/SSE, and the engine's mode
word (`hflags`: CPL, code size, interrupt shadow) written back last, as it was.

The engine's own state is not portable between processes (it holds pointers), so we
never copy its memory image: each field goes through the register API or, for the
hidden segment parts and hflags, the documented offsets of hvcore/arch/x86/hvm/cpu_state.py.
"""
from __future__ import annotations

import ctypes

from unicorn import UcError
from unicorn import x86_const as X

from hvcore import engine as eng

GPRS = {name: getattr(X, f"UC_X86_REG_{name.upper()}") for name in
        ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
         "r12", "r13", "r14", "r15", "rip", "rflags", "cr2", "fpcw", "fpsw", "fptag", "mxcsr")}
# written in this order: paging state before the mode that needs it (PAE before LME/PG)
CONTROL = (("cr4", X.UC_X86_REG_CR4), ("cr3", X.UC_X86_REG_CR3))
DEBUG = {f"dr{i}": getattr(X, f"UC_X86_REG_DR{i}") for i in (0, 1, 2, 3, 6, 7)}
TABLES = {"gdtr": X.UC_X86_REG_GDTR, "idtr": X.UC_X86_REG_IDTR,
          "ldtr": X.UC_X86_REG_LDTR, "tr": X.UC_X86_REG_TR}
MSRS = (0x174, 0x175, 0x176,                          # SYSENTER_CS/ESP/EIP
        0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084,   # STAR, LSTAR, CSTAR, SFMASK
        0xC0000102)                                   # KERNEL_GS_BASE
MSR_EFER = 0xC0000080
FPU_WIDE = {**{f"st{i}": (getattr(X, f"UC_X86_REG_ST{i}"), 10) for i in range(8)},
            **{f"xmm{i}": (getattr(X, f"UC_X86_REG_XMM{i}"), 16) for i in range(16)}}


def capture_cpu(engine: eng.Engine) -> dict:
    """The vCPU's state as plain values (JSON-able: wide registers as hex)."""
    from hvcore.arch.x86.hvm.cpu_state import SEGMENT_REGS, CpuState
    uc = engine.uc
    cpu = CpuState(engine)
    out: dict = {name: engine.reg(reg) for name, reg in GPRS.items()}
    out.update({name: engine.reg(reg) for name, reg in CONTROL})
    out["cr0"] = engine.reg(X.UC_X86_REG_CR0)
    out["efer"] = uc.msr_read(MSR_EFER)
    out.update({name: engine.reg(reg) for name, reg in DEBUG.items()})
    out["tables"] = {name: list(uc.reg_read(reg)) for name, reg in TABLES.items()}
    out["msrs"] = {f"{msr:#x}": _msr(uc, msr) for msr in MSRS}
    out["fpu"] = {name: engine.reg_bytes(reg, size).hex() for name, (reg, size) in FPU_WIDE.items()}
    out["segments"] = [[s.selector, s.base, s.limit, s.flags]
                       for s in (cpu.segment(i) for i in sorted(SEGMENT_REGS))]
    out["hflags"] = cpu.hflags.value
    out["hflags2"] = _hflags2(engine).value
    return out


def restore_cpu(engine: eng.Engine, state: dict) -> None:
    """Put `state` (from capture_cpu) into `engine`: the vCPU goes on from there."""
    from hvcore.arch.x86.hvm.cpu_state import Segment, CpuState
    uc = engine.uc
    for name, reg in CONTROL:
        engine.set_reg(reg, state[name])
    uc.msr_write(MSR_EFER, state["efer"])
    engine.set_reg(X.UC_X86_REG_CR0, state["cr0"])
    for name, reg in TABLES.items():
        uc.reg_write(reg, tuple(state["tables"][name]))
    cpu = CpuState(engine)
    for index, (selector, base, limit, flags) in enumerate(state["segments"]):
        cpu.load_segment(index, Segment(selector, base, limit, flags))
    for msr, value in state["msrs"].items():
        if value is not None:
            uc.msr_write(int(msr, 16), value)
    for name, reg in {**GPRS, **DEBUG}.items():
        engine.set_reg(reg, state[name])
    for name, (reg, _size) in FPU_WIDE.items():
        engine.set_reg_bytes(reg, bytes.fromhex(state["fpu"][name]))
    cpu.hflags.value = state["hflags"]
    _hflags2(engine).value = state["hflags2"]
    engine.flush_tlb()
    uc.ctl_flush_tb()          # code translated from the memory that was there before


def _msr(uc, msr: int) -> int | None:
    try:
        return uc.msr_read(msr)
    except UcError:
        return None            # not one this engine keeps


def _hflags2(engine: eng.Engine) -> ctypes.c_uint32:
    """CPUX86State.hflags2 (GIF, NMI blocking) follows hflags."""
    return ctypes.c_uint32.from_address(ctypes.addressof(engine.cpu.hflags) + 4)
