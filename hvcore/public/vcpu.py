"""HYPERVISOR_vcpu_op: public/vcpu.h."""

from ctypes import c_int32, c_uint32, c_uint64

from . import struct_pair

VCPUOP_initialise = 0
VCPUOP_up = 1
VCPUOP_down = 2
VCPUOP_is_up = 3
VCPUOP_get_runstate_info = 4
VCPUOP_register_runstate_memory_area = 5
VCPUOP_set_periodic_timer = 6
VCPUOP_stop_periodic_timer = 7
VCPUOP_set_singleshot_timer = 8
VCPUOP_stop_singleshot_timer = 9
VCPUOP_register_vcpu_info = 10
VCPUOP_send_nmi = 11
VCPUOP_get_physid = 12
VCPUOP_register_vcpu_time_memory_area = 13

RUNSTATE_running = 0
RUNSTATE_runnable = 1
RUNSTATE_blocked = 2
RUNSTATE_offline = 3

# Set in vcpu_runstate_info.state_entry_time while Xen updates the area
# (only with VMASST_TYPE_runstate_update_flag).
XEN_RUNSTATE_UPDATE = 1 << 63

VCPU_SSHOTTMR_future_bit = 0
VCPU_SSHOTTMR_future = 1 << VCPU_SSHOTTMR_future_bit

# 44 bytes on 32-bit (state_entry_time at offset 4), 48 on 64-bit.
vcpu_runstate_info_64, vcpu_runstate_info_32 = struct_pair("vcpu_runstate_info", lambda abi: [
    ("state", c_int32),
    ("state_entry_time", c_uint64),
    ("time", c_uint64 * 4),
])


def _addr_union(abi, name):
    # Guest virtual address of the area; always 8 bytes, the handle/pointer
    # members alias its low half.
    return abi.union(name, [("h", abi.handle), ("v", abi.ulong), ("p", c_uint64)])


vcpu_register_runstate_memory_area_64, vcpu_register_runstate_memory_area_32 = struct_pair(
    "vcpu_register_runstate_memory_area",
    lambda abi: [("addr", _addr_union(abi, "vcpu_register_runstate_memory_area_addr"))])

vcpu_set_periodic_timer_64, vcpu_set_periodic_timer_32 = struct_pair(
    "vcpu_set_periodic_timer", lambda abi: [("period_ns", c_uint64)])

vcpu_set_singleshot_timer_64, vcpu_set_singleshot_timer_32 = struct_pair(
    "vcpu_set_singleshot_timer", lambda abi: [("timeout_abs_ns", c_uint64), ("flags", c_uint32)])

vcpu_register_vcpu_info_64, vcpu_register_vcpu_info_32 = struct_pair(
    "vcpu_register_vcpu_info",
    lambda abi: [("mfn", c_uint64), ("offset", c_uint32), ("rsvd", c_uint32)])

vcpu_get_physid_64, vcpu_get_physid_32 = struct_pair(
    "vcpu_get_physid", lambda abi: [("phys_id", c_uint64)])

vcpu_register_time_memory_area_64, vcpu_register_time_memory_area_32 = struct_pair(
    "vcpu_register_time_memory_area",
    lambda abi: [("addr", _addr_union(abi, "vcpu_register_time_memory_area_addr"))])
