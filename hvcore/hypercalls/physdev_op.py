"""physdev_op: I/O privilege for PV guests (public/physdev.h)."""
import struct

from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import physdev as PD
from hvcore.public import xen as XEN


@hypercall(XEN.HYPERVISOR_physdev_op)
def physdev_op(v, cmd, arg, *_):
    """long physdev_op(int cmd, void *arg)"""
    cmd &= 0xFFFFFFFF
    if cmd == PD.PHYSDEVOP_set_iopl:
        iopl = struct.unpack("<I", v.read_virt(arg, 4))[0]
        if iopl > 3:
            return -E.EINVAL
        v.state.iopl = iopl
        return 0
    if cmd == PD.PHYSDEVOP_set_iobitmap:
        if v.is_64bit:
            bitmap, nr_ports = struct.unpack("<QI", v.read_virt(arg, 12))
        else:
            bitmap, nr_ports = struct.unpack("<II", v.read_virt(arg, 8))
        if nr_ports > 65536:
            return -E.EINVAL
        v.state.iobmp, v.state.iobmp_limit = bitmap, nr_ports
        return 0
    return -E.ENOSYS
