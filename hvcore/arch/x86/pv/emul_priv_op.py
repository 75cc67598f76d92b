"""Emulation of the privileged instructions a PV guest kernel may execute.

Accepts what Xen's PV privileged-op emulation accepts (xen/arch/x86/pv/emul-priv-op.c):
clts, wbinvd, mov to/from CR0/2/3/4 and
DR0-7, rdmsr/wrmsr of the MSRs Xen answers, rdtsc/rdtscp, cpuid, xsetbv, and cli/sti as
no-ops where the virtual IOPL allows. Anything else (hlt included) returns False and the
caller bounces #GP to the guest. Port I/O never faults in the engine: it is checked
here (`io_in`/`io_out`, against the virtual IOPL and I/O bitmap) from an I/O hook.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from capstone import CS_ARCH_X86, CS_MODE_32, CS_MODE_64, Cs, CsError
from capstone import x86_const as C
from unicorn import x86_const as X

from hvcore.arch.x86 import paging
from hvcore.arch.x86.pv import cpuid as cpuid_policy
from hvcore.public import xen as XEN

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU

MSR_EFER = 0xC0000080
MSR_FS_BASE = 0xC0000100
MSR_GS_BASE = 0xC0000101
MSR_SHADOW_GS_BASE = 0xC0000102
MSR_TSC = 0x10
MSR_PAT = 0x277
MSR_MISC_ENABLE = 0x1A0

CR0_TS = 1 << 3
XEN_EMULATE_CPUID = b"\x0f\x0bxen\x0f\xa2"     # ud2a; .ascii "xen"; cpuid
# What a PV guest sees in CR0 and CR4 (paging, protection, WP, ET, NE, MP; PAE...)
GUEST_CR0 = 0x80050033
GUEST_CR4 = 0x000006A0

_cs64 = Cs(CS_ARCH_X86, CS_MODE_64)
_cs64.detail = True
_cs32 = Cs(CS_ARCH_X86, CS_MODE_32)
_cs32.detail = True
_decode_cache: dict[tuple[bool, int, bytes], object] = {}


def decode(v: "VCPU", rip: int | None = None):
    """Decode the instruction at RIP (cached by mode, address and bytes)."""
    rip = v.rip if rip is None else rip
    try:
        raw = v.read_virt(rip, 15)
    except paging.PageFault:
        raw = v.read_virt(rip, 4096 - (rip & 0xFFF))
    compat = _is_compat_code(v)
    key = (compat, rip, raw)
    insn = _decode_cache.get(key)
    if insn is None:
        try:
            insn = next((_cs32 if compat else _cs64).disasm(raw, rip, 1), None)
        except CsError:
            insn = None
        if len(_decode_cache) > 65536:
            _decode_cache.clear()
        _decode_cache[key] = insn
    return insn


def decode_or_none(v: "VCPU"):
    """The instruction at RIP, or None when it cannot be read or decoded."""
    try:
        return decode(v)
    except paging.PageFault:
        return None


def _is_compat_code(v: "VCPU") -> bool:
    return not v.is_64bit or v.guest_cs() == 0xE023


def insn_writes_memory(v: "VCPU") -> bool:
    insn = decode_or_none(v)
    if insn is None:
        return False
    if insn.mnemonic.split()[0] in ("push", "call", "pushf", "pushfq", "enter") or \
            insn.mnemonic.startswith(("stos", "movs")):
        return True
    return any(op.type == C.X86_OP_MEM and op.access & 2 for op in insn.operands)


_SEGMENT_REGS = {"ds", "es", "fs", "gs", "ss", "cs"}


def segment_error_code(v: "VCPU") -> int:
    """The error code the CPU pushes for #TS/#NP/#SS/#GP raised by a segment load:
    the selector with RPL cleared (0 when the instruction loads no selector)."""
    insn = decode_or_none(v)
    if insn is None:
        return 0
    mnemonic = insn.mnemonic
    try:
        if mnemonic == "mov" and insn.reg_name(insn.operands[0].reg) in _SEGMENT_REGS:
            src = insn.operands[1]
            if src.type == C.X86_OP_REG:
                return read_gpr(v, insn, src.reg) & 0xFFFC
            return 0
        if mnemonic == "pop" and insn.reg_name(insn.operands[0].reg) in _SEGMENT_REGS:
            sp = v.reg(X.UC_X86_REG_RSP)
            return int.from_bytes(v.read_virt(sp, 2), "little") & 0xFFFC
    except (paging.PageFault, KeyError, IndexError):
        return 0
    return 0


def _guest_cpl(v: "VCPU") -> int:
    """Xen's view: a PV kernel counts as ring 1 for IOPL checks (ring 0 with
    VMASST_TYPE_architectural_iopl, as the kernel believes it is), user as ring 3."""
    if not v.in_kernel():
        return 3
    return 0 if v.domain.vm_assist >> XEN.VMASST_TYPE_architectural_iopl & 1 else 1


def iopl_ok(v: "VCPU") -> bool:
    return _guest_cpl(v) <= v.state.iopl


def emulate(v: "VCPU") -> bool:
    """Emulate the instruction at RIP after a #GP; True if done (RIP advanced)."""
    insn = decode_or_none(v)
    if insn is None:
        return False
    handler = _HANDLERS.get(insn.mnemonic)
    if handler is None or not handler(v, insn):
        return False
    v.rip = v.rip + insn.size
    return True


