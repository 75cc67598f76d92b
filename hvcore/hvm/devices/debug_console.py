"""Port 0xE9 debug console (the Bochs convention): each byte written goes to the
domain's console stream; a read answers 0xE9, so guests can probe for it."""
from __future__ import annotations

from hvcore.hvm.platform import ConsoleSink, Device

PORT = 0xE9


class DebugConsole(Device):
    name = "debug-console"

    def __init__(self, console: ConsoleSink, port: int = PORT) -> None:
        self.console = console
        self.ports = (port,)

    def io_read(self, port: int, size: int) -> int:
        return PORT

    def io_write(self, port: int, size: int, value: int) -> None:
        self.console.write(bytes([value & 0xFF]))
