"""set_timer_op: a one-shot timer raising VIRQ_TIMER at an absolute system time."""
from hvcore.hypercalls import hypercall
from hvcore.public import xen as XEN


@hypercall(XEN.HYPERVISOR_set_timer_op)
def set_timer_op(v, timeout, hi, *_):
    """long set_timer_op(uint64_t timeout): 0 cancels; 32-bit guests pass two halves"""
    deadline = timeout if v.is_64bit else (hi << 32) | timeout
    v.state.timer_deadline_ns = deadline or None
    return 0
