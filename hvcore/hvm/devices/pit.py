"""The 8254 programmable interval timer (ports 0x40-0x43) at 1.193182 MHz, counting
in host time; channel 0's output edge is IRQ0. Port 0x61 bit 0 gates channel 2 and
bit 5 reads its output (how firmware and kernels time short delays).

Modes: 0 (interrupt on terminal count, one shot), 2 (rate generator) and 3 (square
wave) periodic; 1, 4, 5 count like 0. A count of 0 means 65536. Access modes
lobyte, hibyte, lobyte then hibyte; the latch command freezes a count for reading.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from hvcore.hvm.platform import Device

FREQUENCY_HZ = 1_193_182
PORT_BASE, PORT_CONTROL, PORT_B = 0x40, 0x43, 0x61
TIMER_IRQ = 0


@dataclass
class Channel:
    mode: int = 0
    access: int = 3           # 1 lobyte, 2 hibyte, 3 lo then hi
    reload: int = 0x10000
    start: float | None = None   # when counting began (None: not counting)
    write_low: int | None = None
    read_high_next: bool = False
    latched: int | None = None
    fired: int = 0            # periods whose IRQ was raised

    def period(self) -> float:
        return self.reload / FREQUENCY_HZ

    def count_at(self, now: float) -> int:
        if self.start is None:
            return self.reload & 0xFFFF
        ticks = int((now - self.start) * FREQUENCY_HZ)
        if self.mode in (2, 3):
            return (self.reload - ticks % self.reload) & 0xFFFF
        return max(0, self.reload - ticks) & 0xFFFF

    def output_at(self, now: float) -> bool:
        if self.start is None:
            return False
        elapsed = now - self.start
        if self.mode == 3:
            return (elapsed % self.period()) < self.period() / 2
        return elapsed >= self.period()

    def next_edge(self) -> float | None:
        if self.start is None:
            return None
        if self.mode in (2, 3):
            return self.start + (self.fired + 1) * self.period()
        return self.start + self.period() if self.fired == 0 else None


@dataclass
class Pit8254(Device):
    raise_irq: Callable[[int], None] = lambda irq: None
    clock: Callable[[], float] = time.monotonic
    name: str = "8254"
    channels: list[Channel] = field(default_factory=lambda: [Channel() for _ in range(3)])
    gate2: bool = False
    port_b: int = 0

    @property
    def ports(self):
        return (PORT_BASE, PORT_BASE + 1, PORT_BASE + 2, PORT_CONTROL, PORT_B)

    # ---- timer --------------------------------------------------------------------
    def deadline(self) -> float | None:
        return self.channels[0].next_edge()

    def tick(self, now: float) -> None:
        """One IRQ0 edge for the periods elapsed (missed ticks are not replayed)."""
        ch = self.channels[0]
        edge = ch.next_edge()
        if edge is None or edge > now:
            return
        if ch.mode in (2, 3):
            ch.fired = max(ch.fired + 1, int((now - ch.start) / ch.period()))
        else:
            ch.fired = 1
        self.raise_irq(TIMER_IRQ)

    # ---- snapshots: counting start times as seconds before the save ----------------
    def save(self) -> dict:
        now = self.clock()
        channels = []
        for ch in self.channels:
            state = asdict(ch)
            state["start"] = None if ch.start is None else ch.start - now
            channels.append(state)
        return {"channels": channels, "gate2": self.gate2, "port_b": self.port_b}

    def load(self, state: dict) -> None:
        now = self.clock()
        self.channels = []
        for saved in state["channels"]:
            ch = Channel(**saved)
            ch.start = None if ch.start is None else now + ch.start
            self.channels.append(ch)
        self.gate2, self.port_b = state["gate2"], state["port_b"]

    # ---- ports ----------------------------------------------------------------------
    def io_read(self, port: int, size: int) -> int:
        now = self.clock()
        if port == PORT_B:
            out = self.channels[2].output_at(now) if self.gate2 else False
            return (self.port_b & 0x0F) | (0x20 if out else 0)
        if port == PORT_CONTROL:
            return 0xFF
        ch = self.channels[port - PORT_BASE]
        value = ch.latched if ch.latched is not None else ch.count_at(now)
        if ch.access == 1:
            ch.latched = None
            return value & 0xFF
        if ch.access == 2:
            ch.latched = None
            return value >> 8
        if ch.read_high_next:
            ch.read_high_next, ch.latched = False, None
            return value >> 8
        ch.read_high_next = True
        if ch.latched is None:
            ch.latched = value
        return value & 0xFF

    def io_write(self, port: int, size: int, value: int) -> None:
        value &= 0xFF
        if port == PORT_B:
            self.port_b = value
            self.gate2 = bool(value & 1)
            if self.gate2:
                self.channels[2].start = self.clock()
                self.channels[2].fired = 0
            return
        if port == PORT_CONTROL:
            self._control(value)
            return
        ch = self.channels[port - PORT_BASE]
        if ch.access == 3 and ch.write_low is None:
            ch.write_low = value
            return
        if ch.access == 1:
            count = value
        elif ch.access == 2:
            count = value << 8
        else:
            count, ch.write_low = ch.write_low | (value << 8), None
        ch.reload = count or 0x10000
        ch.start, ch.fired = self.clock(), 0

    def _control(self, value: int) -> None:
        index = value >> 6
        if index == 3:
            return                       # read-back command: not supported
        ch = self.channels[index]
        access = (value >> 4) & 3
        if access == 0:                  # counter latch
            ch.latched = ch.count_at(self.clock())
            return
        ch.access, ch.mode = access, (value >> 1) & 7
        if ch.mode > 5:
            ch.mode -= 4                 # 6 and 7 are 2 and 3
        ch.write_low, ch.latched, ch.read_high_next, ch.start = None, None, False, None
