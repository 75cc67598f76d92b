"""gdb's view of an HVM or PVH domain: the PC's CPUs as they are, in any mode.

- Registers: the i386 layout (as a 32-bit x86 target) until the vCPU is in long mode,
  then x86-64; in real mode the i386 registers with `i8086` as the architecture, so gdb
  disassembles 16-bit code. gdb reads a target description once, when it connects, so
  the layout is chosen then (`Stub.layout`) and kept for the session: a guest that
  climbs to long mode is seen with the x86-64 layout from the next connection on.
  A directly booted 64-bit ELF gets x86-64 from the start (gdb refuses an i386
  description with an x86-64 file).
  Values are the CPU's own: EFLAGS with the real IF and IOPL, the selectors, CR0-CR4,
  EFER; FS/GS bases are the segment caches' (the MSRs in long mode).
- Memory: guest linear addresses through the vCPU's current paging mode
  (`LinearMemory`: none, 32-bit, PAE, 4-level; the A20 gate too). In real mode a linear
  address is segment * 16 + offset, so gdb's `x/i $cs*16+$eip` reads CS:IP.
- Breakpoints: the engine's code hooks are on linear addresses (CS base + EIP, tested in
  tests/test_gdb_hvm.py), so a breakpoint needs no translation; its hook fires at any
  CS:IP that reaches it. Watchpoints watch the physical frames behind the range (the
  engine checks memory hooks by physical address), as for PV.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import x86_const as X

from hvcore.arch.x86.hvm.cpu_state import CS, DS, ES, FS, GS, SS
from hvcore.arch.x86.paging import PageFault
from hvcore.gdb import guest_memory, registers
from hvcore.gdb.guest_memory import Unmapped

if TYPE_CHECKING:
    from hvcore.arch.x86.hvm.vcpu import HvmVcpu
    from hvcore.gdb.breakpoints import Breakpoints
    from hvcore.hvm.domain import HvmDomain
    from hvcore.replay.checkpoints import Reverser

MSR_EFER = 0xC0000080
RFLAGS_VM = 1 << 17
_SEGMENTS = {"ES": ES, "CS": CS, "SS": SS, "DS": DS, "FS": FS, "GS": GS}
_BASES = {"FS_BASE": FS, "GS_BASE": GS}
_CONTROL = {"cr0": X.UC_X86_REG_CR0, "cr2": X.UC_X86_REG_CR2, "cr3": X.UC_X86_REG_CR3,
            "cr4": X.UC_X86_REG_CR4}
_GPR_TYPES = ("int32", "data_ptr", "code_ptr")


def mode_name(v: "HvmVcpu") -> str:
    st = v.state
    if not st.protected:
        return "real mode"
    if v.engine.reg(X.UC_X86_REG_RFLAGS) & RFLAGS_VM:
        return "virtual-8086 mode"
    if st.long_mode:
        return "64-bit mode" if st.code64 else "compatibility mode"
    return "protected mode" + ("" if st.code32 else ", 16-bit code")


def layout_for(v: "HvmVcpu") -> registers.Layout:
    if v.state.long_mode or kernel_is_64bit(v.domain):
        return registers.HVM_LAYOUT_64
    return registers.HVM_LAYOUT_32 if v.state.protected else registers.HVM_LAYOUT_16


def kernel_is_64bit(dom: "HvmDomain") -> bool:
    """A directly booted 64-bit ELF (PVH, Multiboot) starts in 32-bit code, yet gdb,
    given its file, accepts only the x86-64 layout: that one from the start, as
    qemu-system-x86_64 shows 32-bit code (upper halves zero)."""
    options = dom.build_options
    if "--kernel" not in options:
        return False
    try:
        with open(options[options.index("--kernel") + 1], "rb") as f:
            header = f.read(5)
    except (OSError, IndexError):
        return False
    return header[:4] == b"\x7fELF" and header[4] == 2     # ELFCLASS64


def read_register(v: "HvmVcpu", r: registers.Reg) -> bytes:
    size, e, src = r.bits // 8, v.engine, r.source
    if r.bits > 64:
        return e.reg_bytes(getattr(X, "UC_X86_REG_" + src), size)
    if src == "eflags":
        value = e.reg(X.UC_X86_REG_RFLAGS)
    elif src in _SEGMENTS:
        value = v.state.segment(_SEGMENTS[src]).selector
    elif src in _BASES:
        value = v.state.segment(_BASES[src]).base
    elif src in _CONTROL:
        value = e.reg(_CONTROL[src])
    elif src == "efer":
        value = e.uc.msr_read(MSR_EFER)
    else:
        value = e.reg(getattr(X, "UC_X86_REG_" + src))
    return (value & ((1 << r.bits) - 1)).to_bytes(size, "little")


def write_register(v: "HvmVcpu", r: registers.Reg, data: bytes) -> bool:
    """General, x87 and SSE registers, EIP and EFLAGS (not its VM bit) change; segment
    registers in real mode (a selector is then its base / 16); the rest, which would
    need the CPU's checks of a mode change or a descriptor load, only as they are."""
    e, src, value = v.engine, r.source, int.from_bytes(data, "little")
    if r.bits > 64:
        e.set_reg_bytes(getattr(X, "UC_X86_REG_" + src), data)
    elif src == "eflags":
        vm = e.reg(X.UC_X86_REG_RFLAGS) & RFLAGS_VM
        e.set_reg(X.UC_X86_REG_RFLAGS, (value & ~RFLAGS_VM & 0x3F7FD7) | vm | 2)
    elif src in _SEGMENTS and not v.state.protected:
        v.state.load_real_mode_segment(_SEGMENTS[src], value & 0xFFFF)
    elif src in _SEGMENTS or src in _BASES or src in _CONTROL or src == "efer":
        return read_register(v, r) == data
    elif r.bits == 32 and r.type in _GPR_TYPES:   # the i386 layout: the upper half stays
        reg = getattr(X, "UC_X86_REG_" + src)
        e.set_reg(reg, (e.reg(reg) & ~0xFFFFFFFF) | value)
    else:
        e.set_reg(getattr(X, "UC_X86_REG_" + src), value)
    return True


