"""The APIC bus of one domain: the vCPUs' local APICs and the IOAPIC, and how a message
(an IPI from an ICR write, an IOAPIC redirection) finds its destinations (Intel SDM
vol. 3 10.6: physical and logical destination mode, flat and cluster models, the
self / all / all-but-self shorthands, lowest priority as the lowest-numbered APIC that
can take it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from hvcore.hvm.devices.lapic import (DM_EXTINT, DM_FIXED, DM_INIT, DM_LOWEST, DM_NMI,
                                      DM_STARTUP, ESR_SEND_ILLEGAL, ICR_LEVEL_ASSERT,
                                      ICR_LEVEL_TRIGGER, ICR_LOGICAL, LocalApic)

if TYPE_CHECKING:
    from hvcore.hvm.devices.pic import Pic8259Pair

BROADCAST = 0xFF
SELF, ALL, ALL_BUT_SELF = 1, 2, 3


@dataclass
class ApicBus:
    pic: "Pic8259Pair"
    lapics: list[LocalApic] = field(default_factory=list)
    on_init: Callable[[int], None] = lambda index: None       # vCPU index: INIT
    on_startup: Callable[[int, int], None] = lambda index, vector: None
    ioapic_eoi: Callable[[int], None] = lambda vector: None

    def add(self, lapic: LocalApic) -> int:
        self.lapics.append(lapic)
        return len(self.lapics) - 1

    def destinations(self, dest: int, logical: bool) -> list[LocalApic]:
        if not logical:
            return [a for a in self.lapics if dest == BROADCAST or a.apic_id == dest]
        return [a for a in self.lapics if _logical_match(a, dest)]

    def send_ipi(self, source: LocalApic, icr_low: int, dest: int) -> None:
        shorthand = (icr_low >> 18) & 3
        if shorthand == SELF:
            targets = [source]
        elif shorthand == ALL:
            targets = list(self.lapics)
        elif shorthand == ALL_BUT_SELF:
            targets = [a for a in self.lapics if a is not source]
        else:
            targets = self.destinations(dest, bool(icr_low & ICR_LOGICAL))
        mode, vector = (icr_low >> 8) & 7, icr_low & 0xFF
        if mode in (DM_FIXED, DM_LOWEST) and vector < 16:
            source._error(ESR_SEND_ILLEGAL)
            return
        if mode == DM_INIT and not icr_low & ICR_LEVEL_ASSERT and icr_low & ICR_LEVEL_TRIGGER:
            return                       # INIT level de-assert: nothing to do on xAPIC
        self.deliver(targets, mode, vector, level=False)

    def deliver(self, targets: list[LocalApic], mode: int, vector: int, level: bool) -> None:
        if mode == DM_LOWEST and targets:
            targets = [min(targets, key=lambda a: (a.tpr, a.apic_id))]
        for lapic in targets:
            if mode in (DM_FIXED, DM_LOWEST):
                lapic.accept(vector, level)
            elif mode == DM_NMI:
                lapic.nmi()
            elif mode == DM_INIT:
                self.on_init(self.lapics.index(lapic))
            elif mode == DM_STARTUP:
                self.on_startup(self.lapics.index(lapic), vector)
            elif mode == DM_EXTINT:
                pass                     # the 8259A reaches LINT0 by its own wire

    def eoi(self, vector: int) -> None:
        """A level-triggered interrupt's EOI, broadcast to the IOAPIC."""
        self.ioapic_eoi(vector)


def _logical_match(lapic: LocalApic, dest: int) -> bool:
    if dest == BROADCAST:
        return True
    ldr = lapic.ldr >> 24
    if lapic.dfr >> 28 == 0xF:                     # flat model: a bit per APIC
        return bool(ldr & dest)
    return (ldr >> 4) == (dest >> 4) and bool(ldr & dest & 0xF)   # cluster model
