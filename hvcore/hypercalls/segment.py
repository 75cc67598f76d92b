"""set_segment_base: FS and GS bases for 64-bit PV guests (they cannot wrmsr)."""
from unicorn import x86_const as X

from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import xen as XEN

SEGBASE_FS = 0
SEGBASE_GS_USER = 1
SEGBASE_GS_KERNEL = 2
SEGBASE_GS_USER_SEL = 3


def _canonical(value: int) -> bool:
    top = value >> 47
    return top == 0 or top == (1 << 17) - 1


def set_segment_base_value(v, which: str, value: int) -> int:
    """Set the FS base or one of the two GS bases (kernel's, user's)."""
    if not _canonical(value):
        return -E.EINVAL
    st = v.state
    if which == "fs":
        v.set_reg(X.UC_X86_REG_FS_BASE, value)
    elif which == "gs_kernel":
        if st.kernel_mode:
            v.set_reg(X.UC_X86_REG_GS_BASE, value)
        st.gs_base_kernel = value
    else:
        if not st.kernel_mode:
            v.set_reg(X.UC_X86_REG_GS_BASE, value)
        st.gs_base_user = value
    return 0


@hypercall(XEN.HYPERVISOR_set_segment_base)
def set_segment_base(v, which, base, *_):
    """long set_segment_base(unsigned int which, unsigned long base)"""
    if not v.is_64bit:
        return -E.ENOSYS
    which &= 0xFFFFFFFF
    if which == SEGBASE_FS:
        return set_segment_base_value(v, "fs", base)
    if which == SEGBASE_GS_KERNEL:
        return set_segment_base_value(v, "gs_kernel", base)
    if which == SEGBASE_GS_USER:
        return set_segment_base_value(v, "gs_user", base)
    if which == SEGBASE_GS_USER_SEL:
        return 0 if base & 0xFFFF in (0, 0xE02B, 0xE033) or base & 3 == 3 else -E.EINVAL
    return -E.EINVAL
