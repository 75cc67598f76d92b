"""The primary IDE channel (ATA PIO): master and slave drives backed by disk image files.

Ports (ATA/ATAPI-6 command block at 0x1F0, control block at 0x3F6): 1F0 data (16 or
32 bits), 1F1 error / features, 1F2 sector count, 1F3-1F5 LBA 0-23 (or sector,
cylinder), 1F6 device (bit 4 slave, bit 6 LBA, bits 0-3 LBA 24-27 or head), 1F7 status
(reading it clears INTRQ) / command; 3F6 alternate status (no side effect) / device
control (bit 1 nIEN, bit 2 SRST).

Commands: IDENTIFY DEVICE (ECh), READ SECTORS (20h/21h), WRITE SECTORS (30h/31h), READ
VERIFY (40h/41h), FLUSH CACHE (E7h), SET FEATURES (EFh), INITIALIZE DEVICE PARAMETERS
(91h), RECALIBRATE (1xh); anything else is aborted. INTRQ is IRQ 14: raised when a
sector is ready to read, after each written sector and at the end of a command, unless
nIEN is set. A missing slave reads as status 0. CHS addresses use 16 heads, 63
sectors a track (the geometry IDENTIFY reports).
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Callable

from hvcore.hvm.platform import Device

BASE, CONTROL = 0x1F0, 0x3F6
IRQ = 14
SECTOR = 512
HEADS, SPT = 16, 63
DATA, ERROR, COUNT, LBA_LOW, LBA_MID, LBA_HIGH, DEVICE, STATUS = range(8)
BSY, DRDY, DSC, DRQ, ERR = 0x80, 0x40, 0x10, 0x08, 0x01
ABRT, IDNF = 0x04, 0x10
NIEN, SRST = 0x02, 0x04
DEV_SLAVE, DEV_LBA = 0x10, 0x40
CMD_IDENTIFY, CMD_READ, CMD_WRITE, CMD_VERIFY = 0xEC, 0x20, 0x30, 0x40
CMD_FLUSH, CMD_SET_FEATURES, CMD_INIT_PARAMS = 0xE7, 0xEF, 0x91
MAX_LBA28 = (1 << 28) - 1


@dataclass
class Drive:
    """One ATA disk: an image file opened by the domain builder."""
    fd: int
    sectors: int
    readonly: bool = False
    serial: str = "HVCORE0"

    def identify(self) -> bytes:
        words = [0] * 256
        cylinders = min(self.sectors // (HEADS * SPT), 16383)
        words[0] = 0x0040                          # fixed disk
        words[1], words[3], words[6] = cylinders, HEADS, SPT
        _ata_string(words, 10, 20, self.serial)
        _ata_string(words, 23, 8, "1.0")
        _ata_string(words, 27, 40, "hvcore ATA disk")
        words[47] = 0x8001                         # READ/WRITE MULTIPLE: 1 sector
        words[49] = 1 << 9                         # LBA supported
        words[53] = 1                              # words 54-58 valid
        words[54], words[55], words[56] = cylinders, HEADS, SPT
        chs = cylinders * HEADS * SPT
        words[57], words[58] = chs & 0xFFFF, chs >> 16
        lba = min(self.sectors, MAX_LBA28)
        words[60], words[61] = lba & 0xFFFF, lba >> 16
        words[80] = 0x7E                           # ATA-1 to ATA-6
        return struct.pack("<256H", *words)


def _ata_string(words: list[int], first: int, length: int, text: str) -> None:
    """ATA strings: two characters a word, the first in the high byte, space-padded."""
    data = text.encode().ljust(length)[:length]
    for i in range(0, length, 2):
        words[first + i // 2] = (data[i] << 8) | data[i + 1]


@dataclass
class IdeChannel(Device):
    set_irq: Callable[[int, bool], None]
    drives: list[Drive | None] = field(default_factory=lambda: [None, None])
    name: str = "ide0"
    regs: bytearray = field(default_factory=lambda: bytearray(8))
    status: int = DRDY | DSC
    error: int = 0
    control: int = 0
    buffer: bytearray = field(default_factory=bytearray)
    position: int = 0
    command: int = 0
    lba: int = 0
    remaining: int = 0
    intrq: bool = False

    @property
    def ports(self):
        return (*range(BASE, BASE + 8), CONTROL)

    # ---- snapshots: a command half-way keeps its buffer and place ----------------------
    _SAVED = ("status", "error", "control", "position", "command", "lba", "remaining", "intrq")

    def save(self) -> dict:
        """The drives are the image files (saved as what they must still be); the
        sector buffer of a transfer in progress is kept with the registers."""
        drives = [None if d is None else {"sectors": d.sectors, "readonly": d.readonly,
                                          "serial": d.serial} for d in self.drives]
        return {**{name: getattr(self, name) for name in self._SAVED}, "drives": drives,
                "regs": self.regs.hex(), "buffer": self.buffer.hex()}

    def load(self, state: dict) -> None:
        """ValueError (one line) if the disks attached now are not the saved ones."""
        for index, (saved, drive) in enumerate(zip(state["drives"], self.drives)):
            now = None if drive is None else drive.sectors
            if (saved and saved["sectors"]) != now:
                raise ValueError(f"IDE drive {index}: {now} sectors now, {saved and saved['sectors']}"
                                 " when saved (the disk image must not change between save and restore)")
        for name in self._SAVED:
            setattr(self, name, state[name])
        self.regs, self.buffer = bytearray.fromhex(state["regs"]), bytearray.fromhex(state["buffer"])

    # ---- the selected drive ------------------------------------------------------------
    @property
    def drive(self) -> Drive | None:
        return self.drives[1 if self.regs[DEVICE] & DEV_SLAVE else 0]

    def _raise(self) -> None:
        self.intrq = True
        if not self.control & NIEN:
            self.set_irq(IRQ, True)

    def _lower(self) -> None:
        if self.intrq:
            self.intrq = False
            self.set_irq(IRQ, False)

    # ---- ports -------------------------------------------------------------------------
    def io_read(self, port: int, size: int) -> int:
        if port == CONTROL:
            return self.status if self.drive is not None else 0
        reg = port - BASE
        if reg == DATA:
            return self._read_data(size)
        if self.drive is None:
            return 0
        if reg == STATUS:
            self._lower()
            return self.status
        if reg == ERROR:
            return self.error
        return self.regs[reg]

    def io_write(self, port: int, size: int, value: int) -> None:
        if port == CONTROL:
            self._write_control(value)
            return
        reg = port - BASE
        if reg == DATA:
            self._write_data(size, value)
        elif reg == STATUS:
            if self.drive is not None:
                self._command(value & 0xFF)
        else:
            self.regs[reg] = value & 0xFF

    def _write_control(self, value: int) -> None:
        if value & SRST and not self.control & SRST:
            self._lower()
            self.status, self.error, self.buffer = BSY, 1, bytearray()
        elif self.control & SRST and not value & SRST:
            self.status, self.error = DRDY | DSC, 1       # diagnostic code 1: no error
            self.regs[COUNT], self.regs[LBA_LOW] = 1, 1
            self.regs[LBA_MID] = self.regs[LBA_HIGH] = 0
        self.control = value & 0xFF
        if self.intrq:
            self.set_irq(IRQ, not self.control & NIEN)

    # ---- commands ----------------------------------------------------------------------
    def _address(self) -> int:
        r = self.regs
        if r[DEVICE] & DEV_LBA:
            return r[LBA_LOW] | r[LBA_MID] << 8 | r[LBA_HIGH] << 16 | (r[DEVICE] & 0xF) << 24
        cylinder, head, sector = r[LBA_MID] | r[LBA_HIGH] << 8, r[DEVICE] & 0xF, r[LBA_LOW]
        return (cylinder * HEADS + head) * SPT + sector - 1

    def _command(self, command: int) -> None:
        self._lower()
        self.command, self.error, self.buffer, self.position = command, 0, bytearray(), 0
        count = self.regs[COUNT] or 256
        if command == CMD_IDENTIFY:
            self._offer(self.drive.identify())
        elif command & 0xFE in (CMD_READ, CMD_WRITE, CMD_VERIFY):
            self.lba, self.remaining = self._address(), count
            if self.lba < 0 or self.lba + count > self.drive.sectors:
                self._abort(IDNF)
            elif command & 0xFE == CMD_READ:
                self._next_read()
            elif command & 0xFE == CMD_WRITE:
                self._expect_write()
            else:
                self._done()
        elif command in (CMD_FLUSH, CMD_SET_FEATURES, CMD_INIT_PARAMS) or command & 0xF0 == 0x10:
            self._done()
        else:
            self._abort(ABRT)

    def _offer(self, data: bytes) -> None:
        self.buffer, self.position = bytearray(data), 0
        self.status = DRDY | DSC | DRQ
        self._raise()

    def _done(self) -> None:
        self.status = DRDY | DSC
        self._raise()

    def _abort(self, error: int) -> None:
        self.error, self.status = error, DRDY | DSC | ERR
        self._raise()

    def _next_read(self) -> None:
        drive = self.drive
        try:
            data = os.pread(drive.fd, SECTOR, self.lba * SECTOR).ljust(SECTOR, b"\0")
        except OSError:
            self._abort(0x40)                      # UNC: the image could not be read
            return
        self.lba += 1
        self.remaining -= 1
        self._offer(data)

    def _expect_write(self) -> None:
        if self.drive.readonly:
            self._abort(ABRT)
            return
        self.buffer, self.position = bytearray(SECTOR), 0
        self.status = DRDY | DSC | DRQ            # the first sector: no interrupt

    # ---- the data port -----------------------------------------------------------------
    def _read_data(self, size: int) -> int:
        if not self.status & DRQ or self.command & 0xFE == CMD_WRITE:
            return 0xFFFFFFFF
        chunk = self.buffer[self.position:self.position + size]
        self.position += size
        if self.position >= len(self.buffer):
            self._buffer_read()
        return int.from_bytes(chunk, "little")

    def io_read_block(self, port: int, size: int, count: int) -> bytes:
        """The rest of the sector, up to `count` reads, in one copy (a `rep insw`)."""
        if port != BASE or not self.status & DRQ or self.command & 0xFE == CMD_WRITE:
            return b""
        n = min(count, (len(self.buffer) - self.position) // size)
        if n <= 0:
            return b""
        data = bytes(self.buffer[self.position:self.position + n * size])
        self.position += n * size
        if self.position >= len(self.buffer):
            self._buffer_read()
        return data

    def _buffer_read(self) -> None:
        """The guest has read the whole buffer: the next sector, or the end."""
        self.buffer = bytearray()
        if self.command & 0xFE == CMD_READ and self.remaining:
            self._next_read()
        else:
            self.status = DRDY | DSC

    def _write_data(self, size: int, value: int) -> None:
        if not self.status & DRQ or self.command & 0xFE != CMD_WRITE:
            return
        self.buffer[self.position:self.position + size] = value.to_bytes(size, "little")
        self.position += size
        if self.position < SECTOR:
            return
        try:
            os.pwrite(self.drive.fd, bytes(self.buffer), self.lba * SECTOR)
        except OSError:
            self._abort(0x40)
            return
        self.lba += 1
        self.remaining -= 1
        if self.remaining:
            self.buffer, self.position = bytearray(SECTOR), 0
            self.status = DRDY | DSC | DRQ
            self._raise()
        else:
            self._done()
