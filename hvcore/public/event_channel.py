"""HYPERVISOR_event_channel_op: public/event_channel.h."""

from ctypes import c_uint8, c_uint16, c_uint32, c_uint64

from . import struct_pair

EVTCHNOP_bind_interdomain = 0
EVTCHNOP_bind_virq = 1
EVTCHNOP_bind_pirq = 2
EVTCHNOP_close = 3
EVTCHNOP_send = 4
EVTCHNOP_status = 5
EVTCHNOP_alloc_unbound = 6
EVTCHNOP_bind_ipi = 7
EVTCHNOP_bind_vcpu = 8
EVTCHNOP_unmask = 9
EVTCHNOP_reset = 10
EVTCHNOP_init_control = 11
EVTCHNOP_expand_array = 12
EVTCHNOP_set_priority = 13

BIND_PIRQ__WILL_SHARE = 1

EVTCHNSTAT_closed = 0
EVTCHNSTAT_unbound = 1
EVTCHNSTAT_interdomain = 2
EVTCHNSTAT_pirq = 3
EVTCHNSTAT_virq = 4
EVTCHNSTAT_ipi = 5

# 2-level ABI: one pending/mask bit per port in shared_info, word_bits**2 ports.
EVTCHN_2L_NR_CHANNELS_64 = 64 * 64
EVTCHN_2L_NR_CHANNELS_32 = 32 * 32

EVTCHN_FIFO_PRIORITY_MAX = 0
EVTCHN_FIFO_PRIORITY_DEFAULT = 7
EVTCHN_FIFO_PRIORITY_MIN = 15
EVTCHN_FIFO_MAX_QUEUES = EVTCHN_FIFO_PRIORITY_MIN + 1
EVTCHN_FIFO_PENDING = 31
EVTCHN_FIFO_MASKED = 30
EVTCHN_FIFO_LINKED = 29
EVTCHN_FIFO_BUSY = 28
EVTCHN_FIFO_LINK_BITS = 17
EVTCHN_FIFO_LINK_MASK = (1 << EVTCHN_FIFO_LINK_BITS) - 1
EVTCHN_FIFO_NR_CHANNELS = 1 << EVTCHN_FIFO_LINK_BITS

evtchn_alloc_unbound_64, evtchn_alloc_unbound_32 = struct_pair(
    "evtchn_alloc_unbound",
    lambda abi: [("dom", c_uint16), ("remote_dom", c_uint16), ("port", c_uint32)])

evtchn_bind_interdomain_64, evtchn_bind_interdomain_32 = struct_pair(
    "evtchn_bind_interdomain",
    lambda abi: [("remote_dom", c_uint16), ("remote_port", c_uint32), ("local_port", c_uint32)])

evtchn_bind_virq_64, evtchn_bind_virq_32 = struct_pair(
    "evtchn_bind_virq", lambda abi: [("virq", c_uint32), ("vcpu", c_uint32), ("port", c_uint32)])

evtchn_bind_pirq_64, evtchn_bind_pirq_32 = struct_pair(
    "evtchn_bind_pirq", lambda abi: [("pirq", c_uint32), ("flags", c_uint32), ("port", c_uint32)])

evtchn_bind_ipi_64, evtchn_bind_ipi_32 = struct_pair(
    "evtchn_bind_ipi", lambda abi: [("vcpu", c_uint32), ("port", c_uint32)])

evtchn_close_64, evtchn_close_32 = struct_pair("evtchn_close", lambda abi: [("port", c_uint32)])

evtchn_send_64, evtchn_send_32 = struct_pair("evtchn_send", lambda abi: [("port", c_uint32)])


def _evtchn_status(abi):
    u = abi.union("evtchn_status_u", [
        ("unbound", abi.struct("evtchn_status_unbound", [("dom", c_uint16)])),
        ("interdomain", abi.struct("evtchn_status_interdomain", [("dom", c_uint16),
                                                                ("port", c_uint32)])),
        ("pirq", c_uint32),
        ("virq", c_uint32),
    ])
    return [("dom", c_uint16), ("port", c_uint32), ("status", c_uint32), ("vcpu", c_uint32),
            ("u", u)]


evtchn_status_64, evtchn_status_32 = struct_pair("evtchn_status", _evtchn_status)

evtchn_bind_vcpu_64, evtchn_bind_vcpu_32 = struct_pair(
    "evtchn_bind_vcpu", lambda abi: [("port", c_uint32), ("vcpu", c_uint32)])

evtchn_unmask_64, evtchn_unmask_32 = struct_pair("evtchn_unmask", lambda abi: [("port", c_uint32)])

evtchn_reset_64, evtchn_reset_32 = struct_pair("evtchn_reset", lambda abi: [("dom", c_uint16)])

evtchn_init_control_64, evtchn_init_control_32 = struct_pair("evtchn_init_control", lambda abi: [
    ("control_gfn", c_uint64),
    ("offset", c_uint32),
    ("vcpu", c_uint32),
    ("link_bits", c_uint8),
    ("_pad", c_uint8 * 7),
])

evtchn_expand_array_64, evtchn_expand_array_32 = struct_pair(
    "evtchn_expand_array", lambda abi: [("array_gfn", c_uint64)])

evtchn_set_priority_64, evtchn_set_priority_32 = struct_pair(
    "evtchn_set_priority", lambda abi: [("port", c_uint32), ("priority", c_uint32)])


def _evtchn_op(abi):
    # Argument of the pre-3.2 HYPERVISOR_event_channel_op_compat.
    u = abi.union("evtchn_op_u", [
        ("alloc_unbound", abi.pick(evtchn_alloc_unbound_64, evtchn_alloc_unbound_32)),
        ("bind_interdomain", abi.pick(evtchn_bind_interdomain_64, evtchn_bind_interdomain_32)),
        ("bind_virq", abi.pick(evtchn_bind_virq_64, evtchn_bind_virq_32)),
        ("bind_pirq", abi.pick(evtchn_bind_pirq_64, evtchn_bind_pirq_32)),
        ("bind_ipi", abi.pick(evtchn_bind_ipi_64, evtchn_bind_ipi_32)),
        ("close", abi.pick(evtchn_close_64, evtchn_close_32)),
        ("send", abi.pick(evtchn_send_64, evtchn_send_32)),
        ("status", abi.pick(evtchn_status_64, evtchn_status_32)),
        ("bind_vcpu", abi.pick(evtchn_bind_vcpu_64, evtchn_bind_vcpu_32)),
        ("unmask", abi.pick(evtchn_unmask_64, evtchn_unmask_32)),
    ])
    return [("cmd", c_uint32), ("u", u)]


evtchn_op_64, evtchn_op_32 = struct_pair("evtchn_op", _evtchn_op)

evtchn_fifo_control_block_64, evtchn_fifo_control_block_32 = struct_pair(
    "evtchn_fifo_control_block", lambda abi: [
        ("ready", c_uint32),
        ("_rsvd", c_uint32),
        ("head", c_uint32 * EVTCHN_FIFO_MAX_QUEUES),
    ])
