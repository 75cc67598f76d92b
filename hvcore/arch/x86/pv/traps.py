"""PV trap handling: from an engine exit to a hypercall, an emulation or a bounce.

Bounce frames are built exactly as Xen builds them (see xen-abi notes):
64-bit, on the guest kernel stack, 16-byte aligned, high to low:
    SS, RSP, RFLAGS, CS (bits 32-39: saved upcall mask), RIP, [error code], R11, RCX
32-bit (ring 1 kernel): [SS, ESP only when coming from ring 3], EFLAGS,
    CS (bits 16-23: saved upcall mask), EIP, [error code]
In 64-bit kernel mode the CS in the frame has RPL 0 (0xe030), which is how the guest
tells kernel frames from user frames; the iret hypercall puts the RPL back.
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from unicorn import x86_const as X

from hvcore import engine as eng
from hvcore.arch.x86 import paging
from hvcore.arch.x86.pv import layout
from hvcore.public.arch_x86 import HYPERCALL_VECTOR

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU

EFLAGS_TF = 1 << 8
EFLAGS_IF = 1 << 9
EFLAGS_NT = 1 << 14
EFLAGS_RF = 1 << 16
EFLAGS_VM = 1 << 17
EFLAGS_IOPL = 3 << 12


class GuestCrash(Exception):
    """The guest can no longer run (no handler, bad kernel stack...): crash the domain."""


_late: dict[str, object] = {}


def _late_imports() -> tuple:
    """emul_priv_op and the hypercall dispatcher import this module: fetch them once,
    on the first exit (an import statement per exit costs a microsecond or two)."""
    if not _late:
        from hvcore.arch.x86.pv import emul_priv_op
        from hvcore.hypercalls import dispatch
        _late.update(emul_priv_op=emul_priv_op, dispatch=dispatch)
    return _late["emul_priv_op"], _late["dispatch"]


def handle_exit(v: "VCPU", exit: eng.Exit) -> None:
    emul_priv_op, dispatch = _late_imports()
    try:
        if exit.kind == eng.EXIT_SYSCALL:
            _on_syscall(v, dispatch)
        elif exit.kind == eng.EXIT_TRAP:
            _on_trap(v, exit.vector, dispatch, emul_priv_op, exit.address)
        elif exit.kind == eng.EXIT_INVALID:
            if not emul_priv_op.forced_emulation(v):
                bounce_exception(v, 6)
        elif exit.kind == eng.EXIT_IO_DENIED:
            v.rip = exit.address
            bounce_exception(v, 13, error_code=0)
        elif exit.kind == eng.EXIT_UNMAPPED:
            raise GuestCrash(f"access to unbacked physical address {exit.address:#x}")
        elif exit.kind == eng.EXIT_HOOK_ERROR:
            raise GuestCrash("hypervisor bug in a hook: " + exit.detail.strip().splitlines()[-1])
        elif exit.kind == eng.EXIT_ENGINE_ERROR:
            raise GuestCrash(f"CPU engine stopped: {exit.detail}")
    except GuestCrash as why:
        from hvcore.crash import crash_domain
        crash_domain(v, str(why))
    except eng.EngineError as why:
        from hvcore.crash import crash_domain
        crash_domain(v, f"cannot enter guest code: {why}")
    except Exception as bug:   # noqa: BLE001 - a hypervisor bug must not take the host down
        from hvcore.crash import crash_domain, describe_bug
        crash_domain(v, "hypervisor bug: " + describe_bug(bug))


def _on_syscall(v: "VCPU", dispatch) -> None:
    if v.is_64bit and v.state.kernel_mode:
        dispatch(v)
        return
    # A system call from guest user mode (or a 32-bit guest): to the kernel's callback.
    cb = v.state.syscall_callback if v.is_64bit else v.state.syscall32_callback
    if not cb.address:
        bounce_exception(v, 6, rip=v.rip - 2)
        return
    rflags = v.reg(X.UC_X86_REG_RFLAGS)
    bounce(v, cb.address, cb.mask_events, error_code=None,
           frame_rcx=v.rip, frame_r11=rflags)


def _is_software_int(v: "VCPU", vector: int) -> bool:
    """`int N` reports RIP after the instruction, a fault RIP on the instruction."""
    if vector >= 32:
        return True
    try:
        if vector == 3 and v.read_virt(v.rip - 1, 1) == b"\xcc":
            return True
        if vector == 4 and v.read_virt(v.rip - 1, 1) == b"\xce":
            return True
        return v.read_virt(v.rip - 2, 2) == bytes([0xCD, vector])
    except paging.PageFault:
        return False


def _on_trap(v: "VCPU", vector: int, dispatch, emul_priv_op, cr2: int = 0) -> None:
    if _is_software_int(v, vector):
        if vector == HYPERCALL_VECTOR and not v.is_64bit and v.engine.cpl == 1:
            dispatch(v)
            return
        _software_int(v, vector)
        return
    if vector == 13:
        if not emul_priv_op.emulate(v):
            bounce_exception(v, 13, error_code=emul_priv_op.segment_error_code(v))
        return
    if vector == 14:
        _page_fault(v, cr2)
        return
    if vector == 8:
        raise GuestCrash("double fault")
    if vector == 7:
        v.set_ts(False)                   # Xen clears the virtual TS as it delivers #NM
    if vector == 1 and v.reg(X.UC_X86_REG_RFLAGS) & EFLAGS_TF:
        from hvcore.vcpu import DR6_BS
        v.state.debugreg[6] |= DR6_BS     # the guest reads DR6 with get_debugreg
    error = None
    if vector in (10, 11, 12):
        error = emul_priv_op.segment_error_code(v)
    elif vector == 17:
        error = 0
    bounce_exception(v, vector, error_code=error)


def _software_int(v: "VCPU", vector: int) -> None:
    """`int N`: allowed if the trap table entry's DPL admits the guest's privilege."""
    ti = v.state.trap_table.get(vector)
    cur = (0 if v.state.kernel_mode else 3) if v.is_64bit else v.engine.cpl
    if ti is None or ti.dpl < cur:
        # As the CPU would: #GP with the IDT-vector error code, RIP on the `int`.
        back = 1 if vector in (3, 4) and v.read_virt(v.rip - 1, 1) in (b"\xcc", b"\xce") else 2
        bounce_exception(v, 13, error_code=(vector << 3) | 2, rip=v.rip - back)
        return
    bounce(v, ti.address, ti.masks_events, None, cs=ti.cs)


def _page_fault(v: "VCPU", cr2: int) -> None:
    """Rebuild the #PF error code the engine does not report, then bounce."""
    from hvcore.arch.x86.pv import emul_priv_op
    rip = v.rip
    user = v.engine.cpl == 3 and not (v.is_64bit and v.state.kernel_mode)
    if rip <= cr2 < rip + 16 and not emul_priv_op.insn_writes_memory(v):
        access = paging.ACCESS_FETCH
    else:
        access = paging.ACCESS_WRITE if emul_priv_op.insn_writes_memory(v) else paging.ACCESS_READ
    try:
        paging.walk(v.domain.mem, v.cr3, cr2, access, user=v.engine.cpl == 3)
        code = paging.PFEC_PRESENT | (paging.PFEC_WRITE if access == paging.ACCESS_WRITE else 0)
    except paging.PageFault as pf:
        code = pf.error_code
    from hvcore.arch.x86.pv import ro_page_fault
    if ro_page_fault.try_emulate(v, cr2, code):
        return
    code &= ~paging.PFEC_USER
    if user:
        code |= paging.PFEC_USER
    v.set_cr2(cr2)
    bounce_exception(v, 14, error_code=code)


