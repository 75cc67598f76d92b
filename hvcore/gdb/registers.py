"""Register layouts gdb sees for a vCPU, and the target descriptions that name them.

The numbering follows gdb's x86 features (core, sse, segments), so gdb recognises the
architecture; the control registers are in a feature of our own. Values are the
guest's view, as Xen shows a PV vCPU: a 64-bit kernel (running in ring 3) sees its CS
with RPL 0, EFLAGS carries the virtual IF (!upcall_mask) and IOPL, and CR0/CR2/CR3/CR4
are what the guest reads with `mov from cr`. HVM vCPUs (hvcore/gdb/hvm.py) use the
same numbering plus EFER, with the CPU's own values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from unicorn import x86_const as X

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU

CORE, SSE, SEGMENTS, SYSTEM = ("org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse",
                               "org.gnu.gdb.i386.segments", "org.hvcore.x86.system")
EFLAGS_IF = 1 << 9
EFLAGS_IOPL = 3 << 12


@dataclass(frozen=True)
class Reg:
    name: str
    bits: int
    type: str
    feature: str
    source: str          # the engine register (UC_X86_REG_<source>) or a guest-view name


@dataclass(frozen=True)
class Layout:
    architecture: str
    regs: tuple[Reg, ...]

    def index(self, name: str) -> int:
        return next(i for i, r in enumerate(self.regs) if r.name == name)


def _x87(before: list[Reg]) -> list[Reg]:
    regs = [Reg(f"st{i}", 80, "i387_ext", CORE, f"ST{i}") for i in range(8)]
    for name, src in (("fctrl", "FPCW"), ("fstat", "FPSW"), ("ftag", "FPTAG"), ("fiseg", "FCS"),
                      ("fioff", "FIP"), ("foseg", "FDS"), ("fooff", "FDP"), ("fop", "FOP")):
        regs.append(Reg(name, 32, "int", CORE, src))
    return before + regs


def _segments(bits: int) -> list[Reg]:
    return [Reg(s, bits, "int32", CORE, s.upper()) for s in ("cs", "ss", "ds", "es", "fs", "gs")]


def _layout(architecture: str, bits: int, gpr_names: list[str], ip: str, xmms: int,
            bases_feature: str) -> Layout:
    """gdb's core numbering (GPRs, IP, EFLAGS, segments, x87), SSE, the segment bases
    and our control registers."""
    word = f"int{bits}"
    gprs = [Reg(n, bits, "data_ptr" if n[1:] in ("sp", "bp") else word, CORE, n.upper())
            for n in gpr_names]
    gprs += [Reg(ip, bits, "code_ptr", CORE, ip.upper()), Reg("eflags", 32, "x86_eflags", CORE, "eflags")]
    regs = _x87(gprs + _segments(32))
    regs += [Reg(f"xmm{i}", 128, "vec128", SSE, f"XMM{i}") for i in range(xmms)]
    regs += [Reg("mxcsr", 32, "int", SSE, "MXCSR")]
    regs += [Reg(b, bits, "int", bases_feature, b.upper()) for b in ("fs_base", "gs_base")]
    regs += [Reg(c, bits, "int", SYSTEM, c) for c in ("cr0", "cr2", "cr3", "cr4")]
    return Layout(architecture, tuple(regs))


_GPRS_64 = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"] + [f"r{i}" for i in range(8, 16)]
_GPRS_32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]
LAYOUT_64 = _layout("i386:x86-64", 64, _GPRS_64, "rip", 16, SEGMENTS)
# gdb takes the segments feature for amd64 only: for i386 the bases are in ours
LAYOUT_32 = _layout("i386", 32, _GPRS_32, "eip", 8, SYSTEM)




def _with_efer(layout: Layout, architecture: str | None = None) -> Layout:
    """An HVM vCPU's layout: the PV one plus EFER (the mode a guest climbs through)."""
    bits = 64 if layout.architecture == "i386:x86-64" else 32
    return Layout(architecture or layout.architecture,
                  layout.regs + (Reg("efer", bits, "int", SYSTEM, "efer"),))


HVM_LAYOUT_64 = _with_efer(LAYOUT_64)
HVM_LAYOUT_32 = _with_efer(LAYOUT_32)
# real mode: the i386 registers, and gdb told to disassemble 16-bit code
HVM_LAYOUT_16 = _with_efer(LAYOUT_32, "i8086")


