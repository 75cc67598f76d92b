"""Guest memory as gdb sees it: virtual addresses through the vCPU's page tables.

Reads and writes go with supervisor rights and ignore write protection, so gdb can
patch code (read-only in the guest's tables); translated code for what was written is
dropped from every vCPU's engine. A 64-bit PV vCPU in user mode runs on the user page
tables, which need not map the kernel: its kernel tables are tried as well.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from hvcore.arch.x86 import paging
from hvcore.arch.x86.pv import layout
from hvcore.memory import BadAddress

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU


class Unmapped(Exception):
    """Nothing the guest could reach at that address."""


def paddr(v: "VCPU", va: int) -> int:
    """The guest-physical address behind `va` (Unmapped if none)."""
    if not v.is_64bit:
        va &= 0xFFFFFFFF
    va = paging.canonical(va)
    if v.is_64bit and layout.HYPERVISOR_VIRT_START <= va < layout.HYPERVISOR_VIRT_END:
        raise Unmapped(va)                      # Xen's area: never the guest's
    tables = [v.cr3]
    if v.is_64bit and v.state.guest_table and v.state.guest_table != v.cr3:
        tables.append(v.state.guest_table)
    for table in tables:
        try:
            return paging.walk(v.domain.mem, table, va, paging.ACCESS_READ, user=False).paddr
        except paging.PageFault:
            continue
    raise Unmapped(va)


def pieces(va: int, length: int):
    """(address, length) of the parts of [va, va+length) on each page."""
    while length > 0:
        chunk = min(length, 4096 - (va & 0xFFF))
        yield va, chunk
        va += chunk
        length -= chunk


def read(v: "VCPU", va: int, length: int, translate=paddr) -> bytes:
    """As much as is mapped from `va` on (gdb accepts a short read); Unmapped if none.
    `translate(v, va)`: the physical address (an HVM vCPU's is hvcore/gdb/hvm.py's)."""
    out = bytearray()
    for at, chunk in pieces(va, length):
        try:
            out += v.domain.mem.read(translate(v, at), chunk)
        except (Unmapped, BadAddress):
            if not out:
                raise Unmapped(va)
            break
    return bytes(out)


def write(v: "VCPU", va: int, data: bytes, translate=paddr) -> None:
    paddrs = []
    for at, chunk in pieces(va, len(data)):
        try:
            paddrs.append((translate(v, at), chunk))
        except Unmapped:
            raise Unmapped(at)
    pos = 0
    try:
        for at, chunk in paddrs:
            v.domain.mem.write(at, data[pos:pos + chunk])
            pos += chunk
    except BadAddress:
        raise Unmapped(va + pos)
    for other in v.domain.vcpus:
        other.engine.drop_code_cache(va, va + len(data))
