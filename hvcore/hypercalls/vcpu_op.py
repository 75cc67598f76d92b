"""vcpu_op: per-vCPU operations (public/vcpu.h)."""
import struct

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
        # state, state_entry_time, time[4]: running since boot
        v.write_virt(arg, struct.pack("<iIQ4Q", 0, 0, now, now, 0, 0, 0))
        return 0
    if cmd == VC.VCPUOP_register_runstate_memory_area:
        return 0
    if cmd == VC.VCPUOP_register_vcpu_info:
        return _register_vcpu_info(t, arg) if t is v else -E.EINVAL
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
    if cmd in (VC.VCPUOP_up, VC.VCPUOP_down, VC.VCPUOP_initialise):
        return -E.EINVAL if t is v else -E.ENOSYS
    return -E.ENOSYS


def _register_vcpu_info(v, arg) -> int:
    """struct vcpu_register_vcpu_info { uint64_t mfn; uint32_t offset; uint32_t rsvd; }"""
    mfn, offset, _ = struct.unpack("<QII", v.read_virt(arg, 16))
    if not v.domain.is_ram_pfn(mfn) or offset > 4096 - 64:
        return -E.EINVAL
    new = (mfn << 12) + offset
    v.domain.mem.write(new, v.domain.mem.read(v.state.vcpu_info_paddr, 64))
    v.state.vcpu_info_paddr = new
    return 0
