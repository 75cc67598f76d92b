"""The PV MMU: mmu_update, update_va_mapping, mmuext_op (xen/arch/x86/mm.c).

Guest page tables are read-only to the guest; it changes them through these calls, with
Xen's rules (hvcore/arch/x86/pv/page_types.py): an entry is written only once what it
needs is granted (a writable mapping needs a frame that is no page table; a table entry
needs a valid table one level down), the old entry's references are dropped after, and
Xen's reserved slots are out of reach. A refused update leaves the tables as they were.
"""
import struct

from unicorn import x86_const as X

from hvcore.arch.x86 import paging as P
from hvcore.arch.x86.pv import layout as L
from hvcore.arch.x86.pv.page_types import PAGE_TABLE_TYPES, WRITABLE, PageTypes
from hvcore.hypercalls import hypercall
from hvcore.public import errno as E
from hvcore.public import xen as XEN
from loaders.pv_builder import (COMPAT_L3_ADJUST, install_compat_l2_slots, install_xen_l4_slots,
                                make_compat_l4)

MMU_UPDATE_PREEMPTED = 1 << 31
_HV_SLOTS = range(L.HYPERVISOR_L4_FIRST_SLOT, L.HYPERVISOR_L4_LAST_SLOT + 1)
_AD = P.PAGE_ACCESSED | P.PAGE_DIRTY


def page_types(dom) -> PageTypes:
    if dom.page_types is None:
        dom.page_types = PageTypes(dom)
    return dom.page_types


def _entry_value(v, level: int, val: int) -> int:
    """What Xen stores for a guest's entry: 64-bit PV kernels run in ring 3, so every
    level carries U; a PAE L3 entry gets the bits a long-mode walk needs."""
    if not val & P.PAGE_PRESENT:
        return val
    if v.is_64bit:
        return val | P.PAGE_USER
    if level == 3:
        return val | COMPAT_L3_ADJUST
    return val


def write_pte(v, pte_paddr: int, val: int, preserve_ad: bool = False) -> int:
    """MMU_NORMAL_PT_UPDATE: a validated change to a page table, or a plain write into
    a frame that is no page table right now (as Xen does)."""
    dom = v.domain
    types = page_types(dom)
    table = pte_paddr >> 12
    if pte_paddr & 7 or not dom.is_ram_pfn(table):
        return -E.EINVAL
    level = types.type_of(table)
    if level not in PAGE_TABLE_TYPES:
        if not types.get(table, WRITABLE):
            return -E.EINVAL
        dom.mem.write_u64(pte_paddr, val)
        types.put(table)
        return 0
    return mod_entry(v, level, pte_paddr, val, preserve_ad)


def mod_entry(v, level: int, pte_paddr: int, val: int, preserve_ad: bool = False) -> int:
    """mod_lN_entry: take what the new entry needs, write it, drop what the old held."""
    dom, types, mem = v.domain, page_types(v.domain), v.domain.mem
    index = (pte_paddr & 0xFFF) >> 3
    old = mem.read_u64(pte_paddr)
    if types.is_xen_slot(level, index, old) or (v.is_64bit and level == 4 and index in _HV_SLOTS):
        return -E.EINVAL
    if level == 3 and not v.is_64bit and index >= 4:
        return -E.EINVAL
    if level == 2 and not v.is_64bit and index >= L.COMPAT_L2_FIRST_XEN_SLOT and \
            _is_top_pae_l2(v, pte_paddr & ~0xFFF):
        return -E.EINVAL
    if preserve_ad:
        val |= old & _AD
    new = _entry_value(v, level, val)
    if new & P.PAGE_PRESENT and old & P.PAGE_PRESENT and not (old ^ new) & ~_AD:
        mem.write_u64(pte_paddr, new)          # same frame and rights: nothing to take
        v.flush_tlb()
        return 0
    if new & P.PAGE_PRESENT and not types.get_entry(level, new):
        return -E.EINVAL
    mem.write_u64(pte_paddr, new)
    if old & P.PAGE_PRESENT:
        types.put_entry(level, old)
    if level == 3 and not v.is_64bit and index == 3 and new & P.PAGE_PRESENT:
        install_compat_l2_slots(dom, new & P.PADDR_MASK)
    _flush_all(dom)
    return 0


