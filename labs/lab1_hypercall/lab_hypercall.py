"""Lab 1: your hypercall, lab_op (see README.md and given/lab_op.h for what it does).

hv loads this file with `hv run KERNEL --hypercalls labs/lab1_hypercall/lab_hypercall.py`:
importing it registers the handler in the hypercall table (hvcore/hypercalls/__init__.py).
A handler gets the vCPU and the argument registers (already cut to 32 bits for a 32-bit
guest) and returns what the guest finds in RAX: a value, or a negative Xen errno.
"""
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E

HYPERVISOR_lab_op = 55                  # __HYPERVISOR_arch_7
LABOP_hello, LABOP_sum, LABOP_count = 0, 1, 2


@hypercall(HYPERVISOR_lab_op)
def lab_op(v, cmd, buf, length, *_):
    """long lab_op(unsigned int cmd, const void *buf, unsigned long len)"""
    # TODO: LABOP_hello, LABOP_sum, LABOP_count (README.md, step 2)
    return -E.ENOSYS
