"""The PV domain builder: from a kernel image to a domain ready to run its first instruction.

Memory is laid out as Xen's builder does, from the kernel's end upwards: kernel image,
p2m list, start_info, xenstore ring page, console ring page, the initial page tables
(last of these: guests take pt_base + nr_pt_frames as their first free frame), the boot
stack. The initial mapping covers all of that plus at least 512 KiB, rounded up to 4 MiB,
at VA = virt_base + (pfn << 12); page-table frames are mapped read-only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from unicorn import x86_const as X

from hvcore.arch.x86 import paging as P
from hvcore.arch.x86.pv import layout as L
from hvcore.domain import Domain
from hvcore.engine import IRETQ, Engine
from hvcore.grant_table import GrantFrames
from hvcore.memory import PAGE_SIZE, FrameAllocator, MemoryRegion, PhysicalMemory
from hvcore.public import xen as XEN
from hvcore.time import DomainTime
from hvcore.vcpu import VCPU
from loaders.elf import KernelImage, LoaderError

MAX_MEMORY_MIB = L.HYPERVISOR_PHYS_BASE >> 20   # guest RAM ends below our frames
PADDING = 512 * 1024
ROUND = 4 << 20
CONSOLE_EVTCHN = 2
VMASST_TYPE_writable_pagetables = 2
STORE_EVTCHN = 1
# vcpu_info lives in shared_info for the first XEN_LEGACY_MAX_VCPUS vCPUs; we give no
# more (a guest would have to register vcpu_info for the others before using them)
MAX_VCPUS = XEN.XEN_LEGACY_MAX_VCPUS

PT_FLAGS_64 = P.PAGE_PRESENT | P.PAGE_RW | P.PAGE_ACCESSED | P.PAGE_DIRTY | P.PAGE_USER
L1_FLAGS_64 = P.PAGE_PRESENT | P.PAGE_RW | P.PAGE_ACCESSED | P.PAGE_USER
L1_FLAGS_32 = P.PAGE_PRESENT | P.PAGE_RW | P.PAGE_ACCESSED
L2_FLAGS_32 = P.PAGE_PRESENT | P.PAGE_RW | P.PAGE_ACCESSED | P.PAGE_DIRTY | P.PAGE_USER
L3_FLAGS_32 = P.PAGE_PRESENT
# What Xen adds to a 32-bit guest's L3 entries so that a long-mode walk works.
COMPAT_L3_ADJUST = P.PAGE_RW | P.PAGE_USER | P.PAGE_ACCESSED | P.PAGE_DIRTY
HV_TABLE_FLAGS = P.PAGE_PRESENT | P.PAGE_RW | P.PAGE_ACCESSED | P.PAGE_DIRTY


@dataclass
class BootLayout:
    """Where the builder put things (guest frame numbers unless said otherwise)."""
    kernel_end_pfn: int
    p2m_pfn: int
    p2m_pages: int
    start_info_pfn: int
    store_pfn: int
    console_pfn: int
    pt_pfn: int
    nr_pt_frames: int
    stack_pfn: int
    mapped_pages: int


def build_pv_domain(image: KernelImage, memory_mib: int, cmdline: str, domid: int,
                    name: str, console_write: Callable[[bytes], None],
                    vcpus: int = 1) -> Domain:
    if not 1 <= memory_mib <= MAX_MEMORY_MIB:
        raise LoaderError(f"memory: {memory_mib} MiB is out of range (1..{MAX_MEMORY_MIB})")
    if not 1 <= vcpus <= MAX_VCPUS:
        raise LoaderError(f"vcpus: {vcpus} is out of range (1..{MAX_VCPUS})")
    if not image.is_64bit and (image.pae_mode or "").lower() not in ("yes", "extended-cr3", "bimodal"):
        raise LoaderError(f"{image.path}: 32-bit kernel is not PAE (PAE_MODE note missing);"
                          " only 32-bit PAE PV guests are supported, as on 64-bit Xen")
    nr_pages = memory_mib * 256
    word = 8 if image.is_64bit else 4
    boot = _plan(image, nr_pages, word)
    dom = _make_domain(image, nr_pages, domid, name, console_write, cmdline)
    if "writable_page_tables" in image.features_supported:
        dom.vm_assist |= 1 << VMASST_TYPE_writable_pagetables   # as Xen's builder does
    _load_segments(dom, image)
    _fill_p2m_and_m2p(dom, boot)
    _build_hypervisor_tables(dom)
    if image.is_64bit:
        _build_tables_64(dom, image.virt_base, boot)
    else:
        _build_tables_pae(dom, image.virt_base, boot)
    _type_initial_tables(dom, boot.pt_pfn)
    _fill_shared_info(dom)
    _fill_start_info(dom, image, boot, cmdline)
    if image.hypercall_page is not None:
        _fill_hypercall_page(dom, image.hypercall_page - image.virt_base)
    dom.vcpus.append(_make_boot_vcpu(dom, image, boot))
    dom.vcpus += [_make_vcpu(dom, i) for i in range(1, vcpus)]
    return dom


def _type_initial_tables(dom: Domain, root: int) -> None:
    """As Xen's toolstack pins the new domain's top-level table and its CR3 holds it:
    the whole initial tree is validated and typed (data pages writable, tables as
    tables), so the guest starts under the same rules as every later change."""
    from hvcore.arch.x86.pv.page_types import PageTypes
    types = dom.page_types = PageTypes(dom)
    level = 4 if dom.is_64bit else 3
    if not (types.pin(root, level) and types.get(root, level)):
        raise LoaderError("the initial page tables do not validate (builder bug)")


# ---- planning -----------------------------------------------------------------------
def _plan(image: KernelImage, nr_pages: int, word: int) -> BootLayout:
    kend = math.ceil((image.virt_kend - image.virt_base) / PAGE_SIZE)
    p2m_pages = math.ceil(nr_pages * word / PAGE_SIZE)
    start_info = kend + p2m_pages
    store, console, pt = start_info + 1, start_info + 2, start_info + 3
    nr_pt = 1
    while True:   # the tables map themselves: grow until the count is stable
        stack = pt + nr_pt
        mapped = _round_up((stack + 1) * PAGE_SIZE + PADDING, ROUND) // PAGE_SIZE
        need = _count_tables(image.virt_base, mapped * PAGE_SIZE, image.is_64bit)
        if need <= nr_pt:
            break
        nr_pt = need
    if mapped > nr_pages:
        raise LoaderError(f"{image.path}: needs at least {mapped * PAGE_SIZE >> 20} MiB of"
                          f" memory for its initial mapping; the domain has {nr_pages >> 8} MiB")
    return BootLayout(kend, kend, p2m_pages, start_info, store, console, pt, nr_pt, stack, mapped)


def _round_up(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def _span(start: int, length: int, shift: int) -> int:
    return ((start + length - 1) >> shift) - (start >> shift) + 1


def _count_tables(virt_base: int, length: int, is_64bit: bool) -> int:
    start = virt_base & ((1 << 48) - 1) if is_64bit else virt_base
    if is_64bit:
        return 1 + _span(start, length, 39) + _span(start, length, 30) + _span(start, length, 21)
    l2s = _span(start, length, 30)
    if (start + length - 1) >> 30 != 3:
        l2s += 1          # Xen always needs the L2 of the top GiB for its own slots
    return 1 + l2s + _span(start, length, 21)


# ---- domain and memory -------------------------------------------------------------
def _make_domain(image, nr_pages, domid, name, console_write, cmdline) -> Domain:
    mem = PhysicalMemory()
    ram = mem.add(MemoryRegion(f"hv-d{domid}-ram", 0, nr_pages * PAGE_SIZE))
    m2p_pages = math.ceil(nr_pages * 8 / PAGE_SIZE) + math.ceil(nr_pages * 4 / PAGE_SIZE)
    hv_pages = m2p_pages + M2P_TABLE_FRAMES + 96
    hv = mem.add(MemoryRegion(f"hv-d{domid}-xen", L.HYPERVISOR_PHYS_BASE, hv_pages * PAGE_SIZE))
    dom = Domain(domid=domid, name=name, is_64bit=image.is_64bit, mem=mem, ram=ram,
                 hv_region=hv, frames=FrameAllocator(mem, hv), nr_pages=nr_pages,
                 max_pages=nr_pages, console_write=console_write, cmdline=cmdline)
    dom.time = DomainTime()
    dom.symbols = dict(image.symbols)
    dom.shared_info_paddr = dom.frames.alloc()
    dom.grants = GrantFrames(domid, nr_pages)
    mem.add(dom.grants.region)
    return dom


def _load_segments(dom: Domain, image: KernelImage) -> None:
    for seg in image.segments:
        paddr = (seg.vaddr - image.virt_base) & ((1 << 64) - 1)
        if paddr + seg.memsz > dom.nr_pages * PAGE_SIZE:
            raise LoaderError(f"{image.path}: segment at {seg.vaddr:#x} lies outside the"
                              f" domain's {dom.nr_pages >> 8} MiB")
        dom.mem.write(paddr, seg.data)


def _fill_p2m_and_m2p(dom: Domain, boot: BootLayout) -> None:
    """MFN == PFN for guest RAM: the p2m and both M2P tables say so."""
    word = dom.word_size
    fmt = "<Q" if word == 8 else "<I"
    import struct
    p2m = b"".join(struct.pack(fmt, pfn) for pfn in range(dom.nr_pages))
    dom.mem.write(boot.p2m_pfn * PAGE_SIZE, p2m)
    dom.m2p_paddr = dom.frames.alloc(math.ceil(dom.nr_pages * 8 / PAGE_SIZE))
    dom.mem.write(dom.m2p_paddr, b"".join(struct.pack("<Q", p) for p in range(dom.nr_pages)))
    dom.compat_m2p_paddr = dom.frames.alloc(math.ceil(dom.nr_pages * 4 / PAGE_SIZE))
    dom.mem.write(dom.compat_m2p_paddr, b"".join(struct.pack("<I", p) for p in range(dom.nr_pages)))
    # entries past our frames in the last pages, and the shared page, are INVALID
    for base, size in ((dom.m2p_paddr, 8), (dom.compat_m2p_paddr, 4)):
        end = base + math.ceil(dom.nr_pages * size / PAGE_SIZE) * PAGE_SIZE
        dom.mem.write(base + dom.nr_pages * size, b"\xff" * (end - base - dom.nr_pages * size))
    dom.invalid_m2p_page = dom.frames.alloc()
    dom.mem.write(dom.invalid_m2p_page, b"\xff" * PAGE_SIZE)


# The M2P covers every machine frame below our own (as Xen's covers all of memory):
# frames that are not this domain's read as INVALID_M2P_ENTRY (all ones), all from one
# shared page, so the cover costs a few table frames and no memory per guest page.
MAX_MACHINE_FRAMES = L.HYPERVISOR_PHYS_BASE >> 12
M2P_TABLE_FRAMES = 2 + 2 * math.ceil(MAX_MACHINE_FRAMES * 8 / PAGE_SIZE / 512)


def _m2p_frames(dom: Domain, first: int, entry_size: int) -> list[int]:
    """Frames backing an M2P with `entry_size`-byte entries: ours, then the invalid page."""
    own = math.ceil(dom.nr_pages * entry_size / PAGE_SIZE)
    total = math.ceil(MAX_MACHINE_FRAMES * entry_size / PAGE_SIZE)
    return [first + i * PAGE_SIZE for i in range(own)] + [dom.invalid_m2p_page] * (total - own)


def _map_range(dom: Domain, l1_first: int, frames: list[int], flags: int) -> None:
    for i, paddr in enumerate(frames):
        dom.mem.write_u64(l1_first + i * 8, paddr | flags)


def _build_hypervisor_tables(dom: Domain) -> None:
    """Our L3s for L4 slots 256 (M2P) and 257 (per-domain area), shared by all tables."""
    fr = dom.frames
    m2p_frames = _m2p_frames(dom, dom.m2p_paddr, 8)
    dom.hv_l4_entries = {}
    # slot 256: read-only M2P, readable by the (ring 3) guest kernel
    l3, l2 = fr.alloc(), fr.alloc()
    dom.mem.write_u64(l3, l2 | HV_TABLE_FLAGS | P.PAGE_USER)
    for chunk in range(0, len(m2p_frames), 512):
        l1 = fr.alloc()
        dom.mem.write_u64(l2 + (chunk // 512) * 8, l1 | HV_TABLE_FLAGS | P.PAGE_USER)
        _map_range(dom, l1, m2p_frames[chunk:chunk + 512],
                   P.PAGE_PRESENT | P.PAGE_USER | P.PAGE_ACCESSED | P.PAGE_NX)
    dom.hv_l4_entries[256] = l3 | HV_TABLE_FLAGS | P.PAGE_USER
    # slot 257: per-vCPU GDTs, the entry stub, the engine's stop page; supervisor only
    l3, gdt_l2, gdt_l1 = fr.alloc(), fr.alloc(), fr.alloc()
    dom.mem.write_u64(l3, gdt_l2 | HV_TABLE_FLAGS)
    dom.mem.write_u64(gdt_l2, gdt_l1 | HV_TABLE_FLAGS)
    dom.gdt_l1_paddr = gdt_l1
    misc_l2, misc_l1 = fr.alloc(), fr.alloc()
    off = L.STUB_PAGE_VIRT - L.PERDOMAIN_VIRT_START
    dom.mem.write_u64(l3 + ((off >> 30) & 511) * 8, misc_l2 | HV_TABLE_FLAGS | P.PAGE_USER)
    dom.mem.write_u64(misc_l2 + ((off >> 21) & 511) * 8, misc_l1 | HV_TABLE_FLAGS | P.PAGE_USER)
    hlt_page = fr.alloc()
    dom.mem.write(hlt_page, b"\xf4" * PAGE_SIZE)
    dom.mem.write(hlt_page + L.IRET_STUB_OFFSET, IRETQ)
    dom.iret_frames = fr.alloc()     # one 64-byte iret frame slot per vCPU
    first = (off >> 12) & 511
    for i, (frame, flags) in enumerate([
            # user-readable: the engine reads the byte before `until` at the guest's CPL
            (hlt_page, P.PAGE_PRESENT | P.PAGE_ACCESSED | P.PAGE_USER),     # stub page
            (hlt_page, P.PAGE_PRESENT | P.PAGE_ACCESSED),                  # stop page
            (dom.iret_frames, P.PAGE_PRESENT | P.PAGE_RW | P.PAGE_ACCESSED | P.PAGE_DIRTY
             | P.PAGE_NX)]):
        dom.mem.write_u64(misc_l1 + (first + i) * 8, frame | flags)
    dom.hv_l4_entries[257] = l3 | HV_TABLE_FLAGS | P.PAGE_USER
    dom.zero_page = fr.alloc()
    dom.xen_gdt_page = fr.alloc()
    dom.mem.write(dom.xen_gdt_page, L.xen_gdt_page(dom.is_64bit))


def install_xen_l4_slots(dom: Domain, l4_paddr: int) -> None:
    """Copy our slots into a guest L4, as Xen does for every L4 it validates."""
    for slot, entry in dom.hv_l4_entries.items():
        dom.mem.write_u64(l4_paddr + slot * 8, entry)


def install_compat_l2_slots(dom: Domain, l2_paddr: int) -> None:
    """The compat M2P at 0xF5800000, in Xen's reserved slots of the top-GiB L2."""
    if not hasattr(dom, "compat_m2p_l1s"):
        frames = _m2p_frames(dom, dom.compat_m2p_paddr, 4)
        slots = 512 - L.COMPAT_L2_FIRST_XEN_SLOT
        frames = frames[:slots * 512]     # what fits below 4 GiB
        dom.compat_m2p_l1s = []
        for chunk in range(0, len(frames), 512):
            l1 = dom.frames.alloc()
            _map_range(dom, l1, frames[chunk:chunk + 512],
                       P.PAGE_PRESENT | P.PAGE_USER | P.PAGE_ACCESSED)
            dom.compat_m2p_l1s.append(l1)
    for i, l1 in enumerate(dom.compat_m2p_l1s):
        slot = L.COMPAT_L2_FIRST_XEN_SLOT + i
        dom.mem.write_u64(l2_paddr + slot * 8, l1 | P.PAGE_PRESENT | P.PAGE_ACCESSED | P.PAGE_USER)