def _is_top_pae_l2(v, table: int) -> bool:
    top = v.domain.mem.read_u64(v.state.guest_table + 3 * 8)
    return bool(top & P.PAGE_PRESENT) and top & P.PADDR_MASK == table


def _flush_all(dom) -> None:
    for vcpu in dom.vcpus:
        vcpu.flush_tlb()


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
        return write_pte(v, ptr, val, preserve_ad=cmd == XEN.MMU_PT_UPDATE_PRESERVE_AD)
    if cmd == XEN.MMU_MACHPHYS_UPDATE:
        return set_m2p(v, ptr >> 12, val)
    return -E.ENOSYS


def _foreign_owner_refused(v, foreigndom: int) -> int:
    """Xen's get_pg_owner and its XSM check for a domU: DOMID_SELF is the caller;
    its own number given explicitly is -ESRCH ("cannot specify itself as foreign
    domain"); any other domain's pages are not ours to map (-EPERM)."""
    owner = foreigndom & 0xFFFF
    if owner == XEN.DOMID_SELF:
        return 0
    return -E.ESRCH if owner == v.domain.domid else -E.EPERM


@hypercall(XEN.HYPERVISOR_mmu_update)
def mmu_update(v, ureqs, count, pdone, foreigndom, *_):
    """long mmu_update(mmu_update_t *req, unsigned int count, unsigned int *done, domid_t dom)"""
    refused = _foreign_owner_refused(v, foreigndom)
    if refused:
        return refused
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
    """Switch the vCPU's kernel page tables (MMUEXT_NEW_BASEPTR / mov to cr3): the frame
    must be, or validate as, a top-level table (L4; L3 for PAE), as in Xen."""
    dom = v.domain
    if not dom.is_ram_pfn(mfn):
        return -E.EINVAL
    table = mfn << 12
    mem = dom.mem
    if v.is_64bit:
        install_xen_l4_slots(dom, table)
    else:
        for i in range(4):
            entry = mem.read_u64(table + i * 8)
            if entry & P.PAGE_PRESENT:
                mem.write_u64(table + i * 8, entry | COMPAT_L3_ADJUST)
    if not _take_top(v, mfn, v.state.guest_table):
        return -E.EINVAL
    if v.is_64bit:
        v.state.guest_table = table
        if v.state.kernel_mode:
            v.set_reg(X.UC_X86_REG_CR3, table)
    else:
        top = mem.read_u64(table + 3 * 8)
        if top & P.PAGE_PRESENT:
            install_compat_l2_slots(dom, top & P.PADDR_MASK)
        v.state.guest_table = table
        v.set_reg(X.UC_X86_REG_CR3, make_compat_l4(v, table))
    v.flush_tlb()
    return 0


def _take_top(v, mfn: int, old_table: int) -> bool:
    """Reference `mfn` as a top-level table and drop the reference on the one it
    replaces (taken first: the same frame may be loaded again)."""
    types = page_types(v.domain)
    if not types.get(mfn, 4 if v.is_64bit else 3):
        return False
    if old_table:
        types.put(old_table >> 12)
    return True


def _set_user_baseptr(v, mfn: int) -> int:
    if not v.is_64bit:
        return -E.EINVAL
    if mfn == 0:
        if v.state.guest_table_user:
            page_types(v.domain).put(v.state.guest_table_user >> 12)
        v.state.guest_table_user = 0
        return 0
    if not v.domain.is_ram_pfn(mfn):
        return -E.EINVAL
    install_xen_l4_slots(v.domain, mfn << 12)
    if not _take_top(v, mfn, v.state.guest_table_user):
        return -E.EINVAL
    v.state.guest_table_user = mfn << 12
    if not v.state.kernel_mode:
        v.set_reg(X.UC_X86_REG_CR3, mfn << 12)
    v.flush_tlb()
    return 0


