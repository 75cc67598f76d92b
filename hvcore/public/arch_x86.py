"""x86 PV specifics: arch-x86/xen.h, arch-x86/xen-x86_64.h and arch-x86/xen-x86_32.h.

Names that only one of the two per-ABI headers defines keep their header
spelling (FLAT_RING3_CS64 is a 64-bit-header name, FLAT_RING1_CS a 32-bit
one).  Names both headers define with different values get ``_64``/``_32``.
Beware the near-collision this causes: FLAT_KERNEL_CS32 (0xe023, 32-bit code
segment offered to 64-bit guests) is not FLAT_KERNEL_CS_32 (0xe019, the ring-1
kernel code segment of a 32-bit guest).
"""

from ctypes import c_char, c_uint8, c_uint16, c_uint32, c_uint64

from . import X86_32, X86_64, struct_pair

# --- xen-x86_64.h: flat segments in the Xen-reserved part of every GDT -------
FLAT_RING3_CS32 = 0xE023
FLAT_RING3_CS64 = 0xE033
FLAT_RING3_DS32 = 0xE02B
FLAT_RING3_DS64 = 0x0000
FLAT_RING3_SS32 = 0xE02B
FLAT_RING3_SS64 = 0xE02B

FLAT_KERNEL_DS64 = FLAT_RING3_DS64
FLAT_KERNEL_DS32 = FLAT_RING3_DS32
FLAT_KERNEL_CS64 = FLAT_RING3_CS64
FLAT_KERNEL_CS32 = FLAT_RING3_CS32
FLAT_KERNEL_SS64 = FLAT_RING3_SS64
FLAT_KERNEL_SS32 = FLAT_RING3_SS32
FLAT_USER_DS64 = FLAT_RING3_DS64
FLAT_USER_DS32 = FLAT_RING3_DS32
FLAT_USER_CS64 = FLAT_RING3_CS64
FLAT_USER_CS32 = FLAT_RING3_CS32
FLAT_USER_SS64 = FLAT_RING3_SS64
FLAT_USER_SS32 = FLAT_RING3_SS32

# A 64-bit PV kernel runs in ring 3, so its "kernel" selectors are ring-3 ones.
FLAT_KERNEL_CS_64 = FLAT_KERNEL_CS64
FLAT_KERNEL_DS_64 = FLAT_KERNEL_DS64
FLAT_KERNEL_SS_64 = FLAT_KERNEL_SS64
FLAT_USER_CS_64 = FLAT_USER_CS64
FLAT_USER_DS_64 = FLAT_USER_DS64
FLAT_USER_SS_64 = FLAT_USER_SS64

HYPERVISOR_VIRT_START_64 = 0xFFFF800000000000
HYPERVISOR_VIRT_END_64 = 0xFFFF880000000000
MACH2PHYS_VIRT_START_64 = 0xFFFF800000000000
MACH2PHYS_VIRT_END_64 = 0xFFFF804000000000
MACH2PHYS_NR_ENTRIES_64 = (MACH2PHYS_VIRT_END_64 - MACH2PHYS_VIRT_START_64) >> 3

# HYPERVISOR_set_segment_base(which, base)
SEGBASE_FS = 0
SEGBASE_GS_USER = 1
SEGBASE_GS_KERNEL = 2
SEGBASE_GS_USER_SEL = 3

# iret_context.flags: the guest entered via SYSCALL, so return with SYSRET semantics.
VGCF_in_syscall_bit = 8
VGCF_in_syscall = 1 << VGCF_in_syscall_bit
VGCF_IN_SYSCALL = VGCF_in_syscall

# --- xen-x86_32.h --------------------------------------------------------------
FLAT_RING1_CS = 0xE019
FLAT_RING1_DS = 0xE021
FLAT_RING1_SS = 0xE021
FLAT_RING3_CS = 0xE02B
FLAT_RING3_DS = 0xE033
FLAT_RING3_SS = 0xE033

FLAT_KERNEL_CS_32 = FLAT_RING1_CS
FLAT_KERNEL_DS_32 = FLAT_RING1_DS
FLAT_KERNEL_SS_32 = FLAT_RING1_SS
FLAT_USER_CS_32 = FLAT_RING3_CS
FLAT_USER_DS_32 = FLAT_RING3_DS
FLAT_USER_SS_32 = FLAT_RING3_SS

