"""`hv trace diff A B`: do two traces hold the same events, host time aside?

Two `hv run --deterministic` runs of one guest with the same input execute the same
instructions, hypercalls and events in the same order; only the host's clock differs
(each record's time stamp, and the durations of hypercalls, traps and vCPU runs, which
are host time spent in the hypervisor). Those fields are left out of the comparison,
everything else counts: kinds, vCPUs, arguments, results, addresses, instruction bytes.
"""
from __future__ import annotations

from itertools import zip_longest
from typing import Iterator, TextIO

from hvcore.trace import format as fmt
from hvcore.trace.reader import Event, TraceFile
from hvcore.trace.show import describe

# where the host-time duration sits in each kind's fields
_DURATION_FIELD = {fmt.HYPERCALL: 1, fmt.TRAP: 2, fmt.SCHED: 1}
_HOST_KEYS = {"pid"}                 # in the domain record: the host's, not the guest's


def comparable(e: Event) -> tuple:
    """The event without its host-time fields."""
    fields = list(e.fields)
    at = _DURATION_FIELD.get(e.kind)
    if at is not None and at < len(fields):
        fields[at] = 0
    code = (e.code.address, e.code.data) if e.code is not None else None
    return e.kind, e.domid, e.vcpu, tuple(fields), code, sorted((k, v) for k, v in e.info.items() if k not in _HOST_KEYS)


def _events(trace: TraceFile) -> Iterator[Event]:
    return iter(trace.events())


def diff(a: TraceFile, b: TraceFile, out: TextIO) -> int:
    """0 when the traces match, 1 (and the first difference) when they do not."""
    count = 0
    for ea, eb in zip_longest(_events(a), _events(b)):
        if ea is None or eb is None or comparable(ea) != comparable(eb):
            out.write(f"traces differ at event {count}:\n"
                      f"  A: {describe(ea) if ea is not None else '(ended)'}\n"
                      f"  B: {describe(eb) if eb is not None else '(ended)'}\n")
            return 1
        count += 1
    out.write(f"traces match: {count} events (host-time fields aside)\n")
    return 0
