"""vm_assist: optional hypervisor help the guest turns on or off."""
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import xen as XEN

# 4gb_segments 0, 4gb_segments_notify 1, writable_pagetables 2, pae_extended_cr3 3,
# architectural_iopl 4, runstate_update_flag 5, m2p_strict 32 (64-bit only)
_VALID_64 = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 32) | 0b11
_VALID_32 = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | 0b11


@hypercall(XEN.HYPERVISOR_vm_assist)
def vm_assist(v, cmd, kind, *_):
    """long vm_assist(unsigned int cmd, unsigned int type)"""
    cmd &= 0xFFFFFFFF
    kind &= 0xFFFFFFFF
    if kind >= 64 or not (1 << kind) & (_VALID_64 if v.is_64bit else _VALID_32):
        return -E.EINVAL
    if cmd == XEN.VMASST_CMD_enable:
        v.domain.vm_assist |= 1 << kind
    elif cmd == XEN.VMASST_CMD_disable:
        v.domain.vm_assist &= ~(1 << kind)
    else:
        return -E.ENOSYS
    return 0
