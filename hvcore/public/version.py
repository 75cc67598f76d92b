"""HYPERVISOR_xen_version: public/version.h."""

from ctypes import c_char, c_ubyte, c_uint32

from . import struct_pair

XENVER_version = 0
XENVER_extraversion = 1
XENVER_compile_info = 2
XENVER_capabilities = 3
XENVER_changeset = 4
XENVER_platform_parameters = 5
XENVER_get_features = 6
XENVER_pagesize = 7
XENVER_guest_handle = 8
XENVER_commandline = 9
XENVER_build_id = 10

# Sub-ops that return a bare fixed-size string buffer, NUL-padded.
xen_extraversion_t = c_char * 16
xen_capabilities_info_t = c_char * 1024
xen_changeset_info_t = c_char * 64
xen_commandline_t = c_char * 1024
XEN_EXTRAVERSION_LEN = 16
XEN_CAPABILITIES_INFO_LEN = 1024
XEN_CHANGESET_INFO_LEN = 64

xen_compile_info_64, xen_compile_info_32 = struct_pair("xen_compile_info", lambda abi: [
    ("compiler", c_char * 64),
    ("compile_by", c_char * 16),
    ("compile_domain", c_char * 32),
    ("compile_date", c_char * 32),
])

xen_platform_parameters_64, xen_platform_parameters_32 = struct_pair(
    "xen_platform_parameters", lambda abi: [("virt_start", abi.ulong)])

xen_feature_info_64, xen_feature_info_32 = struct_pair(
    "xen_feature_info", lambda abi: [("submap_idx", c_uint32), ("submap", c_uint32)])

# Header only: `buf` is a flexible array of `len` bytes following it.
xen_build_id_64, xen_build_id_32 = struct_pair(
    "xen_build_id", lambda abi: [("len", c_uint32), ("buf", c_ubyte * 0)])