def layout_for(v: "VCPU") -> Layout:
    return LAYOUT_64 if v.is_64bit else LAYOUT_32


# ---- the target description (qXfer:features:read:target.xml) -----------------------
_TYPES = {
    CORE: ('<flags id="x86_eflags" size="4">'
           + "".join(f'<field name="{n}" start="{b}" end="{b}"/>' for n, b in
                     (("CF", 0), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8),
                      ("IF", 9), ("DF", 10), ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17),
                      ("AC", 18), ("VIF", 19), ("VIP", 20), ("ID", 21)))
           + "</flags>"),
    SSE: ('<vector id="v4f" type="ieee_single" count="4"/>'
          '<vector id="v2d" type="ieee_double" count="2"/>'
          '<vector id="v16i8" type="int8" count="16"/>'
          '<vector id="v4i32" type="int32" count="4"/>'
          '<vector id="v2i64" type="int64" count="2"/>'
          '<union id="vec128"><field name="v4_float" type="v4f"/>'
          '<field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/>'
          '<field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>'
          '<field name="uint128" type="uint128"/></union>'),
}


def target_xml(layout: Layout) -> bytes:
    parts = ['<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">',
             f"<target><architecture>{layout.architecture}</architecture>"]
    features: list[str] = []
    for r in layout.regs:
        if r.feature not in features:
            features.append(r.feature)
    for feature in features:
        parts.append(f'<feature name="{feature}">{_TYPES.get(feature, "")}')
        for num, r in enumerate(layout.regs):
            if r.feature == feature:
                group = ' group="system"' if feature == SYSTEM else ""
                parts.append(f'<reg name="{r.name}" bitsize="{r.bits}" type="{r.type}"'
                             f' regnum="{num}"{group}/>')
        parts.append("</feature>")
    parts.append("</target>")
    return "".join(parts).encode()


# ---- values -------------------------------------------------------------------------
def read(v: "VCPU", r: Reg) -> bytes:
    size = r.bits // 8
    if r.source == "eflags":
        value = guest_eflags(v)
    elif r.source == "CS":
        value = guest_cs(v)
    elif r.source.startswith("cr"):
        from hvcore.arch.x86.pv.emul_priv_op import read_control_register
        value = read_control_register(v, r.source) or 0
    elif r.bits > 64:
        return v.engine.reg_bytes(getattr(X, "UC_X86_REG_" + r.source), size)
    else:
        value = v.reg(getattr(X, "UC_X86_REG_" + r.source))
    return (value & ((1 << r.bits) - 1)).to_bytes(size, "little")


def write(v: "VCPU", r: Reg, data: bytes) -> bool:
    """Change one register; False where the guest could not have done it either
    (segments, control registers): those may only be written back unchanged."""
    if r.source == "eflags":
        set_guest_eflags(v, int.from_bytes(data, "little"))
        return True
    if r.source in ("CS", "SS", "DS", "ES", "FS", "GS") or r.source.startswith("cr"):
        return read(v, r) == data
    if r.bits > 64:
        v.engine.set_reg_bytes(getattr(X, "UC_X86_REG_" + r.source), data)
    else:
        v.set_reg(getattr(X, "UC_X86_REG_" + r.source), int.from_bytes(data, "little"))
    return True


def guest_cs(v: "VCPU") -> int:
    """A 64-bit PV kernel runs in ring 3; Xen shows its selectors with RPL 0."""
    cs = v.guest_cs()
    if v.is_64bit and v.state.kernel_mode:
        cs &= ~3
    return cs


def guest_eflags(v: "VCPU") -> int:
    from hvcore.arch.x86.pv.traps import frame_flags
    return frame_flags(v, v.reg(X.UC_X86_REG_RFLAGS), v.upcall_mask)


def set_guest_eflags(v: "VCPU", value: int) -> None:
    """Arithmetic and trap flags go to the CPU; IF is the guest's upcall mask; the
    real IF and IOPL stay the hypervisor's."""
    real = v.reg(X.UC_X86_REG_RFLAGS)
    keep = EFLAGS_IF | EFLAGS_IOPL
    v.set_reg(X.UC_X86_REG_RFLAGS, (real & keep) | (value & ~keep & 0x3F7FD7) | 2)
    v.upcall_mask = 0 if value & EFLAGS_IF else 1
