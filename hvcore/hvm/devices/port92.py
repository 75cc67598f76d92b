"""System control port A (92h, the PS/2 "fast A20" port, as in Intel's PIIX/ICH).

Bit 0: alternate fast reset, a write of 1 resets the system (the domain stops as a
reboot); it reads back as written until then. Bit 1: alternate A20 gate; the chipset
ORs it with the 8042's A20GATE output, so A20 is off only when both are 0. Bit 3 (the
password lock) is kept; the other bits read 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hvcore.hvm.platform import Device

PORT = 0x92
FAST_RESET, ALT_A20, LOCK = 0x01, 0x02, 0x08


@dataclass
class SystemControlA(Device):
    reset_system: Callable[[], None] = lambda: None
    a20_changed: Callable[[], None] = lambda: None
    name: str = "port92"
    value: int = 0

    @property
    def ports(self):
        return (PORT,)

    @property
    def a20(self) -> bool:
        return bool(self.value & ALT_A20)

    def save(self) -> dict:
        return {"value": self.value}

    def load(self, state: dict) -> None:
        self.value = state["value"]         # the domain applies A20 once all are loaded

    def io_read(self, port: int, size: int) -> int:
        return self.value

    def io_write(self, port: int, size: int, value: int) -> None:
        was = self.a20
        self.value = value & (FAST_RESET | ALT_A20 | LOCK)
        if self.a20 != was:
            self.a20_changed()
        if value & FAST_RESET:
            self.reset_system()
