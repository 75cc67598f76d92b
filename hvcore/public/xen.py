"""Core guest interface: public/xen.h (hypercall numbers, VIRQs, MMU ops, start_info, shared_info)."""

from ctypes import c_char, c_int8, c_uint8, c_uint32, c_uint64

from . import struct_pair
from .arch_x86 import (arch_shared_info_32, arch_shared_info_64, arch_vcpu_info_32,
                       arch_vcpu_info_64)

# --- Hypercall numbers -----------------------------------------------------------
HYPERVISOR_set_trap_table = 0
HYPERVISOR_mmu_update = 1
HYPERVISOR_set_gdt = 2
HYPERVISOR_stack_switch = 3
HYPERVISOR_set_callbacks = 4
HYPERVISOR_fpu_taskswitch = 5
HYPERVISOR_sched_op_compat = 6
HYPERVISOR_platform_op = 7
HYPERVISOR_set_debugreg = 8
HYPERVISOR_get_debugreg = 9
HYPERVISOR_update_descriptor = 10
HYPERVISOR_memory_op = 12
HYPERVISOR_multicall = 13
HYPERVISOR_update_va_mapping = 14
HYPERVISOR_set_timer_op = 15
HYPERVISOR_event_channel_op_compat = 16
HYPERVISOR_xen_version = 17
HYPERVISOR_console_io = 18
HYPERVISOR_physdev_op_compat = 19
HYPERVISOR_grant_table_op = 20
HYPERVISOR_vm_assist = 21
HYPERVISOR_update_va_mapping_otherdomain = 22
HYPERVISOR_iret = 23
HYPERVISOR_vcpu_op = 24
HYPERVISOR_set_segment_base = 25
HYPERVISOR_mmuext_op = 26
HYPERVISOR_xsm_op = 27
HYPERVISOR_nmi_op = 28
HYPERVISOR_sched_op = 29
HYPERVISOR_callback_op = 30
HYPERVISOR_xenoprof_op = 31
HYPERVISOR_event_channel_op = 32
HYPERVISOR_physdev_op = 33
HYPERVISOR_hvm_op = 34
HYPERVISOR_sysctl = 35
HYPERVISOR_domctl = 36
HYPERVISOR_kexec_op = 37
HYPERVISOR_tmem_op = 38
HYPERVISOR_argo_op = 39
HYPERVISOR_xenpmu_op = 40
HYPERVISOR_dm_op = 41
HYPERVISOR_hypfs_op = 42
HYPERVISOR_arch_0 = 48
HYPERVISOR_arch_1 = 49
HYPERVISOR_arch_2 = 50
HYPERVISOR_arch_3 = 51
HYPERVISOR_arch_4 = 52
HYPERVISOR_arch_5 = 53
HYPERVISOR_arch_6 = 54
HYPERVISOR_arch_7 = 55

hypercall_names: dict[int, str] = {
    number: name[len("HYPERVISOR_"):]
    for name, number in list(globals().items())
    if name.startswith("HYPERVISOR_")
}

# --- Virtual interrupts ----------------------------------------------------------
VIRQ_TIMER = 0
VIRQ_DEBUG = 1
VIRQ_CONSOLE = 2
VIRQ_DOM_EXC = 3
VIRQ_TBUF = 4
VIRQ_DEBUGGER = 6
VIRQ_XENOPROF = 7
VIRQ_CON_RING = 8
VIRQ_PCPU_STATE = 9
VIRQ_MEM_EVENT = 10
VIRQ_ARGO = 11
VIRQ_ENOMEM = 12
VIRQ_XENPMU = 13
VIRQ_ARCH_0 = 16
VIRQ_ARCH_1 = 17
VIRQ_ARCH_2 = 18
VIRQ_ARCH_3 = 19
VIRQ_ARCH_4 = 20
VIRQ_ARCH_5 = 21
VIRQ_ARCH_6 = 22
VIRQ_ARCH_7 = 23
NR_VIRQS = 24

