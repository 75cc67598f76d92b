"""CGA colour text mode: 80x25 characters with attributes at B8000 (guest RAM), the
6845 CRTC behind index 0x3D4 / data 0x3D5 (registers 0Ah/0Bh cursor shape, 0Ch/0Dh
start address, 0Eh/0Fh cursor location read back as written), the mode control
(0x3D8) and colour select (0x3D9) registers, and the status register (0x3DA: display
enable and vertical retrace, alternating as a program polling it expects).

The screen is rendered into the domain's console stream as a teletype would have
printed it: every `INTERVAL` the device reads the screen and prints what lies between
the end of what it printed last and the cursor (the screen's scrolling taken into
account). A kernel that writes the same text to its serial port (many print to both)
would have it twice: new screen text that the serial console has just printed (found
in its recent output, line ends aside) is taken as printed already.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from hvcore.hvm.platform import ConsoleSink, Device

TEXT_BASE = 0xB8000
COLUMNS, ROWS = 80, 25
INDEX, DATA, MODE, COLOUR, STATUS = 0x3D4, 0x3D5, 0x3D8, 0x3D9, 0x3DA
CURSOR_HIGH, CURSOR_LOW = 0x0E, 0x0F
INTERVAL = 0.04
READABLE_FROM = 0x0A           # below: the timing registers, write-only


@dataclass
class CgaText(Device):
    read_screen: Callable[[], bytes]          # ROWS * COLUMNS * 2 bytes from TEXT_BASE
    console: ConsoleSink
    clock: Callable[[], float] = time.monotonic
    name: str = "cga"
    index: int = 0
    crtc: bytearray = field(default_factory=lambda: bytearray(18))
    mode: int = 0x29
    colour: int = 0
    status_toggle: int = 0
    cursor_set: bool = False               # the guest moved the hardware cursor
    rows: list[str] = field(default_factory=lambda: [""] * ROWS)
    printed: tuple[int, int] = (0, 0)      # (row, column) printed up to
    due: float = 0.0

    def __post_init__(self) -> None:
        self.crtc[0x0A], self.crtc[0x0B] = 0x06, 0x07
        self.due = self.clock() + INTERVAL

    @property
    def ports(self):
        return (INDEX, DATA, MODE, COLOUR, STATUS)

    def save(self) -> dict:
        """With what it has rendered so far (`rows`, `printed`): a restored screen goes
        on printing from there, not from the top."""
        return {"index": self.index, "crtc": self.crtc.hex(), "mode": self.mode,
                "colour": self.colour, "status_toggle": self.status_toggle,
                "cursor_set": self.cursor_set, "rows": self.rows, "printed": list(self.printed)}

    def load(self, state: dict) -> None:
        self.index, self.crtc = state["index"], bytearray.fromhex(state["crtc"])
        self.mode, self.colour = state["mode"], state["colour"]
        self.status_toggle, self.cursor_set = state["status_toggle"], state["cursor_set"]
        self.rows, self.printed = list(state["rows"]), tuple(state["printed"])
        self.due = self.clock() + INTERVAL

    # ---- ports -------------------------------------------------------------------------
    def io_read(self, port: int, size: int) -> int:
        if port == INDEX:
            return self.index
        if port == DATA:
            return self.crtc[self.index] if READABLE_FROM <= self.index < len(self.crtc) else 0
        if port == STATUS:
            self.status_toggle ^= 0x09          # display enable and retrace, alternating
            return self.status_toggle
        return 0xFF

    def io_write(self, port: int, size: int, value: int) -> None:
        if port == INDEX:
            self.index = value & 0x1F
            if size == 2:                        # out %ax: index and data at once
                self.io_write(DATA, 1, value >> 8)
        elif port == DATA and self.index < len(self.crtc):
            self.crtc[self.index] = value & 0xFF
            self.cursor_set |= self.index in (CURSOR_HIGH, CURSOR_LOW)
        elif port == MODE:
            self.mode = value & 0x3F
        elif port == COLOUR:
            self.colour = value & 0x3F

    @property
    def cursor(self) -> int:
        start = (self.crtc[0x0C] << 8) | self.crtc[0x0D]
        return ((self.crtc[CURSOR_HIGH] << 8) | self.crtc[CURSOR_LOW]) - start

    # ---- rendering ---------------------------------------------------------------------
    def deadline(self) -> float | None:
        return self.due

    def tick(self, now: float) -> None:
        self.due = now + INTERVAL
        screen = self.read_screen()
        rows = [screen[r * 160:(r + 1) * 160:2].decode("cp437").replace("\0", " ")
                for r in range(ROWS)]
        if rows == self.rows:
            return
        shift = _scrolled(self.rows, rows)
        self.rows = rows
        at = self._cursor_position(rows)
        row, col = self.printed
        row -= shift
        if row < 0:
            row, col = 0, 0
        if (row, col) > at:
            row, col = at if any(r.strip() for r in rows) else (0, 0)
        text = self._between(rows, (row, col), at)
        self.printed = at
        if text and not self._on_serial(text):
            self.console.write_screen(text.encode("utf-8", "replace"))

    def _on_serial(self, text: str) -> bool:
        recent = bytes(self.console.recent).replace(b"\r", b"").decode("latin-1")
        return all(line.strip() in recent for line in text.split("\n"))

    def _cursor_position(self, rows: list[str]) -> tuple[int, int]:
        if self.cursor_set and 0 <= self.cursor < ROWS * COLUMNS:
            return divmod(self.cursor, COLUMNS)
        last = max((r for r in range(ROWS) if rows[r].strip()), default=0)
        return (last, len(rows[last].rstrip()))

    @staticmethod
    def _between(rows: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
        out = []
        for r in range(start[0], end[0] + 1):
            first = start[1] if r == start[0] else 0
            line = rows[r][first:end[1]] if r == end[0] else rows[r][first:].rstrip()
            out.append(line + ("\n" if r < end[0] else ""))
        return "".join(out)


def _scrolled(before: list[str], after: list[str]) -> int:
    """By how many rows the screen scrolled up (0: it did not)."""
    for shift in range(1, ROWS):
        if before[shift:] == after[:ROWS - shift] and any(r.strip() for r in before[shift:]):
            return shift
    return 0
