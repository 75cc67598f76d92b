"""HYPERVISOR_grant_table_op and the shared grant table: public/grant_table.h."""

from ctypes import c_int16, c_uint16, c_uint32, c_uint64

from . import struct_pair, union_pair

GNTTABOP_map_grant_ref = 0
GNTTABOP_unmap_grant_ref = 1
GNTTABOP_setup_table = 2
GNTTABOP_dump_table = 3
GNTTABOP_transfer = 4
GNTTABOP_copy = 5
GNTTABOP_query_size = 6
GNTTABOP_unmap_and_replace = 7
GNTTABOP_set_version = 8
GNTTABOP_get_status_frames = 9
GNTTABOP_get_version = 10
GNTTABOP_swap_grant_ref = 11
GNTTABOP_cache_flush = 12

GNTTAB_NR_RESERVED_ENTRIES = 8
GNTTAB_RESERVED_CONSOLE = 0
GNTTAB_RESERVED_XENSTORE = 1

# grant_entry.flags
GTF_invalid = 0 << 0
GTF_permit_access = 1 << 0
GTF_accept_transfer = 2 << 0
GTF_transitive = 3 << 0
GTF_type_mask = 3 << 0
GTF_readonly_bit = 2
GTF_readonly = 1 << GTF_readonly_bit
GTF_reading_bit = 3
GTF_reading = 1 << GTF_reading_bit
GTF_writing_bit = 4
GTF_writing = 1 << GTF_writing_bit
GTF_PWT_bit = 5
GTF_PWT = 1 << GTF_PWT_bit
GTF_PCD_bit = 6
GTF_PCD = 1 << GTF_PCD_bit
GTF_PAT_bit = 7
GTF_PAT = 1 << GTF_PAT_bit
GTF_sub_page_bit = 8
GTF_sub_page = 1 << GTF_sub_page_bit
GTF_transfer_committed_bit = 2
GTF_transfer_committed = 1 << GTF_transfer_committed_bit
GTF_transfer_completed_bit = 3
GTF_transfer_completed = 1 << GTF_transfer_completed_bit

# gnttab_map_grant_ref.flags
GNTMAP_device_map_bit = 0
GNTMAP_device_map = 1 << GNTMAP_device_map_bit
GNTMAP_host_map_bit = 1
GNTMAP_host_map = 1 << GNTMAP_host_map_bit
GNTMAP_readonly_bit = 2
GNTMAP_readonly = 1 << GNTMAP_readonly_bit
GNTMAP_application_map_bit = 3
GNTMAP_application_map = 1 << GNTMAP_application_map_bit
GNTMAP_contains_pte_bit = 4
GNTMAP_contains_pte = 1 << GNTMAP_contains_pte_bit
GNTMAP_guest_avail0_bit = 16
GNTMAP_guest_avail_mask = (0xFFFFFFFF << GNTMAP_guest_avail0_bit) & 0xFFFFFFFF

# gnttab_copy.flags
GNTCOPY_source_gref_bit = 0
GNTCOPY_source_gref = 1 << GNTCOPY_source_gref_bit
GNTCOPY_dest_gref_bit = 1
GNTCOPY_dest_gref = 1 << GNTCOPY_dest_gref_bit

# gnttab_cache_flush.op
GNTTAB_CACHE_CLEAN = 1 << 0
GNTTAB_CACHE_INVAL = 1 << 1
GNTTAB_CACHE_SOURCE_GREF = 1 << 31

# Per-op status codes (the hypercall itself returns 0 / -errno).
GNTST_okay = 0
GNTST_general_error = -1
GNTST_bad_domain = -2
GNTST_bad_gntref = -3
GNTST_bad_handle = -4
GNTST_bad_virt_addr = -5
GNTST_bad_dev_addr = -6
GNTST_no_device_space = -7
GNTST_permission_denied = -8
GNTST_bad_page = -9
GNTST_bad_copy_arg = -10
GNTST_address_too_big = -11
GNTST_eagain = -12
GNTST_no_space = -13

GNTTABOP_error_msgs = (
    "okay",
    "undefined error",
    "unrecognised domain id",
    "invalid grant reference",
    "invalid mapping handle",
    "invalid virtual address",
    "invalid device address",
    "no spare translation slot in the I/O MMU",
    "permission denied",
    "bad page",
    "copy arguments cross page boundary",
    "page address size too large",
    "operation not done; try again",
    "out of space",
)

grant_entry_v1_64, grant_entry_v1_32 = struct_pair(
    "grant_entry_v1", lambda abi: [("flags", c_uint16), ("domid", c_uint16), ("frame", c_uint32)])

grant_entry_header_64, grant_entry_header_32 = struct_pair(
    "grant_entry_header", lambda abi: [("flags", c_uint16), ("domid", c_uint16)])


