"""HYPERVISOR_memory_op: public/memory.h, plus the e820 entry XENMEM_memory_map returns."""

from ctypes import c_uint16, c_uint32, c_uint64

from . import struct_pair

XENMEM_increase_reservation = 0
XENMEM_decrease_reservation = 1
XENMEM_maximum_ram_page = 2
XENMEM_current_reservation = 3
XENMEM_maximum_reservation = 4
XENMEM_machphys_mfn_list = 5
XENMEM_populate_physmap = 6
XENMEM_add_to_physmap = 7
XENMEM_memory_map = 9
XENMEM_machine_memory_map = 10
XENMEM_exchange = 11
XENMEM_machphys_mapping = 12
XENMEM_set_memory_map = 13
XENMEM_maximum_gpfn = 14
XENMEM_remove_from_physmap = 15
XENMEM_set_pod_target = 16
XENMEM_get_pod_target = 17
XENMEM_add_to_physmap_batch = 23
XENMEM_machphys_compat_mfn_list = 25
XENMEM_get_vnumainfo = 26
XENMEM_acquire_resource = 28

# Toolstack-only sub-ops (__XEN_TOOLS__ in the header).
XENMEM_get_sharing_freed_pages = 18
XENMEM_get_sharing_shared_pages = 19
XENMEM_paging_op = 20
XENMEM_access_op = 21
XENMEM_sharing_op = 22
XENMEM_claim_pages = 24
XENMEM_reserved_device_memory_map = 27

XENMEM_paging_op_nominate = 0
XENMEM_paging_op_evict = 1
XENMEM_paging_op_prep = 2
XENMEM_access_op_set_access = 0
XENMEM_access_op_get_access = 1
XENMEM_access_op_set_access_multi = 4
XENMEM_access_n = 0
XENMEM_access_r = 1
XENMEM_access_w = 2
XENMEM_access_rw = 3
XENMEM_access_x = 4
XENMEM_access_rx = 5
XENMEM_access_wx = 6
XENMEM_access_rwx = 7
XENMEM_access_rx2rw = 8
XENMEM_access_n2rwx = 9
XENMEM_access_default = 10
XENMEM_sharing_op_nominate_gfn = 0
XENMEM_sharing_op_nominate_gref = 1
XENMEM_sharing_op_share = 2
XENMEM_sharing_op_debug_gfn = 3
XENMEM_sharing_op_debug_mfn = 4
XENMEM_sharing_op_debug_gref = 5
XENMEM_sharing_op_add_physmap = 6
XENMEM_sharing_op_audit = 7
XENMEM_sharing_op_range_share = 8
XENMEM_sharing_op_fork = 9
XENMEM_sharing_op_fork_reset = 10
XENMEM_SHARING_OP_S_HANDLE_INVALID = -10
XENMEM_SHARING_OP_C_HANDLE_INVALID = -9
XENMEM_SHARING_OP_FIELD_IS_GREF_FLAG = 1 << 62
XENMEM_FORK_WITH_IOMMU_ALLOWED = 1 << 0
XENMEM_FORK_BLOCK_INTERRUPTS = 1 << 1
XENMEM_FORK_RESET_STATE = 1 << 2
XENMEM_FORK_RESET_MEMORY = 1 << 3
XENMEM_RDM_ALL = 1

# xen_memory_reservation.mem_flags: bits 0-7 address_bits, 8-15 (NUMA node + 1).
XENMEMF_populate_on_demand = 1 << 16
XENMEMF_exact_node_request = 1 << 17
XENMEMF_vnode = 1 << 18


def XENMEMF_address_bits(bits: int) -> int:
    return bits


def XENMEMF_get_address_bits(flags: int) -> int:
    return flags & 0xFF


def XENMEMF_node(node: int) -> int:
    return (node + 1) << 8


def XENMEMF_get_node(flags: int) -> int:
    return ((flags >> 8) - 1) & 0xFF


XENMAPSPACE_shared_info = 0
XENMAPSPACE_grant_table = 1
XENMAPSPACE_gmfn = 2
XENMAPSPACE_gmfn_range = 3
XENMAPSPACE_gmfn_foreign = 4
XENMAPSPACE_dev_mmio = 5
XENMAPIDX_grant_table_status = 0x80000000

XENMEM_resource_ioreq_server = 0
XENMEM_resource_grant_table = 1
XENMEM_resource_vmtrace_buf = 2
XENMEM_resource_grant_table_id_shared = 0
XENMEM_resource_grant_table_id_status = 1
XENMEM_resource_ioreq_server_frame_bufioreq = 0

# E820 types (Xen's asm/e820.h; the public header leaves the buffer untyped).
E820_RAM = 1
E820_RESERVED = 2
E820_ACPI = 3
E820_NVS = 4
E820_UNUSABLE = 5

# Xen declares it __packed: 20 bytes per entry on both ABIs.
e820entry_64, e820entry_32 = struct_pair("e820entry", lambda abi: [
    ("addr", c_uint64),
    ("size", c_uint64),
    ("type", c_uint32),
], pack=1)


