"""multicall: a batch of hypercalls, each with its own result."""
import struct

from hvcore.hypercalls import NO_RESULT, call, hypercall
from hvcore.public import errno as E
from hvcore.public import xen as XEN

MAX_BATCH = 4096


@hypercall(XEN.HYPERVISOR_multicall)
def multicall(v, call_list, nr_calls, *_):
    """long multicall(multicall_entry_t call_list[], unsigned int nr_calls)"""
    nr_calls &= 0xFFFFFFFF
    if nr_calls > MAX_BATCH:
        return -E.EINVAL
    w = v.domain.word_size
    fmt = "<8Q" if w == 8 else "<8I"
    mask = (1 << (8 * w)) - 1
    for i in range(nr_calls):
        entry = call_list + i * 8 * w
        op, _result, *args = struct.unpack(fmt, v.read_virt(entry, 8 * w))
        if op in (XEN.HYPERVISOR_multicall, XEN.HYPERVISOR_iret):
            result = -E.EINVAL      # no nesting, no control transfer inside a batch
        else:
            result = call(v, op, tuple(args[:5]))
        if result is NO_RESULT:
            result = 0
        v.write_virt(entry + w, struct.pack("<Q" if w == 8 else "<I", result & mask))
        if not v.domain.running:
            break
    return 0
