"""Writes to read-only page-table pages: validated and emulated (writable_pagetables).

With VMASST_TYPE_writable_pagetables on, a guest may store straight into one of its
L1 page tables (mapped read-only, as all page tables are); the store faults, and the
hypervisor validates the new entry like an mmu_update and performs it. A 4-byte store
into half of a PAE entry is combined with the other half, as 32-bit guests write
entries in two halves.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from capstone import x86_const as C

from hvcore.arch.x86 import paging as P
from hvcore.arch.x86.pv import emul_priv_op

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU

VMASST_TYPE_writable_pagetables = 2


def try_emulate(v: "VCPU", cr2: int, error_code: int) -> bool:
    """True if the fault was a page-table write we performed (RIP advanced)."""
    from hvcore.hypercalls import mm
    if not v.domain.vm_assist >> VMASST_TYPE_writable_pagetables & 1:
        return False
    if error_code & (P.PFEC_PRESENT | P.PFEC_WRITE) != (P.PFEC_PRESENT | P.PFEC_WRITE):
        return False
    insn = emul_priv_op.decode(v)
    if insn is None or insn.mnemonic != "mov" or len(insn.operands) != 2:
        return False
    dst, src = insn.operands
    if dst.type != C.X86_OP_MEM or dst.size not in (4, 8):
        return False
    try:
        paddr = v.translate(cr2)
    except P.PageFault:
        return False
    table = paddr & ~0xFFF
    if mm.page_types(v.domain).type_of(table >> 12) != 1:
        return False          # only L1 tables are emulated, as in Xen
    if src.type == C.X86_OP_IMM:
        value = src.imm & ((1 << (8 * dst.size)) - 1)
    elif src.type == C.X86_OP_REG:
        value = emul_priv_op.read_gpr(v, insn, src.reg) & ((1 << (8 * dst.size)) - 1)
    else:
        return False
    entry = paddr & ~7
    old = v.domain.mem.read_u64(entry)
    if dst.size == 4:
        shift = 8 * (paddr & 4)
        value = (old & ~(0xFFFFFFFF << shift)) | (value << shift)
    if mm.write_pte(v, entry, value) != 0:
        return False          # refused: the guest gets its #PF
    v.rip = v.rip + insn.size
    return True
