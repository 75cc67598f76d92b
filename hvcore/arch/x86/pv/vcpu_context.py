"""A PV vCPU's state from a struct vcpu_guest_context (VCPUOP_initialise), as Xen's
arch_set_info_guest loads it: checks first (canonical addresses, LDT, GDT frames, the
top-level table), nothing changed on a refusal, then registers, trap table, callbacks,
kernel stack, GDT, page tables. The vCPU enters guest code when it first runs.

Both layouts come from hvcore.public.arch_x86 (checked against the C headers):
the native 64-bit one, and the 32-bit one Xen reads from a compat guest.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import x86_const as X

from hvcore.arch.x86.pv import layout as L
from hvcore.public import arch_x86 as A
from hvcore.public import errno as E

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU

EFLAGS_IF = 1 << 9
EFLAGS_IOPL = 3 << 12
EFLAGS_ALWAYS = 1 << 1
CR0_TS = 1 << 3
LDT_MAX_ENTRIES = 8192


def context_class(v: "VCPU"):
    return A.vcpu_guest_context_64 if v.is_64bit else A.vcpu_guest_context_32


def _canonical(addr: int) -> bool:
    top = addr >> 47
    return top == 0 or top == (1 << 17) - 1


def _fix_selector(v: "VCPU", sel: int) -> int:
    """Xen's fixup_guest_{code,stack}_selector: RPL 0 means the guest kernel's ring."""
    if sel & 3 == 0 and sel:
        sel |= 3 if v.is_64bit else 1
    return sel & 0xFFFF


def cr3_to_pfn(v: "VCPU", cr3: int) -> int:
    """xen_cr3_to_pfn: 64-bit is cr3 >> 12; compat folds bits 32+ into the low bits."""
    if v.is_64bit:
        return cr3 >> 12
    return ((cr3 >> 12) | (cr3 << 20)) & 0xFFFFFFFF


def _check(v: "VCPU", c) -> int:
    """Xen's refusals, before anything is changed."""
    if v.is_64bit:
        addrs = [c.user_regs.rip, c.user_regs.rsp, c.kernel_sp, c.fs_base, c.gs_base_kernel,
                 c.gs_base_user, c.event_callback_eip, c.syscall_callback_eip,
                 c.failsafe_callback_eip] + [t.address for t in c.trap_ctxt]
        if c.ldt_ents:
            addrs.append(c.ldt_base)
        if not all(_canonical(a) for a in addrs):
            return -E.EINVAL
    if c.ldt_base & 0xFFF or c.ldt_ents > LDT_MAX_ENTRIES:
        return -E.EINVAL
    from hvcore.hypercalls.descriptor import MAX_GUEST_ENTRIES
    if c.gdt_ents > MAX_GUEST_ENTRIES:
        return -E.EINVAL
    frames = list(c.gdt_frames[:(c.gdt_ents + 511) // 512])
    if any(not v.domain.is_ram_pfn(f) for f in frames):
        return -E.EINVAL
    if not v.domain.is_ram_pfn(cr3_to_pfn(v, c.ctrlreg[3])):
        return -E.EINVAL
    if v.is_64bit and c.ctrlreg[1] and not v.domain.is_ram_pfn(c.ctrlreg[1] >> 12):
        return -E.EINVAL
    return 0


def arch_set_info_guest(v: "VCPU", raw: bytes) -> int:
    """Load `raw` (a vcpu_guest_context in the guest's layout) into vCPU `v`."""
    c = context_class(v).from_buffer_copy(raw)
    rc = _check(v, c)
    if rc:
        return rc
    _load_state(v, c)
    rc = _load_tables(v, c)
    if rc:
        return rc
    _load_registers(v, c)
    v.state.initialised = True
    return 0


def _load_state(v: "VCPU", c) -> None:
    from hvcore.vcpu import Callback, TrapInfo
    st = v.state
    # 64-bit PV may start in guest user mode; a compat vCPU's ring says it all
    st.kernel_mode = not v.is_64bit or bool(c.flags & A.VGCF_in_kernel)
    st.trap_table = {t.vector: TrapInfo(t.vector, t.flags, _fix_selector(v, t.cs), t.address)
                     for t in c.trap_ctxt if t.address}
    st.kernel_ss, st.kernel_sp = _fix_selector(v, c.kernel_ss), c.kernel_sp
    st.ldt_base, st.ldt_entries = c.ldt_base, c.ldt_ents
    st.debugreg = list(c.debugreg)
    st.iopl = (c.user_regs.rflags if v.is_64bit else c.user_regs.eflags) >> 12 & 3
    if v.is_64bit:
        cs = L.FLAT_RING3_CS64
        st.event_callback = Callback(cs, c.event_callback_eip, True)
        st.failsafe_callback = Callback(
            cs, c.failsafe_callback_eip, bool(c.flags & A.VGCF_failsafe_disables_events))
        st.syscall_callback = Callback(
            cs, c.syscall_callback_eip, bool(c.flags & A.VGCF_syscall_disables_events))
        st.fs_base, st.gs_base_kernel, st.gs_base_user = c.fs_base, c.gs_base_kernel, c.gs_base_user
    else:
        st.event_callback = Callback(_fix_selector(v, c.event_callback_cs), c.event_callback_eip, True)
        st.failsafe_callback = Callback(_fix_selector(v, c.failsafe_callback_cs),
                                        c.failsafe_callback_eip,
                                        bool(c.flags & A.VGCF_failsafe_disables_events))


def _load_tables(v: "VCPU", c) -> int:
    """GDT frames and page tables (Xen's pv_set_gdt and the ctrlreg[3] validation)."""
    from hvcore.hypercalls.mm import new_guest_cr3
    from loaders.pv_builder import install_xen_l4_slots, set_paging, setup_gdt
    frames = list(c.gdt_frames[:(c.gdt_ents + 511) // 512])
    setup_gdt(v, [f << 12 for f in frames])
    v.state.gdt_frames, v.state.gdt_entries = frames, c.gdt_ents
    rc = new_guest_cr3(v, cr3_to_pfn(v, c.ctrlreg[3]))
    if rc:
        return rc
    st = v.state
    if v.is_64bit:
        user = (c.ctrlreg[1] >> 12) << 12
        if user:
            install_xen_l4_slots(v.domain, user)
        st.guest_table_user = user
    cr3 = st.guest_table if st.kernel_mode else (st.guest_table_user or st.guest_table)
    set_paging(v.engine, v.cr3 if not v.is_64bit else cr3)
    v.set_ts(bool(c.ctrlreg[0] & CR0_TS))
    return 0


_GPRS_64 = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11",
            "r12", "r13", "r14", "r15")
_GPRS_32 = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp")


def _load_registers(v: "VCPU", c) -> None:
    from hvcore.vcpu import GuestEntry
    r = c.user_regs
    for name in _GPRS_64 if v.is_64bit else _GPRS_32:
        v.set_reg(getattr(X, f"UC_X86_REG_{name.upper()}"), getattr(r, name))
    if v.is_64bit:
        v.set_reg(X.UC_X86_REG_FS_BASE, c.fs_base)
        gs = c.gs_base_kernel if v.state.kernel_mode else c.gs_base_user
        v.set_reg(X.UC_X86_REG_GS_BASE, gs)
        rip, rsp, flags = r.rip, r.rsp, r.rflags
        cs, ss = _fix_selector(v, r.cs) or L.FLAT_RING3_CS64, _fix_selector(v, r.ss) or L.FLAT_RING3_SS64
    else:
        rip, rsp, flags = r.eip, r.esp, r.eflags
        cs, ss = _fix_selector(v, r.cs) or L.FLAT_RING1_CS, _fix_selector(v, r.ss) or L.FLAT_RING1_SS
    # the real IF is always on under PV (the guest's is its upcall mask); IOPL is virtual
    flags = (flags & ~EFLAGS_IOPL) | EFLAGS_IF | EFLAGS_ALWAYS
    data = tuple(_fix_selector(v, s) for s in (r.ds, r.es, r.fs, r.gs))
    v.entry = GuestEntry(rip, cs, flags, rsp, ss, data)
