"""The 8259A programmable interrupt controller pair (master 0x20/0x21, slave
0xA0/0xA1 cascaded on master IR2), edge triggered, fully nested fixed priority.

Initialisation: ICW1 (bit 4 set, to the command port), ICW2 vector base, ICW3
cascade, ICW4 if ICW1 bit 0 (bit 1: automatic EOI). Then the data port is the mask
(OCW1); commands are OCW2 (EOI: 0x20 non-specific, 0x60|n specific) and OCW3
(0x0A: read IRR, 0x0B: read ISR next).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from hvcore.hvm.platform import Device

MASTER, SLAVE = 0x20, 0xA0
CASCADE_IRQ = 2


@dataclass
class Chip:
    base: int
    vector_base: int = 0
    irr: int = 0
    isr: int = 0
    imr: int = 0xFF
    lines: int = 0           # input levels, for edge detection
    init_step: int = 0       # 0: ready; 2..4: expecting ICW2..ICW4
    needs_icw4: bool = False
    auto_eoi: bool = False
    read_isr: bool = False

    def set_line(self, n: int, level: bool) -> None:
        bit = 1 << n
        if level and not self.lines & bit:
            self.irr |= bit
        self.lines = (self.lines | bit) if level else (self.lines & ~bit)

    def highest(self, bits: int) -> int | None:
        for n in range(8):
            if bits & (1 << n):
                return n
        return None

    def pending(self) -> int | None:
        """The IR line the chip would raise INTR for, honouring nested priority."""
        n = self.highest(self.irr & ~self.imr)
        if n is None:
            return None
        in_service = self.highest(self.isr)
        return n if in_service is None or n < in_service else None

    def command(self, value: int) -> None:
        if value & 0x10:                       # ICW1
            self.init_step, self.needs_icw4 = 2, bool(value & 1)
            self.imr, self.isr, self.irr, self.auto_eoi = 0, 0, 0, False
        elif value & 0x18 == 0x08:             # OCW3
            if value & 2:
                self.read_isr = bool(value & 1)
        else:                                  # OCW2
            if value & 0xE0 == 0x20:           # non-specific EOI
                n = self.highest(self.isr)
                if n is not None:
                    self.isr &= ~(1 << n)
            elif value & 0xE0 == 0x60:         # specific EOI
                self.isr &= ~(1 << (value & 7))

    def data(self, value: int) -> None:
        if self.init_step == 2:
            self.vector_base = value & 0xF8
            self.init_step = 3
        elif self.init_step == 3:
            self.init_step = 4 if self.needs_icw4 else 0
        elif self.init_step == 4:
            self.auto_eoi = bool(value & 2)
            self.init_step = 0
        else:
            self.imr = value

    def acknowledge(self, n: int) -> None:
        self.irr &= ~(1 << n)
        if not self.auto_eoi:
            self.isr |= 1 << n


@dataclass
class Pic8259Pair(Device):
    name: str = "8259A"
    master: Chip = field(default_factory=lambda: Chip(MASTER))
    slave: Chip = field(default_factory=lambda: Chip(SLAVE))

    @property
    def ports(self):
        return (MASTER, MASTER + 1, SLAVE, SLAVE + 1)

    def set_irq(self, irq: int, level: bool) -> None:
        if irq >= 8:
            self.slave.set_line(irq - 8, level)
        else:
            self.master.set_line(irq, level)
        self._cascade()

    def _cascade(self) -> None:
        self.master.set_line(CASCADE_IRQ, self.slave.pending() is not None)

    def intr_pending(self) -> bool:
        return self.master.pending() is not None

    def acknowledge(self) -> int:
        """INTA: the vector of the highest-priority request (spurious IR7 if none)."""
        n = self.master.pending()
        if n is None:
            return self.master.vector_base | 7
        self.master.acknowledge(n)
        if n != CASCADE_IRQ:
            return self.master.vector_base | n
        s = self.slave.pending()
        if s is None:
            self._cascade()
            return self.slave.vector_base | 7
        self.slave.acknowledge(s)
        self._cascade()
        return self.slave.vector_base | s

    def save(self) -> dict:
        return {"master": asdict(self.master), "slave": asdict(self.slave)}

    def load(self, state: dict) -> None:
        self.master, self.slave = Chip(**state["master"]), Chip(**state["slave"])

    def io_read(self, port: int, size: int) -> int:
        chip = self.master if port < SLAVE else self.slave
        if port & 1:
            return chip.imr
        return chip.isr if chip.read_isr else chip.irr

    def io_write(self, port: int, size: int, value: int) -> None:
        chip = self.master if port < SLAVE else self.slave
        if port & 1:
            chip.data(value & 0xFF)
        else:
            chip.command(value & 0xFF)
        self._cascade()