def _grant_entry_v2(abi):
    header = abi.pick(grant_entry_header_64, grant_entry_header_32)
    return [
        ("hdr", header),
        ("full_page", abi.struct("grant_entry_v2_full_page", [
            ("hdr", header), ("pad0", c_uint32), ("frame", c_uint64)])),
        ("sub_page", abi.struct("grant_entry_v2_sub_page", [
            ("hdr", header), ("page_off", c_uint16), ("length", c_uint16), ("frame", c_uint64)])),
        ("transitive", abi.struct("grant_entry_v2_transitive", [
            ("hdr", header), ("trans_domid", c_uint16), ("pad0", c_uint16), ("gref", c_uint32)])),
        ("__spacer", c_uint32 * 4),
    ]


grant_entry_v2_64, grant_entry_v2_32 = union_pair("grant_entry_v2", _grant_entry_v2)

gnttab_map_grant_ref_64, gnttab_map_grant_ref_32 = struct_pair(
    "gnttab_map_grant_ref", lambda abi: [
        ("host_addr", c_uint64),
        ("flags", c_uint32),
        ("ref", c_uint32),
        ("dom", c_uint16),
        ("status", c_int16),
        ("handle", c_uint32),
        ("dev_bus_addr", c_uint64),
    ])

gnttab_unmap_grant_ref_64, gnttab_unmap_grant_ref_32 = struct_pair(
    "gnttab_unmap_grant_ref", lambda abi: [
        ("host_addr", c_uint64),
        ("dev_bus_addr", c_uint64),
        ("handle", c_uint32),
        ("status", c_int16),
    ])

gnttab_setup_table_64, gnttab_setup_table_32 = struct_pair("gnttab_setup_table", lambda abi: [
    ("dom", c_uint16),
    ("nr_frames", c_uint32),
    ("status", c_int16),
    ("frame_list", abi.handle),
])

gnttab_dump_table_64, gnttab_dump_table_32 = struct_pair(
    "gnttab_dump_table", lambda abi: [("dom", c_uint16), ("status", c_int16)])

gnttab_transfer_64, gnttab_transfer_32 = struct_pair("gnttab_transfer", lambda abi: [
    ("mfn", abi.ulong),
    ("domid", c_uint16),
    ("ref", c_uint32),
    ("status", c_int16),
])


def _gnttab_copy(abi):
    ptr = abi.struct("gnttab_copy_ptr", [
        ("u", abi.union("gnttab_copy_ptr_u", [("ref", c_uint32), ("gmfn", abi.ulong)])),
        ("domid", c_uint16),
        ("offset", c_uint16),
    ])
    return [("source", ptr), ("dest", ptr), ("len", c_uint16), ("flags", c_uint16),
            ("status", c_int16)]


gnttab_copy_64, gnttab_copy_32 = struct_pair("gnttab_copy", _gnttab_copy)

gnttab_query_size_64, gnttab_query_size_32 = struct_pair("gnttab_query_size", lambda abi: [
    ("dom", c_uint16),
    ("nr_frames", c_uint32),
    ("max_nr_frames", c_uint32),
    ("status", c_int16),
])

gnttab_unmap_and_replace_64, gnttab_unmap_and_replace_32 = struct_pair(
    "gnttab_unmap_and_replace", lambda abi: [
        ("host_addr", c_uint64),
        ("new_addr", c_uint64),
        ("handle", c_uint32),
        ("status", c_int16),
    ])

gnttab_set_version_64, gnttab_set_version_32 = struct_pair(
    "gnttab_set_version", lambda abi: [("version", c_uint32)])

gnttab_get_status_frames_64, gnttab_get_status_frames_32 = struct_pair(
    "gnttab_get_status_frames", lambda abi: [
        ("nr_frames", c_uint32),
        ("dom", c_uint16),
        ("status", c_int16),
        ("frame_list", abi.handle),
    ])

gnttab_get_version_64, gnttab_get_version_32 = struct_pair(
    "gnttab_get_version", lambda abi: [("dom", c_uint16), ("pad", c_uint16), ("version", c_uint32)])

gnttab_swap_grant_ref_64, gnttab_swap_grant_ref_32 = struct_pair(
    "gnttab_swap_grant_ref",
    lambda abi: [("ref_a", c_uint32), ("ref_b", c_uint32), ("status", c_int16)])


def _gnttab_cache_flush(abi):
    a = abi.union("gnttab_cache_flush_a", [("dev_bus_addr", c_uint64), ("ref", c_uint32)])
    return [("a", a), ("offset", c_uint16), ("length", c_uint16), ("op", c_uint32)]


gnttab_cache_flush_64, gnttab_cache_flush_32 = struct_pair("gnttab_cache_flush", _gnttab_cache_flush)
