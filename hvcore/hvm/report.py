"""What a crashed HVM vCPU looked like: mode, registers, the bytes at CS:RIP."""
from __future__ import annotations

from unicorn import x86_const as X

from hvcore.arch.x86.hvm.cpu_state import CS, SS

_REGS = ("RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "RIP", "RFLAGS",
         "CR0", "CR2", "CR3", "CR4")


def vcpu_report(vcpu) -> str:
    e, st = vcpu.engine, vcpu.state
    mode = "long" if st.long_mode else "protected" if st.protected else "real"
    lines = [f"vCPU{vcpu.id}: {mode} mode, CPL {st.cpl}, CS {st.segment(CS).selector:#06x}"
             f" base {st.segment(CS).base:#x}, SS {st.segment(SS).selector:#06x}"]
    regs = [f"{r.lower():>6}={e.reg(getattr(X, 'UC_X86_REG_' + r)):#018x}" for r in _REGS]
    lines += ["  ".join(regs[i:i + 4]) for i in range(0, len(regs), 4)]
    try:
        code = vcpu.mem.read(st.segment(CS).base + vcpu.rip, 16)
        lines.append(f"code at CS:RIP: {code.hex(' ')}")
    except Exception:          # noqa: BLE001 - a report never fails
        lines.append("code at CS:RIP: unreadable")
    return "\n".join(lines)