def forced_emulation(v: "VCPU") -> bool:
    """Xen's `ud2a; .ascii "xen"; cpuid`: emulate the cpuid, skip all 7 bytes."""
    try:
        if v.read_virt(v.rip, len(XEN_EMULATE_CPUID)) != XEN_EMULATE_CPUID:
            return False
    except paging.PageFault:
        return False
    do_cpuid(v)
    v.rip = v.rip + len(XEN_EMULATE_CPUID)
    return True


# ---- instructions -------------------------------------------------------------------
def do_cpuid(v: "VCPU") -> None:
    leaf = v.reg(X.UC_X86_REG_EAX) & 0xFFFFFFFF
    subleaf = v.reg(X.UC_X86_REG_ECX) & 0xFFFFFFFF
    regs = cpuid_policy.pv_leaf(v, leaf, subleaf)
    if regs is None:   # not one of ours: what the engine's CPU says
        regs = cpuid_policy.native_leaf(v, leaf, subleaf)
    for reg, value in zip((X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX,
                           X.UC_X86_REG_RDX), regs):
        v.set_reg(reg, value)


def _cpuid(v, insn) -> bool:
    do_cpuid(v)
    return True


def _rdtsc(v, insn) -> bool:
    tsc = v.domain.time.tsc_now()
    v.set_reg(X.UC_X86_REG_RAX, tsc & 0xFFFFFFFF)
    v.set_reg(X.UC_X86_REG_RDX, tsc >> 32)
    if insn.mnemonic == "rdtscp":
        v.set_reg(X.UC_X86_REG_RCX, v.id)
    return True


def _clts(v, insn) -> bool:
    v.set_ts(False)
    return True


def _nop(v, insn) -> bool:
    return True


def _cli_sti(v, insn) -> bool:
    return iopl_ok(v)


def _xsetbv(v, insn) -> bool:
    xcr0 = (v.reg(X.UC_X86_REG_RDX) << 32) | (v.reg(X.UC_X86_REG_RAX) & 0xFFFFFFFF)
    return v.reg(X.UC_X86_REG_ECX) == 0 and xcr0 & 1 == 1


def _mov(v, insn) -> bool:
    dst, src = insn.operands
    if dst.type != C.X86_OP_REG or src.type != C.X86_OP_REG:
        return False
    dname, sname = insn.reg_name(dst.reg), insn.reg_name(src.reg)
    if sname.startswith("cr") or sname.startswith("dr"):
        value = _read_control(v, sname)
        if value is None:
            return False
        _write_gpr(v, insn, dst.reg, value)
        return True
    if dname.startswith("cr") or dname.startswith("dr"):
        return _write_control(v, dname, read_gpr(v, insn, src.reg))
    return False


def _read_control(v, name: str) -> int | None:
    st = v.state
    if name == "cr0":
        return GUEST_CR0 | (CR0_TS if st.cr0_ts else 0)
    if name == "cr2":
        off = 16 if v.is_64bit else 8
        return (v.domain.mem.read_u64 if v.is_64bit else v.domain.mem.read_u32)(
            st.vcpu_info_paddr + off)
    if name == "cr3":
        return current_guest_cr3(v)
    if name == "cr4":
        return GUEST_CR4
    if name.startswith("dr") and name[2:].isdigit():
        return st.debugreg[int(name[2:])]
    return None


def read_control_register(v, name: str) -> int | None:
    """What the guest reads from `name` (cr0, cr2, cr3, cr4, dr0..dr7): for debuggers."""
    return _read_control(v, name)


def current_guest_cr3(v) -> int:
    st = v.state
    table = st.guest_table if st.kernel_mode or not v.is_64bit else st.guest_table_user
    if v.is_64bit:
        return table
    mfn = table >> 12
    return ((mfn << 12) | (mfn >> 20)) & 0xFFFFFFFF    # xen_pfn_to_cr3 for PAE


