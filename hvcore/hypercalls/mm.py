"""The PV MMU: mmu_update, update_va_mapping, mmuext_op (xen/arch/x86/mm.c).

Guest page tables are read-only to the guest; it changes them through these calls.
This first version checks that every frame a guest names is its own and keeps Xen's
reserved slots out of reach; the full page-type and reference-count rules come with
the PV memory-management work.
"""
import struct

from unicorn import x86_const as X

from hvcore.arch.x86 import paging as P
from hvcore.arch.x86.pv import layout as L
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import xen as XEN
from loaders.pv_builder import (COMPAT_L3_ADJUST, install_compat_l2_slots, install_xen_l4_slots,
                                make_compat_l4)

MMU_UPDATE_PREEMPTED = 1 << 31
_HV_SLOTS = range(L.HYPERVISOR_L4_FIRST_SLOT, L.HYPERVISOR_L4_LAST_SLOT + 1)


def _owned(v, mfn: int) -> bool:
    return v.domain.owns_mfn(mfn)


def _top_tables(v) -> set[int]:
    st = v.state
    return {t for t in (st.guest_table, st.guest_table_user) if t}


def adjust_pte(v, pte_paddr: int, val: int) -> int | None:
    """Validate and adjust a new PTE as Xen does; None if it must be refused."""
    if not val & P.PAGE_PRESENT:
        return val
    if not _owned(v, (val & P.PADDR_MASK) >> 12):
        return None
    table = pte_paddr & ~0xFFF
    if v.is_64bit:
        if table in _top_tables(v) and ((pte_paddr & 0xFFF) >> 3) in _HV_SLOTS:
            return None
        return val | P.PAGE_USER           # 64-bit PV kernels run in ring 3
    if table == v.state.guest_table:          # PAE L3 entry: long-mode walk needs RW/U
        return val | COMPAT_L3_ADJUST
    return val


def _pinned(dom) -> dict[int, int]:
    """Pinned frames and their page-table level (1-4)."""
    return dom.__dict__.setdefault("pinned", {})


def table_levels(v) -> dict[int, int]:
    """Machine address -> level of every page table reachable from the vCPU's guest
    tables (Xen's own slots and our frames left out), plus pinned tables."""
    mem = v.domain.mem
    levels = {mfn << 12: level for mfn, level in _pinned(v.domain).items()}
    present = lambda e: e & P.PAGE_PRESENT and v.domain.is_ram_pfn((e & P.PADDR_MASK) >> 12)
    if v.is_64bit:
        frontier, level = list(_top_tables(v)), 4
    else:
        frontier, level = [v.state.guest_table], 3
    while frontier and level >= 1:
        nxt = []
        for table in frontier:
            levels[table] = level
            if level == 1:
                continue
            count = 4 if level == 3 and not v.is_64bit else 512
            for i in range(count):
                if level == 4 and i in _HV_SLOTS:
                    continue
                e = mem.read_u64(table + i * 8)
                if present(e) and not (level in (2, 3) and e & P.PAGE_PSE and v.is_64bit):
                    nxt.append(e & P.PADDR_MASK)
        frontier, level = nxt, level - 1
    return levels


def has_writable_mapping(v, mfn: int) -> bool:
    mem = v.domain.mem
    for table, level in table_levels(v).items():
        if level != 1:
            continue
        for j in range(512):
            e = mem.read_u64(table + j * 8)
            if e & P.PAGE_PRESENT and e & P.PAGE_RW and (e & P.PADDR_MASK) >> 12 == mfn:
                return True
    return False


def write_pte(v, pte_paddr: int, val: int) -> int:
    if not _owned(v, pte_paddr >> 12):
        return -E.EINVAL
    if val & P.PAGE_PRESENT and val & P.PAGE_RW:
        levels = table_levels(v)
        if levels.get(pte_paddr & ~0xFFF) == 1 and (val & P.PADDR_MASK) in levels:
            return -E.EINVAL      # an L1 entry may never map a page table writable
    new = adjust_pte(v, pte_paddr, val)
    if new is None:
        return -E.EINVAL
    v.domain.mem.write_u64(pte_paddr, new)
    v.flush_tlb()
    return 0


