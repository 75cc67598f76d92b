"""MMU records: the requests of mmu_update, update_va_mapping and mmuext_op, read from
the guest's arguments once the hypercall is done (each gets the call's result)."""
from __future__ import annotations

import struct

from hvcore.arch.x86 import paging
from hvcore.public import xen as XEN

MAX_ENTRIES = 1024               # per hypercall; the rest is counted in the hypercall record
MMU_HYPERCALLS = frozenset({XEN.HYPERVISOR_mmu_update, XEN.HYPERVISOR_update_va_mapping,
                            XEN.HYPERVISOR_mmuext_op})
_COUNT_MASK = 0x7FFFFFFF         # MMU_UPDATE_PREEMPTED is the top bit of the count


def requests(v, nr: int, args: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """(op, a, b) per request; op as format.MMU_OPS."""
    try:
        if nr == XEN.HYPERVISOR_mmu_update:
            return _array(v, 1, args[0], args[1], 16, "<QQ")
        if nr == XEN.HYPERVISOR_update_va_mapping:
            val = args[1] if v.is_64bit else args[1] | args[2] << 32
            return [(2, args[0], val)]
        if v.is_64bit:
            return [(3, cmd, arg1) for _, cmd, arg1 in _array(v, 3, args[0], args[1], 24, "<I4xQ8x")]
        return [(3, cmd, arg1) for _, cmd, arg1 in _array(v, 3, args[0], args[1], 12, "<II4x")]
    except paging.PageFault:
        return []


def _array(v, op: int, va: int, count: int, size: int, layout: str) -> list[tuple[int, int, int]]:
    count = min(count & _COUNT_MASK, MAX_ENTRIES)
    data = v.read_virt(va, count * size) if count else b""
    return [(op, *struct.unpack_from(layout, data, i * size)) for i in range(count)]
