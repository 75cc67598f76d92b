"""sched_op: yield, block, poll, shutdown and friends (public/sched.h)."""
import struct

from hvcore.domain import SHUTDOWN_REASONS
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import sched as S
from hvcore.public import xen as XEN


def _shutdown(v, reason: int) -> int:
    if not 0 <= reason < len(SHUTDOWN_REASONS):
        return -E.EINVAL
    v.domain.shutdown(SHUTDOWN_REASONS[reason])
    return 0


def _poll(v, arg) -> int:
    """struct sched_poll { XEN_GUEST_HANDLE(evtchn_port_t) ports; unsigned int nr_ports; uint64_t timeout; }"""
    if v.is_64bit:
        ports_va, nr, timeout = struct.unpack("<QI4xQ", v.read_virt(arg, 24))
    else:
        ports_va, nr, timeout = struct.unpack("<IIQ", v.read_virt(arg, 16))
    if nr > 128:
        return -E.EINVAL
    ports = struct.unpack(f"<{nr}I", v.read_virt(ports_va, 4 * nr)) if nr else ()
    from hvcore.hypercalls import event_channel_op as ev
    if any(ev.port_pending(v.domain, p) for p in ports):
        return 0
    v.state.poll_ports = tuple(ports)
    v.state.poll_deadline_ns = timeout or None
    v.state.blocked = True
    return 0


@hypercall(XEN.HYPERVISOR_sched_op)
def sched_op(v, cmd, arg, *_):
    """long sched_op(int cmd, void *arg)"""
    cmd &= 0xFFFFFFFF
    if cmd == S.SCHEDOP_yield:
        v.engine.kick()
        return 0
    if cmd == S.SCHEDOP_block:
        v.upcall_mask = 0          # blocking enables event delivery (Xen does the same)
        if not v.upcall_pending:
            v.state.blocked = True
        return 0
    if cmd in (S.SCHEDOP_shutdown, S.SCHEDOP_shutdown_code):
        reason = struct.unpack("<I", v.read_virt(arg, 4))[0]
        if cmd == S.SCHEDOP_shutdown_code:
            v.domain.shutdown_code = reason
            return 0
        return _shutdown(v, reason)
    if cmd == S.SCHEDOP_poll:
        return _poll(v, arg)
    if cmd == S.SCHEDOP_remote_shutdown:
        return -E.EPERM           # only the control domain may
    if cmd == S.SCHEDOP_watchdog:
        return -E.ENOSYS
    return -E.ENOSYS


@hypercall(XEN.HYPERVISOR_sched_op_compat)
def sched_op_compat(v, cmd, arg, *_):
    """long sched_op_compat(int cmd, unsigned long arg): shutdown takes the reason itself"""
    cmd &= 0xFFFFFFFF
    if cmd == S.SCHEDOP_shutdown:
        return _shutdown(v, arg & 0xFFFFFFFF)
    if cmd in (S.SCHEDOP_yield, S.SCHEDOP_block):
        return sched_op(v, cmd, 0)
    return -E.ENOSYS
