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

_ARGS_64 = (X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX, X.UC_X86_REG_R10,
            X.UC_X86_REG_R8)
_ARGS_32 = (X.UC_X86_REG_EBX, X.UC_X86_REG_ECX, X.UC_X86_REG_EDX, X.UC_X86_REG_ESI,
            X.UC_X86_REG_EDI)

FAMILIES = ("console_io", "sched_op", "xen_version", "traps", "callback", "stack",
            "iret", "mm", "memory_op", "vcpu_op", "timer", "physdev_op", "vm_assist",
            "segment", "descriptor", "multicall", "event_channel_op", "debugreg",
            "grant_table_op")


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
    if handler is None:
        return -E.ENOSYS
    try:
        return handler(v, *args)
    except paging.PageFault:
        return -E.EFAULT


def dispatch(v: "VCPU") -> None:
    """Service the hypercall the guest just made (registers per Xen's ABI)."""
    from hvcore.domain import HypercallRecord
    nr = v.reg(X.UC_X86_REG_RAX) & 0xFFFFFFFF
    regs = _ARGS_64 if v.is_64bit else _ARGS_32
    mask = (1 << 64) - 1 if v.is_64bit else 0xFFFFFFFF
    args = tuple(v.reg(r) & mask for r in regs)
    record = HypercallRecord(v.id, nr, XEN.hypercall_names.get(nr, f"#{nr}"), args)
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


