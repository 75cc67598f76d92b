"""Physical addresses with nothing behind them: reads give all ones, stores are dropped.

On a PC a load from an address no RAM, ROM or device decodes floats to all ones, and a
store goes nowhere; Xen gives an HVM guest the same for MMIO that no device model claims
(its null handler). Guests rely on it: memory probes write, read back and see no RAM;
a hostile guest that scans above its RAM for another domain's memory finds nothing.

The engine reports such an access as unmapped. Then (and only then: it costs a Python
call per access, which only odd or hostile guests pay) the page is mapped as MMIO whose
read callback answers all ones and whose write callback drops the value, and the access
is retried. The count of such pages per engine is bounded, so a guest that sweeps the
whole physical address space crashes with a report instead of growing the host.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from hvcore import engine as eng

PAGE = 0x1000
MAX_OPEN_BUS_PAGES = 1024
PHYS_LIMIT = 1 << 46                  # the engine's own pages live above (hvm/msr.HV_PAGES)


@dataclass
class OpenBus:
    """The open-bus pages of one engine."""
    engine: eng.Engine
    pages: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._read = self.engine._guarded(_read_all_ones, result=0)
        self._write = self.engine._guarded(_drop_store)

    def claim(self, address: int) -> bool:
        """Map the page of `address` as open bus; False when the bound is reached (the
        access then ends the run as unmapped, and the domain crashes with a report)."""
        page = address & ~(PAGE - 1)
        if page in self.pages or len(self.pages) >= MAX_OPEN_BUS_PAGES or page >= PHYS_LIMIT:
            return False
        self.engine.uc.mmio_map(page, PAGE, self._read, None, self._write, None)
        self.pages.add(page)
        return True


def _read_all_ones(_offset: int, size: int) -> int:
    return (1 << (8 * size)) - 1


def _drop_store(_offset: int, _size: int, _value: int) -> None:
    return None


def attach(engine: eng.Engine) -> OpenBus:
    """Give `engine` open-bus behaviour for every physical address nothing maps."""
    bus = OpenBus(engine)
    engine.on_unmapped = bus.claim
    return bus

