"""iret: return from a bounce, to guest kernel or user mode (public/arch-x86/xen-x86_*.h)."""
import struct

from unicorn import x86_const as X

from hvcore.arch.x86.pv import layout as L
from hvcore.arch.x86.pv.traps import EFLAGS_IF, EFLAGS_IOPL, EFLAGS_VM, GuestCrash, toggle_guest_mode
from hvcore.hypercalls import NO_RESULT, hypercall
from hvcore.public import xen as XEN

VGCF_IN_SYSCALL = 1 << 8


@hypercall(XEN.HYPERVISOR_iret)
def iret(v, *_):
    """long iret(void): the frame (struct iret_context) is on the guest stack"""
    if v.is_64bit:
        _iret64(v)
    else:
        _iret32(v)
    return NO_RESULT


def restore_iopl(v, flags: int) -> None:
    """With VMASST_TYPE_architectural_iopl the guest's IOPL is what its iret frame says,
    as on hardware (otherwise only PHYSDEVOP_set_iopl changes it)."""
    if v.domain.vm_assist >> XEN.VMASST_TYPE_architectural_iopl & 1:
        v.state.iopl = (flags & EFLAGS_IOPL) >> 12


def _iret64(v) -> None:
    rsp = v.reg(X.UC_X86_REG_RSP)
    rax, r11, rcx, flags, rip, cs, rflags, usp, ss = struct.unpack("<9Q", v.read_virt(rsp, 72))
    cs, ss = cs & 0xFFFF, ss & 0xFFFF     # bounce frames carry the saved upcall mask above CS
    if (cs & 3) == 3 and v.state.kernel_mode:
        if not v.state.guest_table_user:
            raise GuestCrash("iret to user mode with no user page tables (NEW_USER_BASEPTR)")
        toggle_guest_mode(v)
    cs |= 3
    if flags & VGCF_IN_SYSCALL:
        rcx, r11 = rip, rflags      # as sysret leaves them
    v.upcall_mask = 0 if rflags & EFLAGS_IF else 1
    restore_iopl(v, rflags)
    v.set_reg(X.UC_X86_REG_RAX, rax)
    v.set_reg(X.UC_X86_REG_R11, r11)
    v.set_reg(X.UC_X86_REG_RCX, rcx)
    new_flags = (rflags & ~(EFLAGS_IOPL | EFLAGS_VM)) | EFLAGS_IF
    if (v.guest_cs() & 0xFFFF) != cs or (v.reg(X.UC_X86_REG_SS) & 0xFFFF) != (ss | 3):
        v.engine.iret_to(rip, cs, new_flags, usp, ss | 3)    # e.g. to 32-bit user code
        return
    v.set_reg(X.UC_X86_REG_RFLAGS, new_flags)
    v.set_reg(X.UC_X86_REG_RSP, usp)
    v.rip = rip


def _iret32(v) -> None:
    esp = v.reg(X.UC_X86_REG_ESP) & 0xFFFFFFFF
    eax, eip, cs, eflags = struct.unpack("<4I", v.read_virt(esp, 16))
    cs &= 0xFFFF                          # bits 16-23 of a bounce frame's CS: saved mask
    v.upcall_mask = 0 if eflags & EFLAGS_IF else 1
    restore_iopl(v, eflags)
    if eflags & EFLAGS_VM:
        raise GuestCrash("iret to virtual-8086 mode is not supported")
    v.set_reg(X.UC_X86_REG_EAX, eax)
    new_flags = (eflags & ~EFLAGS_IOPL) | EFLAGS_IF
    if (cs & 3) in (0, 1):        # to the guest kernel (RPL 0 is fixed up to ring 1)
        cs = (cs & ~3) | 1
        if v.guest_cs() != cs:
            v.engine.iret_to(eip, cs, new_flags, esp + 16, v.reg(X.UC_X86_REG_SS))
            return
        v.set_reg(X.UC_X86_REG_EFLAGS, new_flags)
        v.set_reg(X.UC_X86_REG_ESP, esp + 16)
        v.rip = eip
        return
    new_esp, ss = struct.unpack("<II", v.read_virt(esp + 16, 8))
    v.engine.iret_to(eip, cs | 3, new_flags, new_esp, ss | 3)