# --- HYPERVISOR_mmu_update: command in mmu_update.ptr[1:0] ---------------------------
MMU_NORMAL_PT_UPDATE = 0
MMU_MACHPHYS_UPDATE = 1
MMU_PT_UPDATE_PRESERVE_AD = 2
MMU_PT_UPDATE_NO_TRANSLATE = 3

# --- HYPERVISOR_mmuext_op commands ---------------------------------------------------
MMUEXT_PIN_L1_TABLE = 0
MMUEXT_PIN_L2_TABLE = 1
MMUEXT_PIN_L3_TABLE = 2
MMUEXT_PIN_L4_TABLE = 3
MMUEXT_UNPIN_TABLE = 4
MMUEXT_NEW_BASEPTR = 5
MMUEXT_TLB_FLUSH_LOCAL = 6
MMUEXT_INVLPG_LOCAL = 7
MMUEXT_TLB_FLUSH_MULTI = 8
MMUEXT_INVLPG_MULTI = 9
MMUEXT_TLB_FLUSH_ALL = 10
MMUEXT_INVLPG_ALL = 11
MMUEXT_FLUSH_CACHE = 12
MMUEXT_SET_LDT = 13
MMUEXT_NEW_USER_BASEPTR = 15
MMUEXT_CLEAR_PAGE = 16
MMUEXT_COPY_PAGE = 17
MMUEXT_FLUSH_CACHE_GLOBAL = 18
MMUEXT_MARK_SUPER = 19
MMUEXT_UNMARK_SUPER = 20

# --- update_va_mapping flags (UVMF_MULTI is ORed with a vcpumask pointer) ---------
UVMF_NONE = 0 << 0
UVMF_TLB_FLUSH = 1 << 0
UVMF_INVLPG = 2 << 0
UVMF_FLUSHTYPE_MASK = 3 << 0
UVMF_MULTI = 0 << 2
UVMF_LOCAL = 0 << 2
UVMF_ALL = 1 << 2

# --- HYPERVISOR_console_io -------------------------------------------------------------
CONSOLEIO_write = 0
CONSOLEIO_read = 1

# --- HYPERVISOR_vm_assist ----------------------------------------------------------------
VMASST_CMD_enable = 0
VMASST_CMD_disable = 1
VMASST_TYPE_4gb_segments = 0
VMASST_TYPE_4gb_segments_notify = 1
VMASST_TYPE_writable_pagetables = 2
VMASST_TYPE_pae_extended_cr3 = 3
VMASST_TYPE_architectural_iopl = 4
VMASST_TYPE_runstate_update_flag = 5
VMASST_TYPE_m2p_strict = 32

# --- Domain ids ------------------------------------------------------------------------
DOMID_FIRST_RESERVED = 0x7FF0
DOMID_SELF = 0x7FF0
DOMID_IO = 0x7FF1
DOMID_XEN = 0x7FF2
DOMID_COW = 0x7FF3
DOMID_INVALID = 0x7FF4
DOMID_IDLE = 0x7FFF
DOMID_MASK = 0x7FFF

# --- start_info.flags ------------------------------------------------------------------
SIF_PRIVILEGED = 1 << 0
SIF_INITDOMAIN = 1 << 1
SIF_MULTIBOOT_MOD = 1 << 2
SIF_MOD_START_PFN = 1 << 3
SIF_VIRT_P2M_4TOOLS = 1 << 4
SIF_PM_MASK = 0xFF << 8

MAX_GUEST_CMDLINE = 1024
XEN_LEGACY_MAX_VCPUS = 32  # from arch-x86/xen.h: vcpu_info slots in shared_info

# vcpu_time_info.flags
XEN_PVCLOCK_TSC_STABLE_BIT = 1 << 0
XEN_PVCLOCK_GUEST_STOPPED = 1 << 1

XEN_VGATYPE_TEXT_MODE_3 = 0x03
XEN_VGATYPE_VESA_LFB = 0x23
XEN_VGATYPE_EFI_LFB = 0x70


def _mmu_update(abi):
    return [("ptr", c_uint64), ("val", c_uint64)]


mmu_update_64, mmu_update_32 = struct_pair("mmu_update", _mmu_update)


