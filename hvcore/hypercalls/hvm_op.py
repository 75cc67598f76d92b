"""hvm_op: an HVM guest's own requests (public/hvm/hvm_op.h): its params (the event
callback, where its xenstore and console rings are), the time, its upcall vector.
PV domains have no HVM side: -ENOSYS, as before this family existed."""
import ctypes
import struct

from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import hvm as H
from hvcore.public import xen as XEN

# What a guest may set about itself (Xen's hvm_allow_set_param); the ring params are
# the toolstack's.
_GUEST_SETTABLE = frozenset({H.HVM_PARAM_CALLBACK_IRQ, H.HVM_PARAM_TIMER_MODE,
                             H.HVM_PARAM_PAE_ENABLED})


@hypercall(XEN.HYPERVISOR_hvm_op)
def hvm_op(v, op, arg, *_):
    """long hvm_op(unsigned long op, void *arg)"""
    xen = v.domain.hvm
    if xen is None:
        return -E.ENOSYS
    op &= 0xFFFFFFFF
    if op in (H.HVMOP_set_param, H.HVMOP_get_param):
        return _param(v, xen, op, arg)
    if op == H.HVMOP_get_time:
        v.write_virt(arg, struct.pack("<Q", v.domain.time.system_time_ns()))
        return 0
    if op == H.HVMOP_set_evtchn_upcall_vector:
        req = H.xen_hvm_evtchn_upcall_vector.from_buffer_copy(v.read_virt(arg, 8))
        if req.vcpu >= len(xen.views) or req.vector < 0x10:
            return -E.EINVAL
        xen.views[req.vcpu].upcall_vector = req.vector
        return 0
    if op in (H.HVMOP_flush_tlbs, H.HVMOP_pagetable_dying):
        v.flush_tlb()
        return 0
    return -E.ENOSYS


def _param(v, xen, op: int, arg: int) -> int:
    """struct xen_hvm_param { domid_t domid; uint32_t index; uint64_t value; }"""
    size = ctypes.sizeof(H.xen_hvm_param)
    req = H.xen_hvm_param.from_buffer_copy(v.read_virt(arg, size))
    if req.domid not in (XEN.DOMID_SELF, v.domain.domid):
        return -E.ESRCH
    if req.index >= H.HVM_NR_PARAMS:
        return -E.EINVAL
    if op == H.HVMOP_get_param:
        req.value = xen.params.get(req.index, 0)
        v.write_virt(arg, bytes(req))
        return 0
    if req.index not in _GUEST_SETTABLE:
        return -E.EPERM
    xen.params[req.index] = req.value
    if req.index == H.HVM_PARAM_CALLBACK_IRQ:
        xen.latch_width(v.hvm)
    return 0
