"""Xenstore wire protocol and ring page: public/io/xs_wire.h."""

from ctypes import c_char, c_uint32

from .. import struct_pair

# enum xsd_sockmsg_type
XS_CONTROL = 0
XS_DEBUG = XS_CONTROL
XS_DIRECTORY = 1
XS_READ = 2
XS_GET_PERMS = 3
XS_WATCH = 4
XS_UNWATCH = 5
XS_TRANSACTION_START = 6
XS_TRANSACTION_END = 7
XS_INTRODUCE = 8
XS_RELEASE = 9
XS_GET_DOMAIN_PATH = 10
XS_WRITE = 11
XS_MKDIR = 12
XS_RM = 13
XS_SET_PERMS = 14
XS_WATCH_EVENT = 15
XS_ERROR = 16
XS_IS_DOMAIN_INTRODUCED = 17
XS_RESUME = 18
XS_SET_TARGET = 19
# 20 was XS_RESTRICT, since removed.
XS_RESET_WATCHES = XS_SET_TARGET + 2
XS_DIRECTORY_PART = 22
XS_TYPE_COUNT = 23
XS_INVALID = 0xFFFF

XS_WRITE_NONE = "NONE"
XS_WRITE_CREATE = "CREATE"
XS_WRITE_CREATE_EXCL = "CREATE|EXCL"

# XS_ERROR replies carry one of these errno names (not numbers) as payload.
xsd_errors = ("EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO",
              "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM")

# enum xs_watch_type: field index inside an XS_WATCH_EVENT payload.
XS_WATCH_PATH = 0
XS_WATCH_TOKEN = 1

XENSTORE_RING_SIZE = 1024
XENSTORE_PAYLOAD_MAX = 4096
XENSTORE_ABS_PATH_MAX = 3072
XENSTORE_REL_PATH_MAX = 2048

XENSTORE_SERVER_FEATURE_RECONNECTION = 1
XENSTORE_SERVER_FEATURE_ERROR = 2
XENSTORE_CONNECTED = 0
XENSTORE_RECONNECT = 1
XENSTORE_ERROR_NONE = 0
XENSTORE_ERROR_COMM = 1
XENSTORE_ERROR_RINGIDX = 2
XENSTORE_ERROR_PROTO = 3


def MASK_XENSTORE_IDX(idx: int) -> int:
    return idx & (XENSTORE_RING_SIZE - 1)


xsd_sockmsg_64, xsd_sockmsg_32 = struct_pair("xsd_sockmsg", lambda abi: [
    ("type", c_uint32),
    ("req_id", c_uint32),
    ("tx_id", c_uint32),
    ("len", c_uint32),
])

xenstore_domain_interface_64, xenstore_domain_interface_32 = struct_pair(
    "xenstore_domain_interface", lambda abi: [
        ("req", c_char * XENSTORE_RING_SIZE),
        ("rsp", c_char * XENSTORE_RING_SIZE),
        ("req_cons", c_uint32),
        ("req_prod", c_uint32),
        ("rsp_cons", c_uint32),
        ("rsp_prod", c_uint32),
        ("server_features", c_uint32),
        ("connection", c_uint32),
        ("error", c_uint32),
    ])
