"""set_callbacks and callback_op: where events, failsafe and system calls enter the guest."""
import struct

from hvcore.hypercalls import hypercall
from hvcore.public import callback as CB
from hvcore.public import errno as E
from hvcore.public import xen as XEN
from hvcore.vcpu import Callback

_SLOTS = {CB.CALLBACKTYPE_event: "event_callback", CB.CALLBACKTYPE_failsafe: "failsafe_callback",
          CB.CALLBACKTYPE_syscall: "syscall_callback", CB.CALLBACKTYPE_syscall32: "syscall32_callback",
          CB.CALLBACKTYPE_sysenter: "sysenter_callback", CB.CALLBACKTYPE_nmi: "nmi_callback"}


def register(v, kind: int, cs: int, address: int, flags: int) -> int:
    slot = _SLOTS.get(kind)
    if slot is None or (kind == CB.CALLBACKTYPE_syscall and not v.is_64bit):
        return -E.EINVAL
    setattr(v.state, slot, Callback(cs, address, bool(flags & CB.CALLBACKF_mask_events)))
    return 0


@hypercall(XEN.HYPERVISOR_set_callbacks)
def set_callbacks(v, a1, a2, a3, a4, a5):
    """64-bit: long set_callbacks(unsigned long event, unsigned long failsafe, unsigned long syscall)
    32-bit: long set_callbacks(unsigned long event_cs, event, failsafe_cs, failsafe)"""
    if v.is_64bit:
        register(v, CB.CALLBACKTYPE_event, 0xE033, a1, 0)
        register(v, CB.CALLBACKTYPE_failsafe, 0xE033, a2, 0)
        register(v, CB.CALLBACKTYPE_syscall, 0xE033, a3, CB.CALLBACKF_mask_events)
    else:
        register(v, CB.CALLBACKTYPE_event, a1, a2, 0)
        register(v, CB.CALLBACKTYPE_failsafe, a3, a4, 0)
    return 0


@hypercall(XEN.HYPERVISOR_callback_op)
def callback_op(v, cmd, arg, *_):
    """long callback_op(int cmd, const void *arg)"""
    cmd &= 0xFFFFFFFF
    if cmd == CB.CALLBACKOP_register:
        if v.is_64bit:   # struct callback_register { u16 type; u16 flags; xen_callback_t address; }
            kind, flags, address = struct.unpack("<HH4xQ", v.read_virt(arg, 16))
            cs = 0xE033
        else:            # 32-bit: xen_callback_t is { cs; eip; }
            kind, flags, cs, address = struct.unpack("<HHII", v.read_virt(arg, 12))
        return register(v, kind, cs, address, flags)
    if cmd == CB.CALLBACKOP_unregister:
        kind = struct.unpack("<H", v.read_virt(arg, 2))[0]
        slot = _SLOTS.get(kind)
        if slot is None:
            return -E.EINVAL
        setattr(v.state, slot, Callback())
        return 0
    return -E.ENOSYS