# ---- the guest's initial page tables ---------------------------------------------
def _pt_range(boot: BootLayout) -> range:
    return range(boot.pt_pfn, boot.pt_pfn + boot.nr_pt_frames)


def _build_tables_64(dom: Domain, virt_base: int, boot: BootLayout) -> None:
    next_pt = iter(range(boot.pt_pfn + 1, boot.pt_pfn + boot.nr_pt_frames))
    l4 = boot.pt_pfn * PAGE_SIZE
    tables: dict[tuple[int, int], int] = {}
    pt_frames = _pt_range(boot)
    base = virt_base & ((1 << 48) - 1)
    for level_shift in (39, 30, 21):   # allocate tables level by level, in address order
        for idx in range(base >> level_shift, ((base + boot.mapped_pages * PAGE_SIZE - 1)
                                               >> level_shift) + 1):
            tables[(level_shift, idx)] = next(next_pt) * PAGE_SIZE
    for pfn in range(boot.mapped_pages):
        va = base + pfn * PAGE_SIZE
        l3 = tables[(39, va >> 39)]
        l2 = tables[(30, va >> 30)]
        l1 = tables[(21, va >> 21)]
        dom.mem.write_u64(l4 + ((va >> 39) & 511) * 8, l3 | PT_FLAGS_64)
        dom.mem.write_u64(l3 + ((va >> 30) & 511) * 8, l2 | PT_FLAGS_64)
        dom.mem.write_u64(l2 + ((va >> 21) & 511) * 8, l1 | PT_FLAGS_64)
        flags = L1_FLAGS_64 & ~P.PAGE_RW if pfn in pt_frames else L1_FLAGS_64
        dom.mem.write_u64(l1 + ((va >> 12) & 511) * 8, pfn * PAGE_SIZE | flags)
    install_xen_l4_slots(dom, l4)


