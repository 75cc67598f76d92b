"""Crashing a domain with a report a person can act on."""
from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from capstone import CS_ARCH_X86, CS_MODE_32, CS_MODE_64, Cs
from unicorn import x86_const as X

from hvcore.arch.x86 import paging

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU

_REGS_64 = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
            "r11", "r12", "r13", "r14", "r15", "rip", "rflags"]
_REGS_32 = ["eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eip", "eflags"]


def describe_bug(err: BaseException) -> str:
    """One line for a hypervisor bug: what was raised and where (innermost frame)."""
    tb = traceback.extract_tb(err.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno} in {tb[-1].name}" if tb else ""
    return f"{type(err).__name__}: {err}{where}"


def crash_domain(v: "VCPU", why: str) -> None:
    v.domain.crash(crash_report(v, why))


def crash_report(v: "VCPU", why: str) -> str:
    dom = v.domain
    lines = [f"d{dom.domid} ({dom.name}) vcpu{v.id} crashed: {why}",
             f"  mode: {'64-bit' if v.is_64bit else '32-bit PAE'} PV,"
             f" guest {'kernel' if v.in_kernel() else 'user'} mode, CPL {v.engine.cpl}"]
    lines += _registers(v)
    lines += _disassembly(v)
    if dom.hypercall_log:
        lines.append("  last hypercalls:")
        for rec in list(dom.hypercall_log)[-6:]:
            args = ", ".join(f"{a:#x}" for a in rec.args[:3])
            lines.append(f"    {rec.name}({args}) = {rec.result if rec.result is not None else '-'}")
    return "\n".join(lines)


def _registers(v: "VCPU") -> list[str]:
    names = _REGS_64 if v.is_64bit else _REGS_32
    width = 16 if v.is_64bit else 8
    values = [f"{n:>6}={v.reg(getattr(X, 'UC_X86_REG_' + n.upper())):0{width}x}" for n in names]
    values += [f"{n:>6}={v.reg(getattr(X, 'UC_X86_REG_' + n.upper())):04x}"
               for n in ("cs", "ss", "ds", "es")]
    values += [f"{n:>6}={v.reg(getattr(X, 'UC_X86_REG_' + n.upper())):x}" for n in ("cr2", "cr3")]
    per_line = 4
    return ["  " + " ".join(values[i:i + per_line]) for i in range(0, len(values), per_line)]


def _disassembly(v: "VCPU") -> list[str]:
    rip = v.rip
    compat = not v.is_64bit or v.guest_cs() == 0xE023
    md = Cs(CS_ARCH_X86, CS_MODE_32 if compat else CS_MODE_64)
    start = max(rip - 16, 0)
    try:
        code = v.read_virt(start, 48)
    except (paging.PageFault, Exception):   # noqa: BLE001 - RIP itself may be the problem
        try:
            code, start = v.read_virt(rip, 32), rip
        except (paging.PageFault, Exception):   # noqa: BLE001
            return [f"  code: nothing mapped at {rip:#x}"]
    out = ["  code:"]
    # decode from a few starting points; keep the one that lands exactly on RIP
    for skew in range(0, 16):
        insns = list(md.disasm(code[skew:], start + skew))
        if any(i.address == rip for i in insns):
            break
    else:
        insns = list(md.disasm(code[rip - start:], rip))
    near = [i for i in insns if rip - 16 <= i.address <= rip + 16][:8]
    for i in near:
        mark = "=>" if i.address == rip else "  "
        out.append(f"  {mark} {i.address:#x}: {i.bytes.hex():<20} {i.mnemonic} {i.op_str}")
    return out