def bounce_exception(v: "VCPU", vector: int, error_code: int | None = None,
                     rip: int | None = None) -> None:
    from hvcore.vcpu import ERROR_CODE_VECTORS
    ti = v.state.trap_table.get(vector)
    if ti is None or not ti.address:
        raise GuestCrash(f"unhandled exception {vector} ({_EXC_NAMES.get(vector, '?')})"
                         f" with no handler in the guest's trap table"
                         + (f", error code {error_code:#x}" if error_code is not None else ""))
    if vector in ERROR_CODE_VECTORS and error_code is None:
        error_code = 0
    bounce(v, ti.address, ti.masks_events, error_code, rip=rip, cs=ti.cs)


def bounce(v: "VCPU", handler: int, mask_events: bool, error_code: int | None,
           rip: int | None = None, cs: int | None = None,
           frame_rcx: int | None = None, frame_r11: int | None = None) -> None:
    """Build Xen's bounce frame and enter the guest kernel at `handler`."""
    if v.is_64bit:
        _bounce64(v, handler, mask_events, error_code, rip, frame_rcx, frame_r11)
    else:
        _bounce32(v, handler, mask_events, error_code, rip, cs)


def _bounce64(v: "VCPU", handler, mask_events, error_code, rip, frame_rcx, frame_r11) -> None:
    st = v.state
    rip = v.rip if rip is None else rip
    cs = v.guest_cs()
    ss = v.reg(X.UC_X86_REG_SS)
    rsp = v.reg(X.UC_X86_REG_RSP)
    rflags = v.reg(X.UC_X86_REG_RFLAGS)
    if st.kernel_mode:
        cs &= ~3                        # kernel frames show RPL 0
        stack = rsp
    else:
        toggle_guest_mode(v)            # to kernel page tables and GS base
        stack = st.kernel_sp
    stack &= ~0xF
    saved_mask = v.upcall_mask
    frame = [ss, rsp, frame_flags(v, rflags, saved_mask), cs | (saved_mask << 32), rip]
    if error_code is not None:
        frame.append(error_code)
    frame.append(v.reg(X.UC_X86_REG_R11) if frame_r11 is None else frame_r11)
    frame.append(v.reg(X.UC_X86_REG_RCX) if frame_rcx is None else frame_rcx)
    stack -= 8 * len(frame)
    _push(v, stack, struct.pack(f"<{len(frame)}Q", *reversed(frame)))
    if mask_events:
        v.upcall_mask = 1
    new_flags = (rflags & ~(EFLAGS_TF | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM)) | EFLAGS_IF
    if v.guest_cs() != layout.FLAT_RING3_CS64:   # from 32-bit user code: a mode change
        v.engine.iret_to(handler, layout.FLAT_RING3_CS64, new_flags, stack,
                         layout.FLAT_RING3_SS64)
        return
    v.set_reg(X.UC_X86_REG_RSP, stack)
    v.set_reg(X.UC_X86_REG_RFLAGS, new_flags)
    v.rip = handler


