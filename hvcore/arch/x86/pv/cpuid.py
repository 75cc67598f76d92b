"""The CPUID a PV guest sees: the engine's CPU, plus Xen's leaves at 0x40000000."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from unicorn import UC_ARCH_X86, UC_MODE_64, Uc
from unicorn import x86_const as X

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU

XEN_CPUID_BASE = 0x40000000
XEN_CPUID_MAX_LEAF = XEN_CPUID_BASE + 5
XEN_VERSION = (4, 17)
_SIGNATURE = b"XenVMMXenVMM"
CPUID1_ECX_HYPERVISOR = 1 << 31


def pv_leaf(v: "VCPU", leaf: int, subleaf: int) -> tuple[int, int, int, int] | None:
    """Xen's own leaves (None for leaves the hardware answers)."""
    if XEN_CPUID_BASE <= leaf <= XEN_CPUID_BASE + 0xFF00 and leaf & 0xFF == 0 and leaf != XEN_CPUID_BASE:
        return (0, 0, 0, 0)          # guests scan in steps of 0x100: only the first is Xen
    if leaf == XEN_CPUID_BASE:
        words = [int.from_bytes(_SIGNATURE[i:i + 4], "little") for i in (0, 4, 8)]
        return (XEN_CPUID_MAX_LEAF, *words)
    if leaf == XEN_CPUID_BASE + 1:
        return ((XEN_VERSION[0] << 16) | XEN_VERSION[1], 0, 0, 0)
    if leaf == XEN_CPUID_BASE + 2:
        return (1, XEN_CPUID_BASE, 0, 0)   # one hypercall page, MSR base
    if XEN_CPUID_BASE + 3 <= leaf <= XEN_CPUID_MAX_LEAF:
        return (0, 0, 0, 0)
    if leaf == 1:
        a, b, c, d = native_leaf(v, 1, 0)
        return (a, b, c | CPUID1_ECX_HYPERVISOR, d)
    return None


@functools.lru_cache(maxsize=256)
def _native(leaf: int, subleaf: int) -> tuple[int, int, int, int]:
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.mem_map(0x1000, 0x1000)
    uc.mem_write(0x1000, b"\x0f\xa2")
    uc.reg_write(X.UC_X86_REG_RAX, leaf)
    uc.reg_write(X.UC_X86_REG_RCX, subleaf)
    uc.emu_start(0x1000, 0x1002)
    return tuple(uc.reg_read(r) & 0xFFFFFFFF for r in (
        X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX))


def native_leaf(v: "VCPU", leaf: int, subleaf: int) -> tuple[int, int, int, int]:
    return _native(leaf, subleaf)
