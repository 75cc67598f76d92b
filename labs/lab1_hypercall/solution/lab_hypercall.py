"""Lab 1, reference solution: lab_op in the hypervisor."""
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E

HYPERVISOR_lab_op = 55                  # __HYPERVISOR_arch_7
LABOP_hello, LABOP_sum, LABOP_count = 0, 1, 2
HELLO_MAGIC = 0x1AB
SUM_MAX = 4096


@hypercall(HYPERVISOR_lab_op)
def lab_op(v, cmd, buf, length, *_):
    """long lab_op(unsigned int cmd, const void *buf, unsigned long len)"""
    dom = v.domain
    before = getattr(dom, "lab_op_calls", 0)
    dom.lab_op_calls = before + 1       # domain state: every vCPU sees the same count
    cmd &= 0xFFFFFFFF
    if cmd == LABOP_hello:
        return HELLO_MAGIC
    if cmd == LABOP_sum:
        if length > SUM_MAX:
            return -E.EINVAL
        # read_virt walks the guest's page tables; an unmapped byte raises PageFault,
        # which the hypercall table turns into -EFAULT
        return sum(v.read_virt(buf, length)) if length else 0
    if cmd == LABOP_count:
        return before
    return -E.ENOSYS