def set_m2p(v, mfn: int, pfn: int) -> int:
    if not v.domain.is_ram_pfn(mfn):
        return -E.EINVAL
    v.domain.mem.write_u64(v.domain.m2p_paddr + mfn * 8, pfn)
    v.domain.mem.write_u32(v.domain.compat_m2p_paddr + mfn * 4, pfn & 0xFFFFFFFF)
    return 0


def _batch(v, ops: int, count: int, pdone: int, size: int, fmt: str, do_one) -> int:
    """Run `count` requests of `size` bytes from guest array `ops`, stopping at the
    first failure, and report how many were done in *pdone, as Xen does."""
    count &= 0xFFFFFFFF & ~MMU_UPDATE_PREEMPTED
    done, rc = 0, 0
    for i in range(count):
        rc = do_one(*struct.unpack(fmt, v.read_virt(ops + i * size, size)))
        if rc:
            break
        done += 1
    if pdone:
        v.write_virt(pdone, struct.pack("<I", done))
    return rc


def _mmu_update_one(v, ptr: int, val: int) -> int:
    cmd, ptr = ptr & 3, ptr & ~3
    if cmd in (XEN.MMU_NORMAL_PT_UPDATE, XEN.MMU_PT_UPDATE_PRESERVE_AD):
        return write_pte(v, ptr, val)
    if cmd == XEN.MMU_MACHPHYS_UPDATE:
        return set_m2p(v, ptr >> 12, val)
    return -E.ENOSYS


@hypercall(XEN.HYPERVISOR_mmu_update)
def mmu_update(v, ureqs, count, pdone, foreigndom, *_):
    """long mmu_update(mmu_update_t *req, unsigned int count, unsigned int *done, domid_t dom)"""
    return _batch(v, ureqs, count, pdone, 16, "<QQ",
                  lambda ptr, val: _mmu_update_one(v, ptr, val))


def l1e_paddr(v, va: int) -> int | None:
    """Machine address of the L1 entry mapping `va` in the current tables."""
    if not v.is_64bit:
        va &= 0xFFFFFFFF
    table = v.cr3 & P.PADDR_MASK
    for shift in (39, 30, 21):
        entry = v.domain.mem.read_u64(table + ((va >> shift) & 511) * 8)
        if not entry & P.PAGE_PRESENT or entry & P.PAGE_PSE and shift != 39:
            return None
        table = entry & P.PADDR_MASK
    return table + ((va >> 12) & 511) * 8


@hypercall(XEN.HYPERVISOR_update_va_mapping)
def update_va_mapping(v, va, a2, a3, a4, *_):
    """64-bit: long update_va_mapping(unsigned long va, u64 val, unsigned long flags)
    32-bit PAE: (va, val_lo, val_hi, flags)"""
    val = a2 if v.is_64bit else (a3 << 32) | a2
    pte = l1e_paddr(v, va)
    if pte is None:
        return -E.EINVAL
    return write_pte(v, pte, val)


@hypercall(XEN.HYPERVISOR_update_va_mapping_otherdomain)
def update_va_mapping_otherdomain(v, *_):
    """long update_va_mapping_otherdomain(va, val, flags, domid_t): dom0 only"""
    return -E.EPERM


def new_guest_cr3(v, mfn: int) -> int:
    """Switch the vCPU's kernel page tables (MMUEXT_NEW_BASEPTR / mov to cr3)."""
    if not v.domain.is_ram_pfn(mfn):
        return -E.EINVAL
    table = mfn << 12
    mem = v.domain.mem
    if v.is_64bit:
        install_xen_l4_slots(v.domain, table)
        v.state.guest_table = table
        if v.state.kernel_mode:
            v.set_reg(X.UC_X86_REG_CR3, table)
    else:
        for i in range(4):
            entry = mem.read_u64(table + i * 8)
            if entry & P.PAGE_PRESENT:
                mem.write_u64(table + i * 8, entry | COMPAT_L3_ADJUST)
        top = mem.read_u64(table + 3 * 8)
        if top & P.PAGE_PRESENT:
            install_compat_l2_slots(v.domain, top & P.PADDR_MASK)
        v.state.guest_table = table
        v.set_reg(X.UC_X86_REG_CR3, make_compat_l4(v, table))
    v.flush_tlb()
    return 0