HYPERVISOR_VIRT_START_PAE = 0xF5800000
MACH2PHYS_VIRT_START_PAE = 0xF5800000
MACH2PHYS_VIRT_END_PAE = 0xF6800000
HYPERVISOR_VIRT_START_NONPAE = 0xFC000000
MACH2PHYS_VIRT_START_NONPAE = 0xFC000000
MACH2PHYS_VIRT_END_NONPAE = 0xFC400000

# Only PAE 32-bit guests exist on 64-bit Xen; these are the defaults a 32-bit
# guest sees (XENMEM_machphys_mapping / XENVER_platform_parameters may move them).
HYPERVISOR_VIRT_START_32 = HYPERVISOR_VIRT_START_PAE
MACH2PHYS_VIRT_START_32 = MACH2PHYS_VIRT_START_PAE
MACH2PHYS_VIRT_END_32 = MACH2PHYS_VIRT_END_PAE
MACH2PHYS_NR_ENTRIES_32 = (MACH2PHYS_VIRT_END_32 - MACH2PHYS_VIRT_START_32) >> 2

# --- arch-x86/xen.h ------------------------------------------------------------
FIRST_RESERVED_GDT_PAGE = 14
FIRST_RESERVED_GDT_BYTE = FIRST_RESERVED_GDT_PAGE * 4096
FIRST_RESERVED_GDT_ENTRY = FIRST_RESERVED_GDT_BYTE // 8

# vcpu_guest_context.flags
VGCF_I387_VALID = 1 << 0
VGCF_IN_KERNEL = 1 << 2
VGCF_i387_valid_bit = 0
VGCF_i387_valid = 1 << VGCF_i387_valid_bit
VGCF_in_kernel_bit = 2
VGCF_in_kernel = 1 << VGCF_in_kernel_bit
VGCF_failsafe_disables_events_bit = 3
VGCF_failsafe_disables_events = 1 << VGCF_failsafe_disables_events_bit
VGCF_syscall_disables_events_bit = 4
VGCF_syscall_disables_events = 1 << VGCF_syscall_disables_events_bit
VGCF_online_bit = 5
VGCF_online = 1 << VGCF_online_bit

# ud2; .ascii "xen": prefix that makes Xen emulate the following instruction (cpuid).
XEN_EMULATE_PREFIX = bytes((0x0F, 0x0B, 0x78, 0x65, 0x6E))
XEN_HVM_DEBUGCONS_IOPORT = 0xE9

# --- How PV guests enter the hypervisor (Xen's pv/hypercall.c, not a header) ---
# Xen writes the hypercall page as 128 stubs of 32 bytes; hypercall N is a call
# to hypercall_page + N * 32 (HYPERVISOR_iret is jumped to, not called).
HYPERCALL_PAGE_ENTRY_SIZE = 32
# 64-bit stub: push %rcx; push %r11; mov $N,%eax; syscall; pop %r11; pop %rcx; ret
# (iret: push %rcx; push %r11; push %rax; mov $23,%eax; syscall).
TRAP_INSTR_64 = b"\x0f\x05"  # syscall
# 32-bit stub: mov $N,%eax; int $0x82; ret  (iret: push %eax; mov $23,%eax; int $0x82).
HYPERCALL_VECTOR = 0x82
TRAP_INSTR_32 = bytes((0xCD, HYPERCALL_VECTOR))  # int $0x82


def _trap_info(abi):
    # flags: bits 0-1 are the DPL allowed to raise it via INT, bit 2 = mask events.
    return [("vector", c_uint8), ("flags", c_uint8), ("cs", c_uint16), ("address", abi.ulong)]


trap_info_64, trap_info_32 = struct_pair("trap_info", _trap_info)