def _xen_memory_reservation(abi):
    return [
        ("extent_start", abi.handle),
        ("nr_extents", abi.ulong),
        ("extent_order", c_uint32),
        ("mem_flags", c_uint32),
        ("domid", c_uint16),
    ]


xen_memory_reservation_64, xen_memory_reservation_32 = struct_pair(
    "xen_memory_reservation", _xen_memory_reservation)

xen_memory_exchange_64, xen_memory_exchange_32 = struct_pair("xen_memory_exchange", lambda abi: [
    ("in", abi.pick(xen_memory_reservation_64, xen_memory_reservation_32)),
    ("out", abi.pick(xen_memory_reservation_64, xen_memory_reservation_32)),
    ("nr_exchanged", abi.ulong),
])

xen_memory_domain_64, xen_memory_domain_32 = struct_pair(
    "xen_memory_domain", lambda abi: [("domid", c_uint16)])

xen_machphys_mfn_list_64, xen_machphys_mfn_list_32 = struct_pair(
    "xen_machphys_mfn_list", lambda abi: [
        ("max_extents", c_uint32),
        ("extent_start", abi.handle),
        ("nr_extents", c_uint32),
    ])

xen_machphys_mapping_64, xen_machphys_mapping_32 = struct_pair(
    "xen_machphys_mapping",
    lambda abi: [("v_start", abi.ulong), ("v_end", abi.ulong), ("max_mfn", abi.ulong)])

xen_add_to_physmap_64, xen_add_to_physmap_32 = struct_pair("xen_add_to_physmap", lambda abi: [
    ("domid", c_uint16),
    ("size", c_uint16),
    ("space", c_uint32),
    ("idx", abi.ulong),
    ("gpfn", abi.ulong),
])


def _xen_add_to_physmap_batch(abi):
    extra = abi.union("xen_add_to_physmap_batch_extra", [("foreign_domid", c_uint16),
                                                         ("res0", c_uint16)])
    return [
        ("domid", c_uint16),
        ("space", c_uint16),
        ("size", c_uint16),
        ("u", extra),
        ("idxs", abi.handle),
        ("gpfns", abi.handle),
        ("errs", abi.handle),
    ]


xen_add_to_physmap_batch_64, xen_add_to_physmap_batch_32 = struct_pair(
    "xen_add_to_physmap_batch", _xen_add_to_physmap_batch)

xen_remove_from_physmap_64, xen_remove_from_physmap_32 = struct_pair(
    "xen_remove_from_physmap", lambda abi: [("domid", c_uint16), ("gpfn", abi.ulong)])

# buffer points at nr_entries e820entry records.
xen_memory_map_64, xen_memory_map_32 = struct_pair(
    "xen_memory_map", lambda abi: [("nr_entries", c_uint32), ("buffer", abi.handle)])

xen_foreign_memory_map_64, xen_foreign_memory_map_32 = struct_pair(
    "xen_foreign_memory_map",
    lambda abi: [("domid", c_uint16), ("map", abi.pick(xen_memory_map_64, xen_memory_map_32))])

xen_pod_target_64, xen_pod_target_32 = struct_pair("xen_pod_target", lambda abi: [
    ("target_pages", c_uint64),
    ("tot_pages", c_uint64),
    ("pod_cache_pages", c_uint64),
    ("pod_entries", c_uint64),
    ("domid", c_uint16),
])

xen_mem_acquire_resource_64, xen_mem_acquire_resource_32 = struct_pair(
    "xen_mem_acquire_resource", lambda abi: [
        ("domid", c_uint16),
        ("type", c_uint16),
        ("id", c_uint32),
        ("nr_frames", c_uint32),
        ("pad", c_uint32),
        ("frame", c_uint64),
        ("frame_list", abi.handle),
    ])

xen_vmemrange_64, xen_vmemrange_32 = struct_pair("xen_vmemrange", lambda abi: [
    ("start", c_uint64),
    ("end", c_uint64),
    ("flags", c_uint32),
    ("nid", c_uint32),
])


def _xen_vnuma_topology_info(abi):
    def handle_or_pad(name):
        # Padded to 8 bytes so both ABIs agree on the layout.
        return abi.union(name, [("h", abi.handle), ("pad", c_uint64)])

    return [
        ("domid", c_uint16),
        ("pad", c_uint16),
        ("nr_vnodes", c_uint32),
        ("nr_vcpus", c_uint32),
        ("nr_vmemranges", c_uint32),
        ("vdistance", handle_or_pad("xen_vnuma_topology_info_vdistance")),
        ("vcpu_to_vnode", handle_or_pad("xen_vnuma_topology_info_vcpu_to_vnode")),
        ("vmemrange", handle_or_pad("xen_vnuma_topology_info_vmemrange")),
    ]


xen_vnuma_topology_info_64, xen_vnuma_topology_info_32 = struct_pair(
    "xen_vnuma_topology_info", _xen_vnuma_topology_info)
