"""HVM guests' side of the ABI: hvm/hvm_op.h, hvm/params.h, arch-x86/hvm/start_info.h
(PVH boot), and XENMEM_add_to_physmap's structure (memory.h)."""

from ctypes import LittleEndianStructure, c_uint16, c_uint32, c_uint64, c_uint8

# hvm/hvm_op.h
HVMOP_set_param = 0
HVMOP_get_param = 1
HVMOP_flush_tlbs = 5
HVMOP_pagetable_dying = 9
HVMOP_get_time = 10
HVMOP_set_evtchn_upcall_vector = 23

# hvm/params.h
HVM_PARAM_CALLBACK_IRQ = 0
HVM_PARAM_STORE_PFN = 1
HVM_PARAM_STORE_EVTCHN = 2
HVM_PARAM_PAE_ENABLED = 4
HVM_PARAM_TIMER_MODE = 10
HVM_PARAM_HPET_ENABLED = 11
HVM_PARAM_CONSOLE_PFN = 17
HVM_PARAM_CONSOLE_EVTCHN = 18
HVM_NR_PARAMS = 39
HVM_PARAM_CALLBACK_TYPE_GSI = 0
HVM_PARAM_CALLBACK_TYPE_PCI_INTX = 1
HVM_PARAM_CALLBACK_TYPE_VECTOR = 2
HVM_PARAM_CALLBACK_TYPE_SHIFT = 56        # the via type lives in bits 63:56

# memory.h: XENMEM_add_to_physmap spaces
XENMAPSPACE_shared_info = 0
XENMAPSPACE_grant_table = 1
XENMAPSPACE_gmfn = 2
XENMAPIDX_grant_table_status = 0x80000000

# arch-x86/hvm/start_info.h
XEN_HVM_START_MAGIC_VALUE = 0x336EC578
XEN_HVM_MEMMAP_TYPE_RAM = 1
XEN_HVM_MEMMAP_TYPE_RESERVED = 2


class xen_hvm_param(LittleEndianStructure):
    """The same in both guest ABIs (domid_t, then uint32_t index, uint64_t value)."""
    _fields_ = [("domid", c_uint16), ("_pad", c_uint16), ("index", c_uint32),
                ("value", c_uint64)]


class xen_hvm_evtchn_upcall_vector(LittleEndianStructure):
    _fields_ = [("vcpu", c_uint32), ("vector", c_uint8)]


class hvm_start_info(LittleEndianStructure):
    _fields_ = [("magic", c_uint32), ("version", c_uint32), ("flags", c_uint32),
                ("nr_modules", c_uint32), ("modlist_paddr", c_uint64),
                ("cmdline_paddr", c_uint64), ("rsdp_paddr", c_uint64),
                ("memmap_paddr", c_uint64), ("memmap_entries", c_uint32),
                ("reserved", c_uint32)]


class hvm_modlist_entry(LittleEndianStructure):
    _fields_ = [("paddr", c_uint64), ("size", c_uint64), ("cmdline_paddr", c_uint64),
                ("reserved", c_uint64)]


class hvm_memmap_table_entry(LittleEndianStructure):
    _fields_ = [("addr", c_uint64), ("size", c_uint64), ("type", c_uint32),
                ("reserved", c_uint32)]
