"""HYPERVISOR_callback_op: public/callback.h."""

from ctypes import c_uint16

from . import struct_pair
from .arch_x86 import xen_callback_32

CALLBACKTYPE_event = 0
CALLBACKTYPE_failsafe = 1
CALLBACKTYPE_syscall = 2  # 64-bit user space of a 64-bit guest
CALLBACKTYPE_sysenter_deprecated = 3
CALLBACKTYPE_nmi = 4
CALLBACKTYPE_sysenter = 5  # 32-bit user space, Intel CPUs
CALLBACKTYPE_syscall32 = 7  # 32-bit user space, AMD CPUs

CALLBACKF_mask_events_bit = 0
CALLBACKF_mask_events = 1 << CALLBACKF_mask_events_bit

CALLBACKOP_register = 0
CALLBACKOP_unregister = 1

callback_register_64, callback_register_32 = struct_pair("callback_register", lambda abi: [
    ("type", c_uint16),
    ("flags", c_uint16),
    ("address", abi.pick(abi.ulong, xen_callback_32)),
])

callback_unregister_64, callback_unregister_32 = struct_pair(
    "callback_unregister", lambda abi: [("type", c_uint16), ("_unused", c_uint16)])
