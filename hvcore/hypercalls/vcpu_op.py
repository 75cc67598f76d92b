"""vcpu_op: per-vCPU operations (public/vcpu.h)."""
import ctypes
import struct

from hvcore.domain import SHUTDOWN_POWEROFF
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import vcpu as VC
from hvcore.public import xen as XEN


def _target(v, vcpuid):
    vcpuid &= 0xFFFFFFFF
    return v.domain.vcpus[vcpuid] if vcpuid < len(v.domain.vcpus) else None


@hypercall(XEN.HYPERVISOR_vcpu_op)
def vcpu_op(v, cmd, vcpuid, arg, *_):
    """long vcpu_op(int cmd, unsigned int vcpuid, void *extra_args)"""
    cmd &= 0xFFFFFFFF
    t = _target(v, vcpuid)
    if t is None:
        return -E.ENOENT
    if cmd == VC.VCPUOP_is_up:
        return 1 if t.state.up else 0
    if cmd == VC.VCPUOP_get_runstate_info:
        now = v.domain.time.system_time_ns()
        # state, state_entry_time, time[4]: in its state since boot
        state = (VC.RUNSTATE_offline if not t.state.up else
                 VC.RUNSTATE_blocked if t.state.blocked else VC.RUNSTATE_running)
        fmt = "<i4xQ4Q" if v.is_64bit else "<iQ4Q"     # 48 bytes, or 44 packed by 4
        v.write_virt(arg, struct.pack(fmt, state, now, now, 0, 0, 0))
        return 0
    if cmd == VC.VCPUOP_register_runstate_memory_area:
        return 0
    if cmd == VC.VCPUOP_register_vcpu_info:
        # for itself, or for a vCPU that is down (Linux sets them all up from vCPU0)
        return _register_vcpu_info(v, t, arg) if t is v or not t.state.up else -E.EINVAL
    if cmd in (VC.VCPUOP_set_singleshot_timer, VC.VCPUOP_stop_singleshot_timer) and t is not v:
        return -E.EINVAL
    if cmd == VC.VCPUOP_set_singleshot_timer:
        deadline, flags = struct.unpack("<QI", v.read_virt(arg, 12))
        if flags & VC.VCPU_SSHOTTMR_future and deadline < v.domain.time.system_time_ns():
            return -E.ETIME
        t.state.timer_deadline_ns = deadline
        return 0
    if cmd == VC.VCPUOP_stop_singleshot_timer:
        t.state.timer_deadline_ns = None
        return 0
    if cmd in (VC.VCPUOP_set_periodic_timer, VC.VCPUOP_stop_periodic_timer):
        return 0
    if cmd == VC.VCPUOP_initialise:
        return _initialise(v, t, arg)
    if cmd == VC.VCPUOP_up:
        if not t.state.initialised:
            return -E.EINVAL
        t.state.up = True
        return 0
    if cmd == VC.VCPUOP_down:
        return _down(v, t)
    return -E.ENOSYS


def _initialise(v, t, arg) -> int:
    """Xen's default_initialise_vcpu: copy the context in (-EFAULT), refuse a vCPU that
    already has one (-EEXIST), then arch_set_info_guest."""
    from hvcore.arch.x86.pv.vcpu_context import arch_set_info_guest, context_class
    raw = v.read_virt(arg, ctypes.sizeof(context_class(v)))
    if t.state.initialised:
        return -E.EEXIST
    return arch_set_info_guest(t, raw)


def _down(v, t) -> int:
    """Take vCPU `t` down; the last one going down powers the domain off, as on Xen."""
    if not any(o.state.up for o in v.domain.vcpus if o is not t):
        v.domain.shutdown(SHUTDOWN_POWEROFF)
        return 0
    t.state.up = False      # the run loop stops it after this hypercall
    return 0


def _register_vcpu_info(v, t, arg) -> int:
    """struct vcpu_register_vcpu_info { uint64_t mfn; uint32_t offset; uint32_t rsvd; }"""
    mfn, offset, _ = struct.unpack("<QII", v.read_virt(arg, 16))
    if not t.domain.is_ram_pfn(mfn) or offset > 4096 - 64:
        return -E.EINVAL
    new = (mfn << 12) + offset
    t.domain.mem.write(new, t.domain.mem.read(t.state.vcpu_info_paddr, 64))
    t.state.vcpu_info_paddr = new
    return 0