def _cpu_user_regs(abi):
    if abi is X86_64:
        return [
            *[(r, c_uint64) for r in ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10",
                                      "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi")],
            ("error_code", c_uint32),
            ("entry_vector", c_uint32),
            ("rip", c_uint64),
            ("cs", c_uint16),
            ("_pad0", c_uint16 * 1),
            ("saved_upcall_mask", c_uint8),
            ("_pad1", c_uint8 * 3),
            ("rflags", c_uint64),
            ("rsp", c_uint64),
            ("ss", c_uint16), ("_pad2", c_uint16 * 3),
            ("es", c_uint16), ("_pad3", c_uint16 * 3),
            ("ds", c_uint16), ("_pad4", c_uint16 * 3),
            ("fs", c_uint16), ("_pad5", c_uint16 * 3),
            ("gs", c_uint16), ("_pad6", c_uint16 * 3),
        ]
    return [
        *[(r, c_uint32) for r in ("ebx", "ecx", "edx", "esi", "edi", "ebp", "eax")],
        ("error_code", c_uint16),
        ("entry_vector", c_uint16),
        ("eip", c_uint32),
        ("cs", c_uint16),
        ("saved_upcall_mask", c_uint8),
        ("_pad0", c_uint8),
        ("eflags", c_uint32),
        ("esp", c_uint32),
        ("ss", c_uint16), ("_pad1", c_uint16),
        ("es", c_uint16), ("_pad2", c_uint16),
        ("ds", c_uint16), ("_pad3", c_uint16),
        ("fs", c_uint16), ("_pad4", c_uint16),
        ("gs", c_uint16), ("_pad5", c_uint16),
    ]


cpu_user_regs_64, cpu_user_regs_32 = struct_pair("cpu_user_regs", _cpu_user_regs)


def _iret_context(abi):
    # Frame on the guest kernel stack at HYPERVISOR_iret, lowest address first.
    # The 32-bit frame is not in the public headers: it is what Xen's
    # compat_iret reads (esp/ss only when returning to ring 2/3).
    if abi is X86_64:
        return [(r, c_uint64) for r in ("rax", "r11", "rcx", "flags", "rip", "cs", "rflags", "rsp", "ss")]
    return [(r, c_uint32) for r in ("eax", "eip", "cs", "eflags", "esp", "ss")]


iret_context_64, iret_context_32 = struct_pair("iret_context", _iret_context)


def _arch_vcpu_info(abi):
    # The padding keeps sizeof(vcpu_info) == 64 on both ABIs.
    return [("cr2", abi.ulong), ("pad", abi.pick(c_uint64, c_uint32 * 5))]


arch_vcpu_info_64, arch_vcpu_info_32 = struct_pair("arch_vcpu_info", _arch_vcpu_info)


def _arch_shared_info(abi):
    fields = [
        ("max_pfn", abi.ulong),
        ("pfn_to_mfn_frame_list_list", abi.ulong),
        ("nmi_reason", abi.ulong),
        ("p2m_cr3", abi.ulong),
        ("p2m_vaddr", abi.ulong),
        ("p2m_generation", abi.ulong),
    ]
    if abi is X86_32:
        # On 64-bit shared_info has wc_sec_hi itself; 32-bit had no room there.
        fields.append(("wc_sec_hi", c_uint32))
    return fields


arch_shared_info_64, arch_shared_info_32 = struct_pair("arch_shared_info", _arch_shared_info)

# 32-bit only: xen_callback_t is a (cs, eip) pair there and a plain address on 64-bit.
xen_callback_32 = X86_32.struct("xen_callback", [("cs", c_uint32), ("eip", c_uint32)],
                                c_type="struct xen_callback")


def _vcpu_guest_context(abi):
    fields = [
        ("fpu_ctxt", c_char * 512),
        ("flags", abi.ulong),
        ("user_regs", abi.pick(cpu_user_regs_64, cpu_user_regs_32)),
        ("trap_ctxt", abi.pick(trap_info_64, trap_info_32) * 256),
        ("ldt_base", abi.ulong),
        ("ldt_ents", abi.ulong),
        ("gdt_frames", abi.ulong * 16),
        ("gdt_ents", abi.ulong),
        ("kernel_ss", abi.ulong),
        ("kernel_sp", abi.ulong),
        ("ctrlreg", abi.ulong * 8),
        ("debugreg", abi.ulong * 8),
    ]
    if abi is X86_64:
        fields += [
            ("event_callback_eip", c_uint64),
            ("failsafe_callback_eip", c_uint64),
            ("syscall_callback_eip", c_uint64),
            ("vm_assist", c_uint64),
            ("fs_base", c_uint64),
            ("gs_base_kernel", c_uint64),
            ("gs_base_user", c_uint64),
        ]
    else:
        fields += [
            ("event_callback_cs", c_uint32),
            ("event_callback_eip", c_uint32),
            ("failsafe_callback_cs", c_uint32),
            ("failsafe_callback_eip", c_uint32),
            ("vm_assist", c_uint32),
        ]
    return fields


vcpu_guest_context_64, vcpu_guest_context_32 = struct_pair("vcpu_guest_context", _vcpu_guest_context)
