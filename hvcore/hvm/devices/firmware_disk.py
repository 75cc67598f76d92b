"""A stop-gap disk service for our firmware's INT 13h until the IDE controller exists:
the BIOS names sectors and a buffer, the hypervisor copies between the disk image and
guest memory. hvcore's own interface (no PC device has these ports); a guest OS never
sees it unless it looks, and it goes away with IDE.

Ports (base 0xB00 + ..., a range no PC device uses): 0 LBA (dword), 4 buffer physical address (dword), 8 sector
count (word), 0xA command (byte write: 1 read, 2 write) / status (byte read:
0 done, 1 error), 0xC disk size in sectors (dword read, low 32 bits).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from hvcore.hvm.platform import Device
from hvcore.memory import BadAddress, PhysicalMemory

BASE = 0xB00
LBA, BUFFER, COUNT, COMMAND, SIZE = 0, 4, 8, 0xA, 0xC
CMD_READ, CMD_WRITE = 1, 2
SECTOR = 512


@dataclass
class FirmwareDisk(Device):
    mem: PhysicalMemory
    fd: int                  # the image, opened by the domain builder
    sectors: int
    readonly: bool = False
    name: str = "firmware-disk"
    lba: int = 0
    buffer: int = 0
    count: int = 0
    status: int = 0

    @property
    def ports(self):
        return range(BASE, BASE + 0x10)

    def io_read(self, port: int, size: int) -> int:
        reg = port - BASE
        if reg == COMMAND:
            return self.status
        if reg == SIZE:
            return min(self.sectors, 0xFFFFFFFF)
        return 0

    def io_write(self, port: int, size: int, value: int) -> None:
        reg = port - BASE
        if reg == LBA:
            self.lba = value
        elif reg == BUFFER:
            self.buffer = value
        elif reg == COUNT:
            self.count = value & 0xFFFF
        elif reg == COMMAND:
            self.status = 0 if self._transfer(value & 0xFF) else 1

    def _transfer(self, command: int) -> bool:
        if command not in (CMD_READ, CMD_WRITE) or self.lba + self.count > self.sectors:
            return False
        length, offset = self.count * SECTOR, self.lba * SECTOR
        try:
            if command == CMD_READ:
                self.mem.write(self.buffer, os.pread(self.fd, length, offset).ljust(length, b"\0"))
            elif self.readonly:
                return False
            else:
                os.pwrite(self.fd, self.mem.read(self.buffer, length), offset)
        except (BadAddress, OSError):
            return False
        return True