def _mmuext(v, cmd: int, arg1: int, arg2: int) -> int:
    pinned = _pinned(v.domain)
    if cmd in (XEN.MMUEXT_PIN_L1_TABLE, XEN.MMUEXT_PIN_L2_TABLE, XEN.MMUEXT_PIN_L3_TABLE,
               XEN.MMUEXT_PIN_L4_TABLE):
        if not v.domain.is_ram_pfn(arg1) or arg1 in pinned:
            return -E.EINVAL
        if has_writable_mapping(v, arg1):
            return -E.EINVAL      # a page-table frame may have no writable mapping
        level = cmd - XEN.MMUEXT_PIN_L1_TABLE + 1
        if cmd == XEN.MMUEXT_PIN_L4_TABLE:
            if not v.is_64bit:
                return -E.EINVAL
            install_xen_l4_slots(v.domain, arg1 << 12)
        pinned[arg1] = level
        return 0
    if cmd == XEN.MMUEXT_UNPIN_TABLE:
        if arg1 not in pinned:
            return -E.EINVAL
        del pinned[arg1]
        return 0
    if cmd == XEN.MMUEXT_NEW_BASEPTR:
        return new_guest_cr3(v, arg1)
    if cmd == XEN.MMUEXT_NEW_USER_BASEPTR:
        if not v.is_64bit:
            return -E.EINVAL
        if arg1 == 0:
            v.state.guest_table_user = 0
            return 0
        if not v.domain.is_ram_pfn(arg1):
            return -E.EINVAL
        install_xen_l4_slots(v.domain, arg1 << 12)
        v.state.guest_table_user = arg1 << 12
        if not v.state.kernel_mode:
            v.set_reg(X.UC_X86_REG_CR3, arg1 << 12)
        return 0
    if cmd in (XEN.MMUEXT_TLB_FLUSH_LOCAL, XEN.MMUEXT_INVLPG_LOCAL, XEN.MMUEXT_TLB_FLUSH_MULTI,
               XEN.MMUEXT_INVLPG_MULTI, XEN.MMUEXT_TLB_FLUSH_ALL, XEN.MMUEXT_INVLPG_ALL,
               XEN.MMUEXT_FLUSH_CACHE, XEN.MMUEXT_FLUSH_CACHE_GLOBAL):
        v.flush_tlb()
        return 0
    if cmd == XEN.MMUEXT_SET_LDT:
        if arg2 > 8192 or arg1 & 0xFFF:
            return -E.EINVAL
        v.state.ldt_base, v.state.ldt_entries = arg1, arg2
        return 0
    if cmd == XEN.MMUEXT_CLEAR_PAGE:
        if not v.domain.is_ram_pfn(arg1):
            return -E.EINVAL
        v.domain.mem.zero(arg1 << 12, 4096)
        v.flush_tlb()            # the page may have been a page table
        return 0
    if cmd == XEN.MMUEXT_COPY_PAGE:
        if not (v.domain.is_ram_pfn(arg1) and v.domain.is_ram_pfn(arg2)):
            return -E.EINVAL
        v.domain.mem.write(arg1 << 12, v.domain.mem.read(arg2 << 12, 4096))
        v.flush_tlb()
        return 0
    return -E.ENOSYS


@hypercall(XEN.HYPERVISOR_mmuext_op)
def mmuext_op(v, uops, count, pdone, foreigndom, *_):
    """long mmuext_op(struct mmuext_op *op, unsigned int count, unsigned int *done, domid_t dom)"""
    size, fmt = (24, "<I4xQQ") if v.is_64bit else (12, "<III")
    return _batch(v, uops, count, pdone, size, fmt,
                  lambda cmd, arg1, arg2: _mmuext(v, cmd, arg1, arg2))