_PIN_LEVELS = {XEN.MMUEXT_PIN_L1_TABLE: 1, XEN.MMUEXT_PIN_L2_TABLE: 2,
               XEN.MMUEXT_PIN_L3_TABLE: 3, XEN.MMUEXT_PIN_L4_TABLE: 4}
_FLUSHES = (XEN.MMUEXT_TLB_FLUSH_LOCAL, XEN.MMUEXT_INVLPG_LOCAL, XEN.MMUEXT_TLB_FLUSH_MULTI,
            XEN.MMUEXT_INVLPG_MULTI, XEN.MMUEXT_TLB_FLUSH_ALL, XEN.MMUEXT_INVLPG_ALL,
            XEN.MMUEXT_FLUSH_CACHE, XEN.MMUEXT_FLUSH_CACHE_GLOBAL)


def _pin(v, mfn: int, level: int) -> int:
    """MMUEXT_PIN_Ln_TABLE: validate the whole tree below and hold it as that type."""
    if level == 4 and not v.is_64bit:
        return -E.EINVAL
    if level == 4:
        install_xen_l4_slots(v.domain, mfn << 12)
    return 0 if page_types(v.domain).pin(mfn, level) else -E.EINVAL


def _write_whole_page(v, mfn: int, data: bytes) -> int:
    """CLEAR_PAGE / COPY_PAGE: only into a frame that may be writable (no page table)."""
    types = page_types(v.domain)
    if not v.domain.is_ram_pfn(mfn) or not types.get(mfn, WRITABLE):
        return -E.EINVAL
    v.domain.mem.write(mfn << 12, data)
    types.put(mfn)
    return 0


def _mmuext(v, cmd: int, arg1: int, arg2: int) -> int:
    if cmd in _PIN_LEVELS:
        return _pin(v, arg1, _PIN_LEVELS[cmd])
    if cmd == XEN.MMUEXT_UNPIN_TABLE:
        return 0 if page_types(v.domain).unpin(arg1) else -E.EINVAL
    if cmd == XEN.MMUEXT_NEW_BASEPTR:
        return new_guest_cr3(v, arg1)
    if cmd == XEN.MMUEXT_NEW_USER_BASEPTR:
        return _set_user_baseptr(v, arg1)
    if cmd in _FLUSHES:
        v.flush_tlb()
        return 0
    if cmd == XEN.MMUEXT_SET_LDT:
        if arg2 > 8192 or arg1 & 0xFFF:
            return -E.EINVAL
        v.state.ldt_base, v.state.ldt_entries = arg1, arg2
        return 0
    if cmd == XEN.MMUEXT_CLEAR_PAGE:
        return _write_whole_page(v, arg1, bytes(4096))
    if cmd == XEN.MMUEXT_COPY_PAGE:
        if not v.domain.is_ram_pfn(arg2):
            return -E.EINVAL
        return _write_whole_page(v, arg1, v.domain.mem.read(arg2 << 12, 4096))
    return -E.ENOSYS


@hypercall(XEN.HYPERVISOR_mmuext_op)
def mmuext_op(v, uops, count, pdone, foreigndom, *_):
    """long mmuext_op(struct mmuext_op *op, unsigned int count, unsigned int *done, domid_t dom)"""
    refused = _foreign_owner_refused(v, foreigndom)
    if refused:
        return refused
    size, fmt = (24, "<I4xQQ") if v.is_64bit else (12, "<III")
    return _batch(v, uops, count, pdone, size, fmt,
                  lambda cmd, arg1, arg2: _mmuext(v, cmd, arg1, arg2))