def _build_tables_pae(dom: Domain, virt_base: int, boot: BootLayout) -> None:
    next_pt = iter(range(boot.pt_pfn + 1, boot.pt_pfn + boot.nr_pt_frames))
    l3 = boot.pt_pfn * PAGE_SIZE
    end = virt_base + boot.mapped_pages * PAGE_SIZE - 1
    l2s = {i: next(next_pt) * PAGE_SIZE for i in range(virt_base >> 30, (end >> 30) + 1)}
    if 3 not in l2s:
        l2s[3] = next(next_pt) * PAGE_SIZE
    l1s = {i: next(next_pt) * PAGE_SIZE for i in range(virt_base >> 21, (end >> 21) + 1)}
    for i, l2 in l2s.items():
        dom.mem.write_u64(l3 + i * 8, l2 | L3_FLAGS_32 | COMPAT_L3_ADJUST)
    for i, l1 in l1s.items():
        dom.mem.write_u64(l2s[i >> 9] + (i & 511) * 8, l1 | L2_FLAGS_32)
    pt_frames = _pt_range(boot)
    for pfn in range(boot.mapped_pages):
        va = virt_base + pfn * PAGE_SIZE
        flags = L1_FLAGS_32 & ~P.PAGE_RW if pfn in pt_frames else L1_FLAGS_32
        dom.mem.write_u64(l1s[va >> 21] + ((va >> 12) & 511) * 8, pfn * PAGE_SIZE | flags)
    install_compat_l2_slots(dom, l2s[3])


