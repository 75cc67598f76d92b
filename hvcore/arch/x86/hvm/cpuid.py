"""The CPUID an HVM vCPU sees: the engine's CPU with this vCPU's initial APIC ID (leaf 1
EBX bits 24-31), the APIC, TSC-deadline timer and hypervisor-present bits, and Xen's leaves at 0x40000000
("XenVMMXenVMM", the version, one hypercall page at MSR 0x40000000), as under Xen.
"""
from __future__ import annotations

from hvcore.arch.x86.pv.cpuid import XEN_CPUID_BASE, _native, pv_leaf

CPUID1_EDX_APIC = 1 << 9
CPUID1_ECX_TSC_DEADLINE = 1 << 24
CPUID1_ECX_HYPERVISOR = 1 << 31


def hvm_leaf(apic_id: int, leaf: int, subleaf: int) -> tuple[int, int, int, int]:
    if leaf == 1:
        a, b, c, d = _native(1, 0)
        b = (b & 0x0000FFFF) | (1 << 16) | ((apic_id & 0xFF) << 24)
        return (a, b, c | CPUID1_ECX_TSC_DEADLINE | CPUID1_ECX_HYPERVISOR,
                d | CPUID1_EDX_APIC)
    if XEN_CPUID_BASE <= leaf <= XEN_CPUID_BASE + 0xFFFF:
        xen = pv_leaf(None, leaf, subleaf)        # Xen's leaves need no vCPU
        return xen if xen is not None else (0, 0, 0, 0)
    return _native(leaf & 0xFFFFFFFF, subleaf & 0xFFFFFFFF)
