"""set_debugreg / get_debugreg: the guest's debug registers (kept, not armed)."""
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import xen as XEN

DR7_RESERVED_ONE = 0x400


def set_debugreg(v, reg: int, value: int) -> int:
    if reg in (4, 5) or reg > 7:
        return -E.EINVAL
    if reg < 4 and value >> 47 not in (0, (1 << 17) - 1):
        return -E.EPERM      # breakpoints only on guest (canonical) addresses
    if reg == 7:
        value |= DR7_RESERVED_ONE
    v.state.debugreg[reg] = value
    return 0


@hypercall(XEN.HYPERVISOR_set_debugreg)
def set_debugreg_hc(v, reg, value, *_):
    """long set_debugreg(int reg, unsigned long value)"""
    return set_debugreg(v, reg & 0xFFFFFFFF, value)


@hypercall(XEN.HYPERVISOR_get_debugreg)
def get_debugreg(v, reg, *_):
    """unsigned long get_debugreg(int reg)"""
    reg &= 0xFFFFFFFF
    if reg in (4, 5) or reg > 7:
        return -E.EINVAL
    return v.state.debugreg[reg]
