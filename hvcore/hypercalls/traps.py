"""set_trap_table: the guest's virtual IDT."""
import struct

from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import xen as XEN
from hvcore.vcpu import TrapInfo


@hypercall(XEN.HYPERVISOR_set_trap_table)
def set_trap_table(v, traps, *_):
    """long set_trap_table(const struct trap_info traps[]): ends at an entry with address 0"""
    if traps == 0:
        v.state.trap_table.clear()    # NULL resets the table, as Xen does
        return 0
    size, fmt = (16, "<BBHxxxxQ") if v.is_64bit else (8, "<BBHI")
    for i in range(256):
        vector, flags, cs, address = struct.unpack(fmt, v.read_virt(traps + i * size, size))
        if address == 0:
            return 0
        if not v.is_64bit and (cs & 3) == 0:
            cs |= 1                    # ring-0 selectors mean the guest kernel's ring
        v.state.trap_table[vector] = TrapInfo(vector, flags, cs, address)
    return -E.EINVAL
