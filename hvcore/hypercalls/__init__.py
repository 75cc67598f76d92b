"""The hypercall table: the single place where hypercall numbers meet their handlers.

Each family lives in its own module and registers its handlers with `@hypercall(nr)`;
the handler's docstring gives Xen's C prototype. A handler takes the vCPU and the raw
argument registers and returns the value for RAX (a negative Xen errno on failure), or
`NO_RESULT` when it has set the guest's registers itself (iret).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from unicorn import x86_const as X

from hvcore.arch.x86 import paging
from hvcore.public import errno as E
from hvcore.public import xen as XEN

if TYPE_CHECKING:
    from hvcore.vcpu import VCPU

Handler = Callable[..., int]
TABLE: dict[int, Handler] = {}
NO_RESULT = object()

# RAX and the five arguments in one read (the 64-bit registers; 32-bit guests' values
# are masked below)
_CALL_REGS = {True: (X.UC_X86_REG_RAX, X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX,
                     X.UC_X86_REG_R10, X.UC_X86_REG_R8),
              False: (X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX,
                      X.UC_X86_REG_RSI, X.UC_X86_REG_RDI)}

FAMILIES = ("console_io", "sched_op", "xen_version", "traps", "callback", "stack",
            "iret", "mm", "memory_op", "vcpu_op", "timer", "physdev_op", "vm_assist",
            "segment", "descriptor", "multicall", "event_channel_op", "debugreg",
            "grant_table_op", "hvm_op")


# What an HVM (or PVH) guest may call: Xen's HVM hypercall table (hypercall-defs.c).
# The PV MMU, descriptor, trap-table, callback and iret calls are not in it (-ENOSYS),
# and neither is mmuext_op here: Xen offers HVM guests only its TLB-flush sub-ops.
HVM_HYPERCALLS = frozenset({
    XEN.HYPERVISOR_platform_op, XEN.HYPERVISOR_memory_op, XEN.HYPERVISOR_multicall,
    XEN.HYPERVISOR_set_timer_op, XEN.HYPERVISOR_xen_version, XEN.HYPERVISOR_console_io,
    XEN.HYPERVISOR_grant_table_op, XEN.HYPERVISOR_vcpu_op, XEN.HYPERVISOR_xsm_op,
    XEN.HYPERVISOR_sched_op, XEN.HYPERVISOR_event_channel_op, XEN.HYPERVISOR_physdev_op,
    XEN.HYPERVISOR_hvm_op, XEN.HYPERVISOR_sysctl, XEN.HYPERVISOR_domctl,
    XEN.HYPERVISOR_dm_op, XEN.HYPERVISOR_hypfs_op})


def hypercall(nr: int) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if nr in TABLE:
            raise RuntimeError(f"hypercall {nr} registered twice")
        TABLE[nr] = fn
        return fn
    return register


# Python files with more hypercall families, registered as ours are (`hv run --hypercalls
# FILE`, e.g. a lab's hypercall: labs/lab1_hypercall): paths separated by os.pathsep.
EXTRA_ENV = "HV_HYPERCALL_MODULES"


def load_families() -> None:
    for name in FAMILIES:
        importlib.import_module(f"hvcore.hypercalls.{name}")
    for path in filter(None, os.environ.get(EXTRA_ENV, "").split(os.pathsep)):
        load_extra(Path(path))


def load_extra(path: Path) -> None:
    """A hypercall family from a file outside the package: it registers with
    `@hypercall(nr)` when it is imported."""
    spec = importlib.util.spec_from_file_location(f"hvcore_extra_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path}: not a Python file")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


def call(v: "VCPU", nr: int, args: tuple[int, ...]):
    """Run hypercall `nr`; bad guest pointers give -EFAULT, unknown numbers -ENOSYS."""
    handler = TABLE.get(nr)
    if handler is None or (v.domain.hvm is not None and nr not in HVM_HYPERCALLS):
        return -E.ENOSYS
    try:
        return handler(v, *args)
    except paging.PageFault:
        return -E.EFAULT


_batches: dict[bool, object] = {}
_record_types: list = []


def _record_type():
    """hvcore.domain.HypercallRecord (imported once: hvcore.domain imports this package)."""
    if not _record_types:
        from hvcore.domain import HypercallRecord
        _record_types.append(HypercallRecord)
    return _record_types[0]


def dispatch(v: "VCPU") -> None:
    """Service the hypercall the guest just made (registers per Xen's ABI)."""
    is_64bit = v.domain.is_64bit
    batch = _batches.get(is_64bit)
    if batch is None:
        from hvcore.engine import RegisterBatch
        batch = _batches[is_64bit] = RegisterBatch(_CALL_REGS[is_64bit])
    values = v.engine.regs(batch)
    mask = (1 << 64) - 1 if is_64bit else 0xFFFFFFFF
    nr = values[0] & 0xFFFFFFFF
    args = tuple(values[1:]) if is_64bit else tuple(value & mask for value in values[1:])
    record = _record_type()(v.id, nr, XEN.hypercall_names.get(nr, f"#{nr}"), args)
    v.domain.hypercall_log.append(record)
    v.hypercalls_made += 1
    result = call(v, nr, args)
    if result is NO_RESULT:
        return
    record.result = result
    v.set_reg(X.UC_X86_REG_RAX, result & mask)


def sign(value: int, bits: int = 64) -> int:
    """Interpret a register value as signed (e.g. -1 meaning 'all' or DOMID_SELF)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


