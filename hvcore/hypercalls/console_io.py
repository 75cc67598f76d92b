"""console_io: the hypervisor's own console (what `xl dmesg` / the serial line shows)."""
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import xen as XEN

MAX_WRITE = 1 << 16


@hypercall(XEN.HYPERVISOR_console_io)
def console_io(v, cmd, count, buffer, *_):
    """long console_io(int cmd, int count, XEN_GUEST_HANDLE(char) buffer)"""
    cmd &= 0xFFFFFFFF
    count &= 0xFFFFFFFF
    if not v.domain.console_io_allowed:
        return -E.EPERM
    if cmd == XEN.CONSOLEIO_write:
        if count > MAX_WRITE:
            return -E.EINVAL
        v.domain.console_write(v.read_virt(buffer, count))
        return 0
    if cmd == XEN.CONSOLEIO_read:
        return 0            # no input pending on the hypervisor console
    return -E.ENOSYS