def _bounce32(v: "VCPU", handler, mask_events, error_code, rip, cs) -> None:
    st = v.state
    rip = (v.rip if rip is None else rip) & 0xFFFFFFFF
    old_cs = v.guest_cs()
    eflags = v.reg(X.UC_X86_REG_EFLAGS) & 0xFFFFFFFF
    esp = v.reg(X.UC_X86_REG_ESP) & 0xFFFFFFFF
    frame: list[int] = []
    from_user = v.engine.cpl == 3
    saved_mask = v.upcall_mask
    if from_user:
        frame += [v.reg(X.UC_X86_REG_SS), esp]
        stack, stack_ss = st.kernel_sp, st.kernel_ss
    else:
        stack, stack_ss = esp, None
    frame += [frame_flags(v, eflags, saved_mask), (old_cs & 0xFFFF) | (saved_mask << 16), rip]
    if error_code is not None:
        frame.append(error_code)
    stack = (stack - 4 * len(frame)) & 0xFFFFFFFF
    _push(v, stack, struct.pack(f"<{len(frame)}I", *[x & 0xFFFFFFFF for x in reversed(frame)]))
    if mask_events:
        v.upcall_mask = 1
    new_cs = (cs or layout.FLAT_RING1_CS) | 1
    new_flags = (eflags & ~(EFLAGS_TF | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM)) | EFLAGS_IF
    if from_user or v.guest_cs() != new_cs:
        v.engine.iret_to(handler & 0xFFFFFFFF, new_cs, new_flags, stack,
                         (stack_ss or layout.FLAT_RING1_SS) | 1 if from_user
                         else v.reg(X.UC_X86_REG_SS))
        return
    v.set_reg(X.UC_X86_REG_ESP, stack)
    v.set_reg(X.UC_X86_REG_EFLAGS, new_flags)
    v.rip = handler & 0xFFFFFFFF


def frame_flags(v: "VCPU", flags: int, saved_mask: int) -> int:
    """The guest sees its virtual interrupt flag (!upcall_mask) and virtual IOPL."""
    flags &= ~(EFLAGS_IF | EFLAGS_IOPL)
    if not saved_mask:
        flags |= EFLAGS_IF
    return flags | (v.state.iopl << 12)


def _push(v: "VCPU", stack: int, data: bytes) -> None:
    """Write a frame to the guest kernel stack; a bad stack crashes the domain (as Xen)."""
    try:
        v.write_virt(stack, data)
    except paging.PageFault as pf:
        raise GuestCrash(f"cannot write bounce frame to guest kernel stack at {stack:#x}: {pf}")


def toggle_guest_mode(v: "VCPU") -> None:
    """64-bit PV: switch between guest kernel and user mode (page tables, GS base)."""
    st = v.state
    st.kernel_mode = not st.kernel_mode
    table = st.guest_table if st.kernel_mode else (st.guest_table_user or st.guest_table)
    v.set_reg(X.UC_X86_REG_CR3, table)
    # swapgs: the active GS base follows the mode
    if st.kernel_mode:
        st.gs_base_user = v.reg(X.UC_X86_REG_GS_BASE)
        v.set_reg(X.UC_X86_REG_GS_BASE, st.gs_base_kernel)
    else:
        st.gs_base_kernel = v.reg(X.UC_X86_REG_GS_BASE)
        v.set_reg(X.UC_X86_REG_GS_BASE, st.gs_base_user)


def deliver_pending_events(v: "VCPU") -> None:
    """Bounce to the event callback if an upcall is pending and not masked."""
    if not v.upcall_pending or v.upcall_mask:
        return
    cb = v.state.event_callback
    if not cb.address:
        return
    try:
        bounce(v, cb.address, True, None, cs=cb.cs)
    except GuestCrash as why:
        from hvcore.crash import crash_domain
        crash_domain(v, str(why))


_EXC_NAMES = {0: "#DE divide error", 1: "#DB debug", 2: "NMI", 3: "#BP breakpoint",
              4: "#OF overflow", 5: "#BR bound", 6: "#UD invalid opcode",
              7: "#NM device not available", 8: "#DF double fault", 10: "#TS invalid TSS",
              11: "#NP segment not present", 12: "#SS stack fault",
              13: "#GP general protection", 14: "#PF page fault", 16: "#MF x87 error",
              17: "#AC alignment check", 18: "#MC machine check", 19: "#XM SIMD error"}
