"""HYPERVISOR_sched_op: public/sched.h."""

from ctypes import c_int32, c_uint16, c_uint32, c_uint64

from . import struct_pair

SCHEDOP_yield = 0
SCHEDOP_block = 1
SCHEDOP_shutdown = 2
SCHEDOP_poll = 3
SCHEDOP_remote_shutdown = 4
SCHEDOP_shutdown_code = 5
SCHEDOP_watchdog = 6
SCHEDOP_pin_override = 7

SHUTDOWN_poweroff = 0
SHUTDOWN_reboot = 1
SHUTDOWN_suspend = 2
SHUTDOWN_crash = 3
SHUTDOWN_watchdog = 4
SHUTDOWN_soft_reset = 5
SHUTDOWN_MAX = 5

sched_shutdown_64, sched_shutdown_32 = struct_pair(
    "sched_shutdown", lambda abi: [("reason", c_uint32)])

sched_poll_64, sched_poll_32 = struct_pair("sched_poll", lambda abi: [
    ("ports", abi.handle),
    ("nr_ports", c_uint32),
    ("timeout", c_uint64),
])

sched_remote_shutdown_64, sched_remote_shutdown_32 = struct_pair(
    "sched_remote_shutdown", lambda abi: [("domain_id", c_uint16), ("reason", c_uint32)])

sched_watchdog_64, sched_watchdog_32 = struct_pair(
    "sched_watchdog", lambda abi: [("id", c_uint32), ("timeout", c_uint32)])

sched_pin_override_64, sched_pin_override_32 = struct_pair(
    "sched_pin_override", lambda abi: [("pcpu", c_int32)])
