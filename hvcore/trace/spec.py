"""`--trace SPEC`: what to trace, parsed once in `hv` (bad input: one line, exit 2) and
again in each domain process, which keeps the items meant for it.

    SPEC   := ITEM ("," ITEM)*
    ITEM   := KIND [":" FILTER] ["@" DOMAIN]
    KIND   := insn | block | hypercall | trap | evtchn | io | mmu | sched
              | all (every kind but insn and block)
    FILTER := insn, block: START-END (end excluded) or a symbol of the guest ELF
              hypercall: a name (sched_op) or number; trap: a vector (14) or name (pf)
              evtchn: a port; io: a port or START-END
    DOMAIN := a domain id or name (default: every domain traced)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvcore.public import xen as XEN

KINDS = ("insn", "block", "hypercall", "trap", "evtchn", "io", "mmu", "sched")
CHEAP_KINDS = KINDS[2:]
TRAP_NAMES = {"de": 0, "db": 1, "nmi": 2, "bp": 3, "of": 4, "br": 5, "ud": 6, "nm": 7,
              "df": 8, "ts": 10, "np": 11, "ss": 12, "gp": 13, "pf": 14, "mf": 16,
              "ac": 17, "mc": 18, "xm": 19}
_SYMBOL = re.compile(r"[A-Za-z_.$][\w.$]*\Z")
_ITEM = re.compile(r"(?P<kind>\w+)(?::(?P<filter>[^@]+))?(?:@(?P<domain>[\w.-]+))?\Z")


class SpecError(Exception):
    """A SPEC that cannot be used (the message says where)."""


@dataclass(frozen=True)
class Item:
    kind: str
    filter: str | None = None
    domain: str | None = None


@dataclass
class DomainSpec:
    """What one domain traces. A None filter set means: everything of that kind."""
    kinds: set[str] = field(default_factory=set)
    code_ranges: dict[str, list[tuple[int, int]] | None] = field(default_factory=dict)
    code_symbols: dict[str, list[str]] = field(default_factory=dict)
    hypercalls: set[int] | None = None
    vectors: set[int] | None = None
    ports: set[int] | None = None
    io_ports: list[tuple[int, int]] | None = None


def parse(text: str) -> list[Item]:
    items = []
    for part in text.split(","):
        m = _ITEM.match(part.strip())
        if not m or m["kind"] not in KINDS + ("all",):
            raise SpecError(f"bad trace item {part.strip()!r} (kinds: {', '.join(KINDS)}, all)")
        if m["kind"] == "all" and m["filter"]:
            raise SpecError(f"{part.strip()!r}: 'all' takes no filter")
        kinds = CHEAP_KINDS if m["kind"] == "all" else (m["kind"],)
        for kind in kinds:
            item = Item(kind, m["filter"], m["domain"])
            _check_filter(item)
            items.append(item)
    return items


def for_domain(items: list[Item], domid: int, name: str) -> DomainSpec | None:
    """The items that apply to this domain, merged; None when it traces nothing.
    Filters of one kind add up; an item of that kind without a filter takes all."""
    filters: dict[str, list[str] | None] = {}
    for item in items:
        if item.domain is not None and item.domain not in (str(domid), name):
            continue
        seen = filters.setdefault(item.kind, [])
        if item.filter is None or seen is None:
            filters[item.kind] = None
        else:
            seen.append(item.filter)
    if not filters:
        return None
    spec = DomainSpec(kinds=set(filters))
    for kind, values in filters.items():
        _merge(spec, kind, values)
    return spec


def _merge(spec: DomainSpec, kind: str, values: list[str] | None) -> None:
    if kind in ("insn", "block"):
        if values is None:
            spec.code_ranges[kind] = None          # the whole address space
            return
        spec.code_ranges[kind] = [parse_range(v) for v in values if not _SYMBOL.match(v)]
        spec.code_symbols[kind] = [v for v in values if _SYMBOL.match(v)]
    elif values is not None and kind == "hypercall":
        spec.hypercalls = {hypercall_number(v) for v in values}
    elif values is not None and kind == "trap":
        spec.vectors = {vector_number(v) for v in values}
    elif values is not None and kind == "evtchn":
        spec.ports = {_port(v) for v in values}
    elif values is not None and kind == "io":
        spec.io_ports = [parse_range(v, 1) for v in values]


def parse_range(text: str, single_width: int | None = None) -> tuple[int, int]:
    """"START-END" (END excluded), or one number when `single_width` is given."""
    start, sep, end = text.partition("-")
    try:
        if not sep and single_width is not None:
            return int(start, 0), int(start, 0) + single_width
        lo, hi = int(start, 0), int(end, 0)
    except ValueError:
        raise SpecError(f"bad address range {text!r} (START-END, e.g. 0x1000-0x2000)") from None
    if hi <= lo:
        raise SpecError(f"empty address range {text!r}")
    return lo, hi


def hypercall_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    for nr, name in XEN.hypercall_names.items():
        if name == text:
            return nr
    raise SpecError(f"unknown hypercall {text!r}")


def vector_number(text: str) -> int:
    if text.lower() in TRAP_NAMES:
        return TRAP_NAMES[text.lower()]
    try:
        vector = int(text, 0)
    except ValueError:
        raise SpecError(f"unknown trap {text!r} (a vector number, or pf, gp, ud...)") from None
    if not 0 <= vector < 256:
        raise SpecError(f"trap vector out of range: {text!r}")
    return vector


def _check_filter(item: Item) -> None:
    kind, flt = item.kind, item.filter
    if flt is None:
        return
    if kind in ("mmu", "sched"):
        raise SpecError(f"{kind}: takes no filter (got {flt!r})")
    if kind in ("insn", "block") and not _SYMBOL.match(flt):
        parse_range(flt)
    elif kind == "hypercall":
        hypercall_number(flt)
    elif kind == "trap":
        vector_number(flt)
    elif kind == "io":
        parse_range(flt, 1)
    elif kind == "evtchn":
        _port(flt)


def _port(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise SpecError(f"bad event channel port {text!r}") from None
