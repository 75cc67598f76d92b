"""The 8042 keyboard controller (data 0x60, status/command 0x64) with its keyboard, and
the A20 gate in its output port.

Status: bit 0 output buffer full, 1 input buffer full (never: we take bytes at once), 2
system flag, 3 last write was a command, 4 keyboard not inhibited. Controller commands:
20h read / 60h write the command byte (bit 0 IRQ 1, bit 2 system flag, bit 4 keyboard
disabled, bit 6 scan code translation), A7h/A8h aux off/on, A9h aux test, AAh self
test (55h), ABh keyboard interface test, ADh/AEh keyboard off/on, C0h input port,
D0h/D1h read/write the output port (bit 0 reset line, bit 1 A20), D2h a byte as if from
the keyboard, DDh/DFh A20 off/on, F0h-FFh pulse output lines (bit 0: reset).
Keyboard commands (through 0x60): FFh reset (FAh AAh), F2h identify (FAh ABh 83h),
EEh echo, EDh LEDs, F0h scan code set, F3h typematic (an argument each), F4h/F5h
enable/disable; others FAh.

Console input arrives as bytes and is typed as scan code set 1 make and break codes
(what the controller delivers with translation on), shift pressed around shifted
characters. A20: the output port's bit 1 is the A20GATE line (on from power-on); the
chipset ORs it with port 92h's (devices/port92.py) into the CPU's A20M#, and the domain
remaps the CPU's view when that changes (hvcore/hvm/physmap.py).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from hvcore.hvm.platform import Device

DATA, COMMAND = 0x60, 0x64
IRQ = 1
READS_CAP = 1 << 16
OBF, SYS, CMD, UNLOCKED = 0x01, 0x04, 0x08, 0x10
CB_IRQ1, CB_SYS, CB_KBD_OFF, CB_TRANSLATE = 0x01, 0x04, 0x10, 0x40
OUT_RESET, OUT_A20 = 0x01, 0x02
ACK = 0xFA
LEFT_SHIFT = 0x2A

_ROWS = ((0x02, "1234567890-=", "!@#$%^&*()_+"), (0x10, "qwertyuiop[]", "QWERTYUIOP{}"),
         (0x1E, "asdfghjkl;'`", 'ASDFGHJKL:"~'), (0x2B, "\\zxcvbnm,./", "|ZXCVBNM<>?"))
_SPECIAL = {"\r": 0x1C, "\n": 0x1C, " ": 0x39, "\b": 0x0E, "\x7f": 0x0E, "\t": 0x0F,
            "\x1b": 0x01}


def _scan_table() -> dict[str, tuple[int, bool]]:
    table = {ch: (code, False) for ch, code in _SPECIAL.items()}
    for first, plain, shifted in _ROWS:
        for i, (a, b) in enumerate(zip(plain, shifted)):
            table[a], table[b] = (first + i, False), (first + i, True)
    return table


SCAN_CODES = _scan_table()


def scan_codes(data: bytes) -> list[int]:
    """Set 1 make and break codes that type `data` (unknown bytes are skipped)."""
    codes: list[int] = []
    for ch in data.decode("latin-1"):
        code = SCAN_CODES.get(ch)
        if code is None:
            continue
        make, shifted = code
        keys = [LEFT_SHIFT, make] if shifted else [make]
        codes += keys + [k | 0x80 for k in reversed(keys)]
    return codes


@dataclass
class Kbc8042(Device):
    set_irq: Callable[[int, bool], None]
    reset_system: Callable[[], None] = lambda: None
    a20_changed: Callable[[], None] = lambda: None
    name: str = "8042"
    command_byte: int = CB_SYS | CB_TRANSLATE
    output_port: int = OUT_RESET | OUT_A20
    output: deque = field(default_factory=deque)   # bytes for the guest, in order
    from_keyboard: deque = field(default_factory=deque)   # typed, not yet in output
    last_was_command: bool = False
    pending: int | None = None        # a controller command awaiting its data byte
    kbd_pending: int | None = None    # a keyboard command awaiting its argument
    scanning: bool = True
    input_reads: int = 0              # reads since the guest last wrote to it (capped)

    @property
    def ports(self):
        return (DATA, COMMAND)

    @property
    def a20(self) -> bool:
        return bool(self.output_port & OUT_A20)

    @property
    def interrupt_driven(self) -> bool:
        """The guest takes keys by IRQ 1 (console input then comes here)."""
        return bool(self.command_byte & CB_IRQ1) and not self.command_byte & CB_KBD_OFF

    _SAVED = ("command_byte", "output_port", "last_was_command", "pending", "kbd_pending",
              "scanning", "input_reads")

    def save(self) -> dict:
        return {**{name: getattr(self, name) for name in self._SAVED},
                "output": list(self.output), "from_keyboard": list(self.from_keyboard)}

    def load(self, state: dict) -> None:
        for name in self._SAVED:
            setattr(self, name, state.get(name, 0) if name == "input_reads" else state[name])
        self.output, self.from_keyboard = deque(state["output"]), deque(state["from_keyboard"])

    def type(self, data: bytes) -> None:
        self.from_keyboard.extend(scan_codes(data))
        self._fill()

    # ---- ports -------------------------------------------------------------------------
    def io_read(self, port: int, size: int) -> int:
        if self.input_reads < READS_CAP:
            self.input_reads += 1     # a guest polling for keys (domain.route_input)
        if port == COMMAND:
            status = SYS if self.command_byte & CB_SYS else 0
            status |= UNLOCKED | (CMD if self.last_was_command else 0)
            return status | (OBF if self.output else 0)
        if not self.output:
            return 0
        value = self.output.popleft()
        self.set_irq(IRQ, False)
        self._fill()
        return value

    def io_write(self, port: int, size: int, value: int) -> None:
        value &= 0xFF
        self.input_reads = 0              # status reads between commands: not for keys
        self.last_was_command = port == COMMAND
        if port == COMMAND:
            self._controller_command(value)
        elif self.pending is not None:
            command, self.pending = self.pending, None
            self._controller_data(command, value)
        else:
            self._keyboard(value)

    # ---- the controller ----------------------------------------------------------------
    def _controller_command(self, command: int) -> None:
        replies = {0x20: self.command_byte, 0xA9: 0x00, 0xAA: 0x55, 0xAB: 0x00,
                   0xC0: 0xFF, 0xD0: self.output_port}
        if command in replies:
            self._reply(replies[command])
        elif command in (0x60, 0xD1, 0xD2, 0xD3, 0xD4):
            self.pending = command
        elif command == 0xAD:
            self.command_byte |= CB_KBD_OFF
        elif command == 0xAE:
            self.command_byte &= ~CB_KBD_OFF
            self._fill()
        elif command in (0xDD, 0xDF):
            self._set_output_port((self.output_port & ~OUT_A20) | (OUT_A20 if command == 0xDF else 0))
        elif command >= 0xF0 and not command & OUT_RESET:
            self.reset_system()                # pulse output line 0: the CPU's reset

    def _controller_data(self, command: int, value: int) -> None:
        if command == 0x60:
            self.command_byte = value
            self.set_irq(IRQ, bool(self.output) and bool(value & CB_IRQ1))  # IRQ 1 = OBF & bit 0
            self._fill()
        elif command == 0xD1:
            self._set_output_port(value | OUT_RESET)
            if not value & OUT_RESET:
                self.reset_system()
        elif command == 0xD2:
            self._reply(value)

    def _set_output_port(self, value: int) -> None:
        was = self.a20
        self.output_port = value
        if self.a20 != was:
            self.a20_changed()

    # ---- the keyboard ------------------------------------------------------------------
    def _keyboard(self, value: int) -> None:
        if self.kbd_pending is not None:
            command, self.kbd_pending = self.kbd_pending, None
            self._reply(ACK)
            if command == 0xF0 and value == 0:
                self._reply(0x02)              # scan code set 2 (translated to 1)
            return
        if value == 0xFF:
            self.from_keyboard.clear()
            self.scanning = True
            self._reply(ACK, 0xAA)
        elif value == 0xF2:
            self._reply(ACK, 0xAB, 0x83)
        elif value == 0xEE:
            self._reply(0xEE)
        elif value in (0xED, 0xF0, 0xF3):
            self.kbd_pending = value
            self._reply(ACK)
        else:
            self.scanning = value != 0xF5 if value in (0xF4, 0xF5) else self.scanning
            self._reply(ACK)

    # ---- the output buffer -------------------------------------------------------------
    def _reply(self, *values: int) -> None:
        self.output.extend(values)
        self._signal()

    def _fill(self) -> None:
        """A typed scan code into the output buffer when it is empty."""
        if self.output or not self.from_keyboard or not self.scanning:
            return
        if self.command_byte & CB_KBD_OFF:
            return
        self.output.append(self.from_keyboard.popleft())
        self._signal()

    def _signal(self) -> None:
        if self.output and self.command_byte & CB_IRQ1:
            self.set_irq(IRQ, True)
