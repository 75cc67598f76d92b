"""stack_switch and fpu_taskswitch: the guest kernel stack and the lazy-FPU flag."""
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import xen as XEN


@hypercall(XEN.HYPERVISOR_stack_switch)
def stack_switch(v, ss, esp, *_):
    """long stack_switch(unsigned long ss, unsigned long esp)"""
    if not v.is_64bit and (ss & 3) == 0:
        ss |= 1
    v.state.kernel_ss = ss & 0xFFFF
    v.state.kernel_sp = esp
    return 0


@hypercall(XEN.HYPERVISOR_fpu_taskswitch)
def fpu_taskswitch(v, set_ts, *_):
    """long fpu_taskswitch(int set)"""
    v.set_ts(bool(set_ts & 0xFFFFFFFF))
    return 0
