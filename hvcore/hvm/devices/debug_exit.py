"""The test-exit port (as QEMU's isa-debug-exit at iobase 0xf4): a write of `value`
ends the domain, and the process exits with (value << 1) | 1."""
from __future__ import annotations

from typing import Callable

from hvcore.hvm.platform import Device

PORT = 0xF4


class DebugExit(Device):
    name = "debug-exit"
    ports = (PORT, PORT + 1, PORT + 2, PORT + 3)

    def __init__(self, on_exit: Callable[[int], None]) -> None:
        self.on_exit = on_exit

    def io_write(self, port: int, size: int, value: int) -> None:
        self.on_exit((value << 1) | 1)