def _write_control(v, name: str, value: int) -> bool:
    from hvcore.hypercalls import mm
    st = v.state
    if name == "cr0":
        if (value ^ GUEST_CR0) & ~CR0_TS & 0xFFFFFFFF:
            return False     # only TS may change, as in Xen
        v.set_ts(bool(value & CR0_TS))
        return True
    if name == "cr2":
        v.set_cr2(value)
        return True
    if name == "cr3":
        mfn = value >> 12 if v.is_64bit else ((value >> 12) | (value << 20)) & 0xFFFFFFFF
        return mm.new_guest_cr3(v, mfn) == 0
    if name == "cr4":
        return value == GUEST_CR4
    if name.startswith("dr") and name[2:].isdigit():
        from hvcore.hypercalls.debugreg import set_debugreg
        return set_debugreg(v, int(name[2:]), value) == 0
    return False


_MSR_READ_ONLY = {MSR_EFER: 0xD01, MSR_PAT: 0x0007040600070406, MSR_MISC_ENABLE: 0x1}


def _rdmsr(v, insn) -> bool:
    msr = v.reg(X.UC_X86_REG_ECX) & 0xFFFFFFFF
    if msr == MSR_TSC:
        value = v.domain.time.tsc_now()
    elif v.is_64bit and msr == MSR_FS_BASE:
        value = v.reg(X.UC_X86_REG_FS_BASE)
    elif v.is_64bit and msr == MSR_GS_BASE:
        value = v.reg(X.UC_X86_REG_GS_BASE)
    elif v.is_64bit and msr == MSR_SHADOW_GS_BASE:
        value = v.state.gs_base_user
    elif msr in _MSR_READ_ONLY:
        value = _MSR_READ_ONLY[msr] if v.is_64bit or msr != MSR_EFER else 0x800
    else:
        return False
    v.set_reg(X.UC_X86_REG_RAX, value & 0xFFFFFFFF)
    v.set_reg(X.UC_X86_REG_RDX, value >> 32)
    return True


def _wrmsr(v, insn) -> bool:
    from hvcore.hypercalls.segment import set_segment_base_value
    msr = v.reg(X.UC_X86_REG_ECX) & 0xFFFFFFFF
    value = (v.reg(X.UC_X86_REG_RDX) & 0xFFFFFFFF) << 32 | (v.reg(X.UC_X86_REG_RAX) & 0xFFFFFFFF)
    if v.is_64bit and msr in (MSR_FS_BASE, MSR_GS_BASE, MSR_SHADOW_GS_BASE):
        which = {MSR_FS_BASE: "fs", MSR_GS_BASE: "gs_kernel", MSR_SHADOW_GS_BASE: "gs_user"}[msr]
        return set_segment_base_value(v, which, value) == 0
    if msr in _MSR_READ_ONLY and _MSR_READ_ONLY[msr] == value:
        return True   # writing back what was read is harmless
    return False


# ---- port I/O -----------------------------------------------------------------------
def port_allowed(v, port: int, size: int) -> bool:
    """Xen's rule: within the virtual IOPL, or allowed by the guest's I/O bitmap."""
    if iopl_ok(v):
        return True
    st = v.state
    if not st.iobmp or port + size > st.iobmp_limit * 8:
        return False
    try:
        bits = int.from_bytes(v.read_virt(st.iobmp + port // 8, 2), "little")
    except paging.PageFault:
        return False
    mask = ((1 << size) - 1) << (port & 7)
    return bits & mask == 0


def io_in(v, port: int, size: int) -> int | None:
    """An `in` the guest executed (hooked: the engine never faults port I/O)."""
    if not port_allowed(v, port, size):
        return None
    return v.domain.io_read(port, size)


def io_out(v, port: int, size: int, value: int) -> bool:
    if not port_allowed(v, port, size):
        return False
    v.domain.io_write(port, size, value)
    return True


def read_gpr(v, insn, reg: int) -> int:
    return v.reg(_CS_TO_UC[insn.reg_name(reg)])


def _write_gpr(v, insn, reg: int, value: int) -> None:
    name = insn.reg_name(reg)
    if name.startswith("e"):   # 32-bit destination zero-extends
        v.set_reg(_CS_TO_UC["r" + name[1:]], value & 0xFFFFFFFF)
    else:
        v.set_reg(_CS_TO_UC[name], value)


_CS_TO_UC = {n: getattr(X, f"UC_X86_REG_{n.upper()}") for n in (
    "rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 "
    "eax ebx ecx edx esi edi ebp esp ax bx cx dx si di bp sp").split()}
_CS_TO_UC.update({f"r{i}d": getattr(X, f"UC_X86_REG_R{i}D") for i in range(8, 16)})

_HANDLERS = {
    "cpuid": _cpuid, "rdtsc": _rdtsc, "rdtscp": _rdtsc, "clts": _clts, "wbinvd": _nop,
    "invd": _nop, "cli": _cli_sti, "sti": _cli_sti, "xsetbv": _xsetbv, "mov": _mov,
    "rdmsr": _rdmsr, "wrmsr": _wrmsr,
}
