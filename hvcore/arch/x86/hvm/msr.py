"""rdmsr/wrmsr for HVM vCPUs: the engine runs the MSRs it knows itself, the others come
to us through its SVM MSR intercept.

The engine has no rdmsr/wrmsr hook (UC_HOOK_INSN refuses them). But every rdmsr and
wrmsr first asks the engine's SVM intercept check, as a CPU running a nested guest
would: with the "guest" bit in its hflags, the MSR-protection intercept bit set and its
VMCB pointer naming a VMCB whose MSR permission map has the MSR's bit set (read or
write), the instruction exits before it runs: UC_HOOK_INTR sees vector EXCP_VMEXIT +
SVM_EXIT_MSR (0x17C), RIP on the instruction, the error code 0 for a read and 1 for a
write. MSRs outside the map's three ranges always exit (Xen's 0x40000000 among them).

The VMCB and the map live in a page range of hypervisor memory mapped at 2^48, above
any physical address the guest's page tables can name (the CPU's 40 physical address
bits), so the guest can neither read nor change them. The offsets of the two fields
next to old_exception (vm_vmcb, intercept) are checked once per process by a probe
engine (a wrong layout is refused, never guessed).

Served here: APIC_BASE (1Bh: FEE00000, enabled, BSP flag on vCPU 0), TSC_DEADLINE
(6E0h: the local APIC's TSC-deadline timer, hvcore/hvm/devices/lapic.py), Xen's hypercall MSR (40000000h, write: fills the page it names
with one `mov $n, %eax; vmcall; ret` stub of 32 bytes per hypercall, as Xen's HVM
hypercall page), and #GP(0) for every MSR nobody knows. EFER, STAR, LSTAR, CSTAR, FMASK,
FS/GS/KERNEL_GS base, TSC_AUX, PAT, TSC, SYSENTER, MTRRs, MISC_ENABLE and MCG run
natively (no exit).
"""
from __future__ import annotations

import ctypes
import functools
import mmap
import struct
from dataclasses import dataclass

from unicorn import UC_HOOK_INTR
from unicorn import x86_const as X

from hvcore import engine as eng

VMEXIT_MSR = 0x100 + 0x7C          # EXCP_VMEXIT + SVM_EXIT_MSR
HF_GUEST = 1 << 21
INTERCEPT_MSR_PROT = 1 << (0x7C - 0x60)
HV_PAGES = 1 << 48                 # VMCB, then the 8 KiB MSR permission map
VMCB_MSRPM_BASE = 0x48
MSRPM_SIZE = 0x2000
_VM_VMCB = eng._ENV_OLD_EXCEPTION + 8
_INTERCEPT = eng._ENV_OLD_EXCEPTION + 24

MSR_APIC_BASE, MSR_TSC_DEADLINE, MSR_XEN_HYPERCALL = 0x1B, 0x6E0, 0x40000000
APIC_BASE_BSP, APIC_BASE_ENABLE = 1 << 8, 1 << 11
HYPERCALLS = 55
_IRET = 23                         # __HYPERVISOR_iret: no stub (ud2), as in Xen

NATIVE = (0x10, 0x174, 0x175, 0x176, 0x179, 0x17A, 0x17B, 0x1A0, 0xFE, 0x277, 0x2FF,
          *range(0x200, 0x210), *range(0x250, 0x251), *range(0x258, 0x25A),
          *range(0x268, 0x270), *range(0xC0000080, 0xC0000085),
          *range(0xC0000100, 0xC0000104))


class MsrFault(Exception):
    """#GP(0): the MSR does not exist (or refuses this value)."""


def _map_offset(msr: int) -> int | None:
    """The bit of `msr`'s read permission in the map (its write bit follows): three
    ranges of 8192 MSRs, two bits each."""
    for index, base in enumerate((0, 0xC0000000, 0xC0010000)):
        if base <= msr < base + 0x2000:
            return (index * 0x2000 + msr - base) * 2
    return None


def permission_map() -> bytes:
    """Every MSR exits, but those the engine runs itself."""
    bits = bytearray(b"\xff" * MSRPM_SIZE)
    for msr in NATIVE:
        bit = _map_offset(msr)
        bits[bit // 8] &= ~(3 << (bit % 8)) & 0xFF
    return bytes(bits)


@dataclass
class MsrIntercept:
    """One engine's MSR exits: its VMCB and map, and the values we keep."""
    engine: eng.Engine
    env: int
    hflags: ctypes.c_uint32

    def __post_init__(self) -> None:
        self.pages = mmap.mmap(-1, 0x1000 + MSRPM_SIZE)
        self.pages[0x1000:] = permission_map()
        self.pages[VMCB_MSRPM_BASE:VMCB_MSRPM_BASE + 8] = struct.pack("<Q", HV_PAGES + 0x1000)
        address = ctypes.addressof((ctypes.c_char * len(self.pages)).from_buffer(self.pages))
        self.engine.map_host_memory(HV_PAGES, len(self.pages), address)
        self.arm()

    def arm(self) -> None:
        """(Again, after a reset: the fields are ours, the engine never clears them.)"""
        ctypes.c_uint64.from_address(self.env + _VM_VMCB).value = HV_PAGES
        ctypes.c_uint64.from_address(self.env + _INTERCEPT).value = INTERCEPT_MSR_PROT
        self.hflags.value |= HF_GUEST


@functools.lru_cache(maxsize=1)
def check_layout() -> None:
    """A probe engine's rdmsr must exit as described, or we refuse to start."""
    from hvcore.arch.x86.hvm.cpu_state import CpuState
    probe = eng.Engine()
    try:
        probe.uc.mem_map(0, 1 << 16)
        probe.uc.mem_write(0x7C00, bytes.fromhex("66b91b0000000f32f4"))  # rdmsr 1Bh
        probe.stop_address = 0xF000
        state = CpuState(probe)
        state.reset(cs=0, ip=0x7C00)
        intercept = MsrIntercept(probe, state.env, state.hflags)
        seen: list[tuple[int, int]] = []
        probe.uc.hook_add(UC_HOOK_INTR, lambda uc, n, _ud: seen.append(
            (n, uc.reg_read(X.UC_X86_REG_RIP))))
        probe.run(0x7C00)
        if seen[:1] != [(VMEXIT_MSR, 0x7C06)]:
            raise eng.EngineError(f"unsupported unicorn build: no MSR exits ({seen})")
        del intercept                       # its pages stayed mapped while the probe ran
    finally:
        probe.close()


def hypercall_page() -> bytes:
    """Xen's HVM hypercall page: a 32-byte stub per hypercall (Intel's vmcall)."""
    page = bytearray(4096)
    for n in range(HYPERCALLS):
        stub = (b"\x0f\x0b" if n == _IRET else
                b"\xb8" + struct.pack("<I", n) + b"\x0f\x01\xc1\xc3")
        page[n * 32:n * 32 + len(stub)] = stub
    return bytes(page)