def _mmuext_op(abi):
    arg1 = abi.union("mmuext_op_arg1", [("mfn", abi.ulong), ("linear_addr", abi.ulong)])
    arg2 = abi.union("mmuext_op_arg2", [("nr_ents", c_uint32), ("vcpumask", abi.handle),
                                        ("src_mfn", abi.ulong)])
    return [("cmd", c_uint32), ("arg1", arg1), ("arg2", arg2)]


mmuext_op_64, mmuext_op_32 = struct_pair("mmuext_op", _mmuext_op)


def _multicall_entry(abi):
    return [("op", abi.ulong), ("result", abi.ulong), ("args", abi.ulong * 6)]


multicall_entry_64, multicall_entry_32 = struct_pair("multicall_entry", _multicall_entry)


def _vcpu_time_info(abi):
    return [
        ("version", c_uint32),
        ("pad0", c_uint32),
        ("tsc_timestamp", c_uint64),
        ("system_time", c_uint64),
        ("tsc_to_system_mul", c_uint32),
        ("tsc_shift", c_int8),
        ("flags", c_uint8),
        ("pad1", c_uint8 * 2),
    ]


vcpu_time_info_64, vcpu_time_info_32 = struct_pair("vcpu_time_info", _vcpu_time_info)


def _vcpu_info(abi):
    return [
        ("evtchn_upcall_pending", c_uint8),
        ("evtchn_upcall_mask", c_uint8),
        ("evtchn_pending_sel", abi.ulong),
        ("arch", abi.pick(arch_vcpu_info_64, arch_vcpu_info_32)),
        ("time", abi.pick(vcpu_time_info_64, vcpu_time_info_32)),
    ]


vcpu_info_64, vcpu_info_32 = struct_pair("vcpu_info", _vcpu_info)


def _shared_info(abi):
    # 2-level event channels: one bit per port, word_bits words of word_bits bits.
    word_bits = abi.bits
    fields = [
        ("vcpu_info", abi.pick(vcpu_info_64, vcpu_info_32) * XEN_LEGACY_MAX_VCPUS),
        ("evtchn_pending", abi.ulong * word_bits),
        ("evtchn_mask", abi.ulong * word_bits),
        ("wc_version", c_uint32),
        ("wc_sec", c_uint32),
        ("wc_nsec", c_uint32),
    ]
    if abi.bits == 64:
        fields.append(("wc_sec_hi", c_uint32))  # 32-bit keeps it in arch.wc_sec_hi
    fields.append(("arch", abi.pick(arch_shared_info_64, arch_shared_info_32)))
    return fields


shared_info_64, shared_info_32 = struct_pair("shared_info", _shared_info)


def _start_info(abi):
    console = abi.union("start_info_console", [
        ("domU", abi.struct("start_info_console_domU", [("mfn", abi.ulong), ("evtchn", c_uint32)])),
        ("dom0", abi.struct("start_info_console_dom0", [("info_off", c_uint32),
                                                         ("info_size", c_uint32)])),
    ])
    return [
        ("magic", c_char * 32),
        ("nr_pages", abi.ulong),
        ("shared_info", abi.ulong),
        ("flags", c_uint32),
        ("store_mfn", abi.ulong),
        ("store_evtchn", c_uint32),
        ("console", console),
        ("pt_base", abi.ulong),
        ("nr_pt_frames", abi.ulong),
        ("mfn_list", abi.ulong),
        ("mod_start", abi.ulong),
        ("mod_len", abi.ulong),
        ("cmd_line", c_char * MAX_GUEST_CMDLINE),
        ("first_p2m_pfn", abi.ulong),
        ("nr_p2m_frames", abi.ulong),
    ]


start_info_64, start_info_32 = struct_pair("start_info", _start_info)


def _xen_multiboot_mod_list(abi):
    return [("mod_start", c_uint32), ("mod_end", c_uint32), ("cmdline", c_uint32), ("pad", c_uint32)]


xen_multiboot_mod_list_64, xen_multiboot_mod_list_32 = struct_pair(
    "xen_multiboot_mod_list", _xen_multiboot_mod_list)

