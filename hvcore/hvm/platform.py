"""What devices plug into: the port table, the IRQ lines, timers and the console.

A `Device` names its ports; `IoBus` dispatches each `in`/`out` by a dict lookup (one
Python call per access, from the engine's in/out hook). `IrqLines` is the routing
object between ISA IRQ numbers and interrupt controllers: today the 8259A pair;
an IOAPIC registers as a second sink later and sees the same lines.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable, Protocol


class Device:
    """A PC device: its ports, reads/writes of them, and an optional timer."""
    name = "device"
    ports: Iterable[int] = ()

    def io_read(self, port: int, size: int) -> int:
        return (1 << (8 * size)) - 1

    def io_write(self, port: int, size: int, value: int) -> None:
        return None

    def io_read_block(self, port: int, size: int, count: int) -> bytes:
        """Up to `count` further `size`-byte reads of `port` at once (what a `rep ins`
        would read next), for devices with a data port; b"" when there is none."""
        return b""

    def deadline(self) -> float | None:
        """When `tick` must next run (time.monotonic seconds), or None."""
        return None

    def tick(self, now: float) -> None:
        return None

    def reset(self) -> None:
        return None

    # ---- snapshots (hvcore/snapshot/hvm.py) ------------------------------------------
    def save(self) -> dict:
        """The device's state as plain JSON values; a device without state saves {}."""
        return {}

    def load(self, state: dict) -> None:
        """Become what `save` returned (times in it are relative to the save)."""
        return None


class IoBus:
    """Ports -> devices. Unclaimed ports read as all ones and ignore writes (an ISA
    bus with nothing there)."""

    def __init__(self) -> None:
        self.table: dict[int, Device] = {}
        self.devices: list[Device] = []
        self.block_ports: set[int] = set()     # devices that read `rep ins` in one go

    def attach(self, device: Device) -> Device:
        for port in device.ports:
            if port in self.table:
                raise ValueError(f"port {port:#x}: {device.name} and {self.table[port].name}")
            self.table[port] = device
            if type(device).io_read_block is not Device.io_read_block:
                self.block_ports.add(port)
        self.devices.append(device)
        return device

    def read(self, port: int, size: int) -> int:
        device = self.table.get(port)
        if device is None:
            return (1 << (8 * size)) - 1
        return device.io_read(port, size) & ((1 << (8 * size)) - 1)

    def read_block(self, port: int, size: int, count: int) -> bytes:
        device = self.table.get(port)
        return device.io_read_block(port, size, count) if device is not None else b""

    def write(self, port: int, size: int, value: int) -> None:
        device = self.table.get(port)
        if device is not None:
            device.io_write(port, size, value & ((1 << (8 * size)) - 1))

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (dev.deadline() for dev in self.devices) if d is not None]
        return min(deadlines) if deadlines else None

    def tick(self, now: float) -> None:
        for device in self.devices:
            deadline = device.deadline()
            if deadline is not None and deadline <= now:
                device.tick(now)


class IrqSink(Protocol):
    def set_irq(self, irq: int, level: bool) -> None: ...


class IrqLines:
    """ISA IRQ lines 0-15, wired to every registered controller (edge or level is the
    controller's business; devices just drive the line)."""

    def __init__(self) -> None:
        self.sinks: list[IrqSink] = []
        self.levels = [False] * 16
        self.on_raise: Callable[[], None] | None = None   # wakes / kicks the vCPU

    def connect(self, sink: IrqSink) -> None:
        self.sinks.append(sink)

    def set(self, irq: int, level: bool) -> None:
        self.levels[irq] = level
        for sink in self.sinks:
            sink.set_irq(irq, level)
        if level and self.on_raise is not None:
            self.on_raise()

    def pulse(self, irq: int) -> None:
        """An edge: raise then lower (the PIT's output, the UART's edge-mode IRQ)."""
        self.set(irq, True)
        self.set(irq, False)


class ConsoleSink:
    """Bytes for the domain's console stream, gathered and handed out in batches.
    `recent` keeps the last bytes the serial consoles (UART, port E9) wrote; the text
    screen's rendering comes through `write_screen` and is not kept there."""
    RECENT = 4096
    PARTIAL_LINE_WAIT_S = 0.05

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.recent = bytearray()
        self.partial_since: float | None = None     # a partial line has waited since

    def write(self, data: bytes) -> None:
        self.buffer += data
        self.recent += data
        if len(self.recent) > 2 * self.RECENT:
            del self.recent[:-self.RECENT]

    def write_screen(self, data: bytes) -> None:
        self.buffer += data

    def take(self, whole_lines: bool = False) -> bytes:
        """What was written; `whole_lines`: only up to the last newline, so that text
        from the domain's other consoles does not land inside a line. A partial line
        waits at most PARTIAL_LINE_WAIT_S (a prompt, a guest polling for a key)."""
        end = len(self.buffer)
        if whole_lines:
            now = time.monotonic()
            if self.partial_since is None:
                self.partial_since = now
            if now - self.partial_since < self.PARTIAL_LINE_WAIT_S:
                end = self.buffer.rfind(b"\n") + 1
        data = bytes(self.buffer[:end])
        del self.buffer[:end]
        if not self.buffer:
            self.partial_since = None
        return data
