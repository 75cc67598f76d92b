"""The MC146818 real-time clock and CMOS RAM (index 0x70, bit 7 = NMI mask; data 0x71).

The clock reads host UTC time, in BCD unless register B bit 2 asks for binary,
24-hour unless register B bit 1 is clear. CMOS bytes the firmware reads: base memory
(0x15/0x16, KiB), memory 1-64 MiB (0x17/0x18 and 0x30/0x31, KiB), memory above
16 MiB (0x34/0x35, 64 KiB units), century (0x32), shutdown status (0x0F).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from hvcore.hvm.platform import Device

INDEX, DATA = 0x70, 0x71
REG_A, REG_B, REG_C, REG_D = 0x0A, 0x0B, 0x0C, 0x0D
B_24H, B_BINARY = 0x02, 0x04
MIB = 1 << 20


def _bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


@dataclass
class Cmos(Device):
    memory_bytes: int = 64 * MIB
    clock: Callable[[], float] = time.time
    name: str = "mc146818"
    index: int = 0
    ram: bytearray = field(default_factory=lambda: bytearray(128))

    def __post_init__(self) -> None:
        r = self.ram
        r[REG_A], r[REG_B], r[REG_D] = 0x26, B_24H, 0x80
        r[0x15], r[0x16] = 640 & 0xFF, 640 >> 8
        ext_kib = min(max(0, self.memory_bytes - MIB) // 1024, 0xFFFF)
        r[0x17], r[0x18] = ext_kib & 0xFF, ext_kib >> 8
        r[0x30], r[0x31] = ext_kib & 0xFF, ext_kib >> 8
        above16 = min(max(0, self.memory_bytes - 16 * MIB) // (64 * 1024), 0xFFFF)
        r[0x34], r[0x35] = above16 & 0xFF, above16 >> 8

    @property
    def ports(self):
        return (INDEX, DATA)

    def save(self) -> dict:
        """The clock itself is not saved: it reads the host's, as after a migration."""
        return {"index": self.index, "ram": self.ram.hex()}

    def load(self, state: dict) -> None:
        self.index, self.ram = state["index"], bytearray.fromhex(state["ram"])

    def io_read(self, port: int, size: int) -> int:
        if port == INDEX:
            return self.index
        reg = self.index & 0x7F
        if reg <= 9 or reg == 0x32:
            return self._clock(reg)
        if reg == REG_C:
            value, self.ram[REG_C] = self.ram[REG_C], 0
            return value
        return self.ram[reg]

    def io_write(self, port: int, size: int, value: int) -> None:
        if port == INDEX:
            self.index = value & 0xFF
            return
        reg = self.index & 0x7F
        if reg in (REG_C, REG_D) or reg <= 9:
            return                      # status registers; the clock follows the host
        self.ram[reg] = value & (0x7F if reg == REG_A else 0xFF)

    def _clock(self, reg: int) -> int:
        t = time.gmtime(self.clock())
        values = {0: t.tm_sec, 2: t.tm_min, 4: t.tm_hour, 6: (t.tm_wday + 1) % 7 + 1,
                  7: t.tm_mday, 8: t.tm_mon, 9: t.tm_year % 100, 0x32: t.tm_year // 100}
        value = values.get(reg, 0)
        if reg == 4 and not self.ram[REG_B] & B_24H:
            hour = value % 12 or 12
            value = hour | (0x80 if t.tm_hour >= 12 else 0)
            return value if self.ram[REG_B] & B_BINARY else _bcd(hour) | (value & 0x80)
        return value if self.ram[REG_B] & B_BINARY else _bcd(value)