# ---- Xen's pages -------------------------------------------------------------------
def _fill_shared_info(dom: Domain) -> None:
    cls = XEN.shared_info_64 if dom.is_64bit else XEN.shared_info_32
    si = dom.mem.struct_at(cls, dom.shared_info_paddr)
    t = dom.time
    for vi in si.vcpu_info:
        vi.evtchn_upcall_mask = 1
        vi.time.version = 2
        vi.time.tsc_timestamp = t.anchor_tsc
        vi.time.system_time = t.anchor_system_time
        vi.time.tsc_to_system_mul = t.tsc_to_system_mul
        vi.time.tsc_shift = t.tsc_shift
    si.wc_sec, si.wc_nsec = dom.time.wallclock_at_boot()
    si.wc_version = 2
    si.arch.max_pfn = dom.nr_pages
    del si


def _fill_start_info(dom: Domain, image: KernelImage, boot: BootLayout, cmdline: str) -> None:
    cls = XEN.start_info_64 if dom.is_64bit else XEN.start_info_32
    paddr = boot.start_info_pfn * PAGE_SIZE
    si = dom.mem.struct_at(cls, paddr)
    si.magic = b"xen-3.0-x86_64" if dom.is_64bit else b"xen-3.0-x86_32p"
    si.nr_pages = dom.nr_pages
    si.shared_info = dom.shared_info_paddr
    si.flags = 0
    si.store_mfn = boot.store_pfn
    si.store_evtchn = STORE_EVTCHN
    si.console.domU.mfn = boot.console_pfn
    si.console.domU.evtchn = CONSOLE_EVTCHN
    si.pt_base = image.virt_base + boot.pt_pfn * PAGE_SIZE
    si.nr_pt_frames = boot.nr_pt_frames
    si.mfn_list = image.virt_base + boot.p2m_pfn * PAGE_SIZE
    si.mod_start = si.mod_len = 0
    si.cmd_line = cmdline.encode()[:XEN.MAX_GUEST_CMDLINE - 1]
    del si
    dom.start_info_paddr = paddr
    dom.console_pfn, dom.store_pfn = boot.console_pfn, boot.store_pfn
    dom.console_evtchn, dom.store_evtchn = CONSOLE_EVTCHN, STORE_EVTCHN


