"""A 16550A UART as COM1 (0x3F8-0x3FF, IRQ4): what is written to THR goes to the
domain's console stream at once (the line never holds a byte back); bytes from the
console (hv console / hv run's stdin) arrive in the 16-byte receive FIFO.

Registers: RBR/THR (0), IER (1), IIR/FCR (2), LCR (3), MCR (4), LSR (5), MSR (6),
SCR (7); with LCR.DLAB, 0 and 1 are the divisor latch. Interrupts (IER bit 0
received data, bit 1 THR empty) drive IRQ4 through MCR.OUT2, as on a PC.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from hvcore.hvm.platform import ConsoleSink, Device

COM1_BASE, COM1_IRQ = 0x3F8, 4
RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR = range(8)
LSR_DR, LSR_THRE, LSR_TEMT = 0x01, 0x20, 0x40
IER_RDA, IER_THRE = 0x01, 0x02
IIR_NONE, IIR_THRE, IIR_RDA, IIR_FIFO = 0x01, 0x02, 0x04, 0xC0
MCR_OUT2, MCR_LOOP = 0x08, 0x10
LCR_DLAB = 0x80
FIFO_SIZE = 16
READS_CAP = 1 << 16


@dataclass
class Uart16550(Device):
    console: ConsoleSink = field(default_factory=ConsoleSink)
    set_irq: Callable[[int, bool], None] = lambda irq, level: None
    base: int = COM1_BASE
    irq: int = COM1_IRQ
    name: str = "16550A"
    ier: int = 0
    lcr: int = 0x03
    mcr: int = 0
    scr: int = 0
    fcr: int = 0
    divisor: int = 12
    rx: deque = field(default_factory=deque)
    thre_pending: bool = False
    input_reads: int = 0            # LSR/RBR reads since THR was last written (capped)

    @property
    def receive_interrupts(self) -> bool:
        """The guest takes received bytes by interrupt (IER bit 0)."""
        return bool(self.ier & IER_RDA)

    @property
    def ports(self):
        return range(self.base, self.base + 8)

    _SAVED = ("ier", "lcr", "mcr", "scr", "fcr", "divisor", "thre_pending", "input_reads")

    def save(self) -> dict:
        return {**{name: getattr(self, name) for name in self._SAVED}, "rx": list(self.rx)}

    def load(self, state: dict) -> None:
        for name in self._SAVED:
            setattr(self, name, state.get(name, 0) if name == "input_reads" else state[name])
        self.rx = deque(state["rx"])

    def feed(self, data: bytes) -> int:
        """Console input; returns how many bytes the FIFO took."""
        room = max(0, FIFO_SIZE - len(self.rx))
        self.rx.extend(data[:room])
        self._update_irq()
        return min(room, len(data))

    def _interrupt_id(self) -> int:
        fifo = IIR_FIFO if self.fcr & 1 else 0
        if self.ier & IER_RDA and self.rx:
            return IIR_RDA | fifo
        if self.ier & IER_THRE and self.thre_pending:
            return IIR_THRE | fifo
        return IIR_NONE | fifo

    def _update_irq(self) -> None:
        asserted = not self._interrupt_id() & IIR_NONE and bool(self.mcr & MCR_OUT2)
        self.set_irq(self.irq, asserted)

    def io_read(self, port: int, size: int) -> int:
        reg = port - self.base
        if self.lcr & LCR_DLAB and reg in (RBR, IER):
            return (self.divisor >> (8 * reg)) & 0xFF
        if reg in (RBR, LSR) and self.input_reads < READS_CAP:
            self.input_reads += 1     # a guest polling for input (domain.route_input)
        if reg == RBR:
            value = self.rx.popleft() if self.rx else 0
            self._update_irq()
            return value
        if reg == IER:
            return self.ier
        if reg == IIR:
            iid = self._interrupt_id()
            if iid & 0x0F == IIR_THRE:
                self.thre_pending = False     # reading IIR clears a THRE interrupt
                self._update_irq()
            return iid
        if reg == LCR:
            return self.lcr
        if reg == MCR:
            return self.mcr
        if reg == LSR:
            return LSR_THRE | LSR_TEMT | (LSR_DR if self.rx else 0)
        if reg == MSR:
            return 0xB0 if not self.mcr & MCR_LOOP else (self.mcr & 0x0F) << 4
        return self.scr

    def io_write(self, port: int, size: int, value: int) -> None:
        reg, value = port - self.base, value & 0xFF
        if self.lcr & LCR_DLAB and reg in (RBR, IER):
            shift = 8 * reg
            self.divisor = (self.divisor & ~(0xFF << shift)) | (value << shift)
            return
        if reg == RBR:
            if self.mcr & MCR_LOOP:
                self.rx.append(value)
            else:
                self.console.write(bytes([value]))
            self.thre_pending = True
            self.input_reads = 0          # LSR read for THRE: a guest transmitting
        elif reg == IER:
            self.ier = value & 0x0F
            self.thre_pending = bool(value & IER_THRE)
        elif reg == IIR:
            self.fcr = value
            if value & 2:
                self.rx.clear()
        elif reg == LCR:
            self.lcr = value
        elif reg == MCR:
            self.mcr = value & 0x1F
        elif reg == SCR:
            self.scr = value
        self._update_irq()