def paddr(v: "HvmVcpu", linear: int) -> int:
    """The physical address behind a linear one, as the CPU would reach it now (with
    supervisor rights; Unmapped where the guest's tables map nothing)."""
    try:
        return v.mem.translate(linear & ((1 << 64) - 1))
    except PageFault:
        raise Unmapped(linear) from None


def read_memory(v: "HvmVcpu", linear: int, length: int) -> bytes:
    """As much as is mapped from `linear` on (gdb accepts a short read)."""
    return guest_memory.read(v, linear, length, translate=paddr)


def write_memory(v: "HvmVcpu", linear: int, data: bytes) -> None:
    """Past the guest's write protection (gdb patches code); the engines forget what
    they translated from there."""
    guest_memory.write(v, linear, data, translate=paddr)


def linear_pc(v: "HvmVcpu") -> int:
    """Where the vCPU's code hooks see it: CS base + RIP."""
    return v.state.segment(CS).base + v.rip


class HvmTarget:
    """An HVM or PVH domain (hvcore/hvm/domain.py)."""

    def __init__(self, dom: "HvmDomain") -> None:
        self.dom = dom

    def layout(self, v: "HvmVcpu") -> registers.Layout:
        return layout_for(v)

    def read_register(self, v: "HvmVcpu", r: registers.Reg) -> bytes:
        return read_register(v, r)

    def write_register(self, v: "HvmVcpu", r: registers.Reg, data: bytes) -> bool:
        return write_register(v, r, data)

    def read_memory(self, v: "HvmVcpu", addr: int, length: int) -> bytes:
        return read_memory(v, addr, length)

    def write_memory(self, v: "HvmVcpu", addr: int, data: bytes) -> None:
        write_memory(v, addr, data)

    def paddr(self, v: "HvmVcpu", addr: int) -> int:
        return paddr(v, addr)

    def pc(self, v: "HvmVcpu") -> int:
        return linear_pc(v)

    def step(self, v: "HvmVcpu", points: "Breakpoints") -> None:
        if not v.runnable():
            return
        if self._session() is None:
            from hvcore.hvm.run import apply_requests
            apply_requests(self.dom)      # a pending request's doorbell would stop the step
        pc = linear_pc(v)
        points.pass_once(v.id, pc)
        v.step_instruction()
        points.end_pass(v.id)

    def thread_info(self, v: "HvmVcpu") -> str:
        if v.waiting_for_sipi:
            state = ", waiting for STARTUP"
        else:
            state = ", halted" if v.halted else ""
        return f"vcpu{v.id} ({mode_name(v)}{state})"

    def monitor(self, line: str) -> str:
        from hvcore.gdb.monitor import run_hvm
        return run_hvm(self.dom, line)

    def _session(self):
        return self.dom.xen.dom.replay if self.dom.xen is not None else None

    def reverser(self) -> "Reverser | None":
        session = self._session()
        return getattr(session, "reverser", None) if session is not None else None
