"""The I/O APIC (82093AA, at FEC00000): 24 redirection entries that turn the ISA IRQ
lines into messages on the APIC bus.

IOREGSEL (offset 00) selects a register, IOWIN (offset 10) reads and writes it:
00 ID (bits 24-27), 01 version (0x00170011: version 11h, 24 entries), 02 arbitration,
10h + 2n / 11h + 2n redirection entry n low / high. Entry: vector 0-7, delivery mode
8-10, logical destination 11, delivery status 12, polarity 13 (1: active low), remote
IRR 14, trigger 15 (1: level), mask 16, destination 56-63.

IOWIN is kept showing the selected register (the page is plain memory to the guest), so
reading it costs no Python call; writes come through the page's write hook. ISA IRQ 0
(the 8254) is wired to pin 2, as the MP table and the MADT's override say; the other
ISA IRQs to the pin of the same number.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hvcore.hvm.apic_bus import ApicBus
from hvcore.hvm.mmio import MmioPage
from hvcore.hvm.platform import Device

IOAPIC_BASE = 0xFEC00000
IOREGSEL, IOWIN = 0x00, 0x10
VERSION = 0x00170011
PINS = 24
MASKED = 1 << 16
LEVEL = 1 << 15
REMOTE_IRR = 1 << 14
ACTIVE_LOW = 1 << 13
LOGICAL = 1 << 11
WRITABLE = 0xFF000000_0001AFFF     # delivery status and remote IRR are read-only


def isa_pin(irq: int) -> int:
    return 2 if irq == 0 else irq


@dataclass
class IoApic(Device):
    bus: ApicBus
    apic_id: int = 0
    page: MmioPage = field(default_factory=lambda: MmioPage(IOAPIC_BASE))
    name: str = "ioapic"
    select: int = 0
    entries: list[int] = field(default_factory=lambda: [MASKED] * PINS)
    inputs: list[bool] = field(default_factory=lambda: [False] * PINS)
    dirty: bool = False
    wake: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        self.bus.ioapic_eoi = self.eoi
        self._show()

    @property
    def ports(self):
        return ()

    def save(self) -> dict:
        return {"apic_id": self.apic_id, "select": self.select, "entries": self.entries,
                "inputs": self.inputs}

    def load(self, state: dict) -> None:
        self.apic_id, self.select = state["apic_id"], state["select"]
        self.entries, self.inputs = list(state["entries"]), list(state["inputs"])
        self._show()

    def register(self, index: int) -> int:
        if index == 0:
            return (self.apic_id & 0xF) << 24
        if index == 1:
            return VERSION
        if index == 2:
            return (self.apic_id & 0xF) << 24
        if 0x10 <= index < 0x10 + 2 * PINS:
            entry = self.entries[(index - 0x10) >> 1]
            return entry >> 32 if index & 1 else entry & 0xFFFFFFFF
        return 0

    def _show(self) -> None:
        self.page.write32(IOREGSEL, self.select)
        self.page.write32(IOWIN, self.register(self.select))
        self.dirty = False

    def mmio_write(self, offset: int, size: int, value: int) -> None:
        if offset == IOREGSEL:
            self.select = value & 0xFF
            self.page.write32(IOWIN, self.register(self.select))
            return
        if offset == IOWIN:
            self._write_register(self.select, value)
            self.page.write32(IOWIN, self.register(self.select))
            self.dirty = self.register(self.select) != value
        else:
            self.dirty = True
        if self.dirty:
            self.wake()

    def _write_register(self, index: int, value: int) -> None:
        if index == 0:
            self.apic_id = (value >> 24) & 0xF
        elif 0x10 <= index < 0x10 + 2 * PINS:
            pin = (index - 0x10) >> 1
            old = self.entries[pin]
            shift = 32 if index & 1 else 0
            new = (old & ~(0xFFFFFFFF << shift)) | (value << shift)
            self.entries[pin] = (new & WRITABLE) | (old & ~WRITABLE)
            self._service(pin)

    # ---- the lines ---------------------------------------------------------------------
    def set_irq(self, irq: int, level: bool) -> None:
        """An ISA line from IrqLines (active high, as ISA devices drive them)."""
        self.set_pin(isa_pin(irq), level)

    def set_pin(self, pin: int, level: bool) -> None:
        if pin >= PINS:
            return
        entry = self.entries[pin]
        asserted = level != bool(entry & ACTIVE_LOW)
        rising = asserted and not self.inputs[pin]
        self.inputs[pin] = asserted
        if entry & LEVEL:
            self._service(pin)
            self.page.write32(IOWIN, self.register(self.select))
        elif rising and not entry & MASKED:
            self._send(pin)

    def _service(self, pin: int) -> None:
        """A level-triggered pin asserted, unmasked and not awaiting EOI: send again."""
        entry = self.entries[pin]
        if entry & LEVEL and self.inputs[pin] and not entry & (MASKED | REMOTE_IRR):
            self.entries[pin] |= REMOTE_IRR
            self._send(pin)

    def _send(self, pin: int) -> None:
        entry = self.entries[pin]
        targets = self.bus.destinations(entry >> 56, bool(entry & LOGICAL))
        self.bus.deliver(targets, (entry >> 8) & 7, entry & 0xFF, level=bool(entry & LEVEL))

    def eoi(self, vector: int) -> None:
        for pin, entry in enumerate(self.entries):
            if entry & REMOTE_IRR and entry & 0xFF == vector:
                self.entries[pin] = entry & ~REMOTE_IRR
                self._service(pin)
        self.page.write32(IOWIN, self.register(self.select))