def hypercall_page_bytes(is_64bit: bool) -> bytes:
    """Xen's stubs, 32 bytes each; unused bytes are int3."""
    page = bytearray(b"\xcc" * PAGE_SIZE)
    for nr in range(PAGE_SIZE // 32):
        n = nr.to_bytes(4, "little")
        if is_64bit:
            stub = (b"\x51\x41\x53\x50\xb8" + n + b"\x0f\x05" if nr == XEN.HYPERVISOR_iret
                    else b"\x51\x41\x53\xb8" + n + b"\x0f\x05\x41\x5b\x59\xc3")
        else:
            stub = (b"\x50\xb8" + n + b"\xcd\x82" if nr == XEN.HYPERVISOR_iret
                    else b"\xb8" + n + b"\xcd\x82\xc3")
        page[nr * 32:nr * 32 + len(stub)] = stub
    return bytes(page)


def _fill_hypercall_page(dom: Domain, paddr: int) -> None:
    if paddr % PAGE_SIZE or not dom.is_ram_pfn(paddr // PAGE_SIZE):
        raise LoaderError(f"HYPERCALL_PAGE note points outside the kernel ({paddr:#x})")
    dom.mem.write(paddr, hypercall_page_bytes(dom.is_64bit))


# ---- the vCPUs -----------------------------------------------------------------------
def _make_vcpu(dom: Domain, vcpu_id: int) -> VCPU:
    """A vCPU with its own engine over the domain's memory. vCPU1.. start down and
    uninitialised, as on Xen: the guest brings them up (VCPUOP_initialise, VCPUOP_up)."""
    engine = Engine()
    for region in dom.mem.regions:
        engine.map_host_memory(region.paddr, region.size, region.host_addr)
    v = VCPU(dom, vcpu_id, engine)
    v.state.vcpu_info_paddr = dom.shared_info_paddr + vcpu_id * 64
    v.state.up = v.state.initialised = vcpu_id == 0
    install_cpuid_hook(v)     # before any code is translated: hooks are bound at translation
    setup_gdt(v)
    engine.stop_address = L.STOP_PAGE_VIRT
    engine.iret_stub = L.STUB_PAGE_VIRT + L.IRET_STUB_OFFSET
    engine.iret_frame_virt = L.IRET_FRAME_VIRT + vcpu_id * 64
    engine.iret_frame_paddr = dom.iret_frames + vcpu_id * 64
    engine.uc.reg_write(X.UC_X86_REG_GDTR, (0, v.gdt_virt, L.GDT_LIMIT, 0))
    return v


def _make_boot_vcpu(dom: Domain, image: KernelImage, boot: BootLayout) -> VCPU:
    v = _make_vcpu(dom, 0)
    engine = v.engine
    table = boot.pt_pfn * PAGE_SIZE
    v.state.guest_table = table
    cr3 = table if dom.is_64bit else make_compat_l4(v, table)
    set_paging(engine, cr3)
    va_top = image.virt_base + (boot.stack_pfn + 1) * PAGE_SIZE
    start_info_va = image.virt_base + boot.start_info_pfn * PAGE_SIZE
    mask = (1 << 64) - 1
    if dom.is_64bit:
        engine.iret_to(image.entry, L.FLAT_RING3_CS64, 0x202, va_top & mask, L.FLAT_RING3_SS64)
        data_sel = 0
    else:
        engine.iret_to(image.entry, L.FLAT_RING1_CS, 0x202, va_top & 0xFFFFFFFF, L.FLAT_RING1_SS)
        data_sel = L.FLAT_RING1_DS
    for seg in (X.UC_X86_REG_DS, X.UC_X86_REG_ES, X.UC_X86_REG_FS, X.UC_X86_REG_GS):
        engine.set_reg(seg, data_sel)
    engine.set_reg(X.UC_X86_REG_RSI, start_info_va & mask)
    return v


def set_paging(engine: Engine, cr3: int) -> None:
    engine.set_reg(X.UC_X86_REG_CR3, cr3)
    engine.set_reg(X.UC_X86_REG_CR4, 0x6A0)           # PAE, PGE, OSFXSR, OSXMMEXCPT
    engine.uc.msr_write(0xC0000080, 0xD01)            # EFER: SCE, LME, LMA, NXE
    engine.set_reg(X.UC_X86_REG_CR0, 0x80050033)      # PG, AM, WP, NE, ET, MP, PE


def make_compat_l4(v: VCPU, guest_l3: int) -> int:
    """A 32-bit guest's tables sit under our own L4 (slot 0 -> guest L3)."""
    dom = v.domain
    if not v.hv_l4:
        v.hv_l4 = dom.frames.alloc()
        install_xen_l4_slots(dom, v.hv_l4)
    dom.mem.write_u64(v.hv_l4, guest_l3 | HV_TABLE_FLAGS | P.PAGE_USER)
    return v.hv_l4


def setup_gdt(v: VCPU, frames: list[int] | None = None) -> None:
    """Map this vCPU's GDT: guest frames (set_gdt) or the zero page, then Xen's page."""
    dom = v.domain
    base = dom.gdt_l1_paddr + v.id * 16 * 8
    frames = frames or []
    for i in range(L.GDT_GUEST_PAGES):
        if i < len(frames):
            entry = frames[i] | P.PAGE_PRESENT | P.PAGE_RW | P.PAGE_ACCESSED | P.PAGE_DIRTY
        else:
            entry = dom.zero_page | P.PAGE_PRESENT | P.PAGE_ACCESSED
        dom.mem.write_u64(base + i * 8, entry)
    dom.mem.write_u64(base + L.GDT_GUEST_PAGES * 8,
                      dom.xen_gdt_page | P.PAGE_PRESENT | P.PAGE_RW | P.PAGE_ACCESSED | P.PAGE_DIRTY)
    v.engine.flush_tlb()


def install_cpuid_hook(v: VCPU) -> None:
    """cpuid gives the PV CPUID policy, inline (rdtsc stays native: see hvcore.time);
    port I/O is checked against the virtual IOPL and I/O bitmap."""
    from hvcore.arch.x86.pv import emul_priv_op
    v.engine.add_inline_insn_hook(X.UC_X86_INS_CPUID, lambda: emul_priv_op.do_cpuid(v))
    v.engine.set_io_handlers(lambda port, size: emul_priv_op.io_in(v, port, size),
                             lambda port, size, value: emul_priv_op.io_out(v, port, size, value))
