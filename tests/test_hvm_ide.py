"""The primary IDE channel through its ports, as a driver uses it (ATA/ATAPI-6): real
image files behind the master and the slave, IRQ 14 as the line level."""
from __future__ import annotations

import os
import struct
import subprocess

import pytest

from conftest import ROOT, run_hv
from hvcore.hvm.devices.ide import Drive, IdeChannel
from test_hvm_delivery import boot_sector


@pytest.fixture
def channel(tmp_path):
    master = tmp_path / "master.img"
    master.write_bytes(b"".join(bytes([n]) * 512 for n in range(64)))
    fd = os.open(master, os.O_RDWR)
    irq = []
    ide = IdeChannel(set_irq=lambda line, level: irq.append((line, level)))
    ide.drives[0] = Drive(fd, 64)
    yield ide, irq, master
    os.close(fd)


def select_lba(ide: IdeChannel, lba: int, count: int, slave: bool = False) -> None:
    ide.io_write(0x1F2, 1, count)
    ide.io_write(0x1F3, 1, lba & 0xFF)
    ide.io_write(0x1F4, 1, (lba >> 8) & 0xFF)
    ide.io_write(0x1F5, 1, (lba >> 16) & 0xFF)
    ide.io_write(0x1F6, 1, 0xE0 | (0x10 if slave else 0) | (lba >> 24))


def read_sector(ide: IdeChannel) -> bytes:
    return b"".join(struct.pack("<H", ide.io_read(0x1F0, 2)) for _ in range(256))


def test_identify_reports_lba28_size_and_geometry(channel):
    ide, irq, _ = channel
    ide.io_write(0x1F6, 1, 0xA0)
    ide.io_write(0x1F7, 1, 0xEC)
    assert irq == [(14, True)] and ide.io_read(0x3F6, 1) & 0x08      # DRQ, IRQ still up
    assert irq == [(14, True)]                                        # alt status: no ack
    assert ide.io_read(0x1F7, 1) == 0x58 and irq[-1] == (14, False)   # DRDY DSC DRQ
    words = struct.unpack("<256H", read_sector(ide))
    assert words[0] == 0x0040 and words[49] & (1 << 9) and words[60] | words[61] << 16 == 64
    assert words[3] == 16 and words[6] == 63
    model = b"".join(struct.pack(">H", w) for w in words[27:47]).decode().strip()
    assert model == "hvcore ATA disk"
    assert ide.io_read(0x1F7, 1) == 0x50                              # transfer over


def test_read_sectors_lba28_an_interrupt_per_sector(channel):
    ide, irq, _ = channel
    select_lba(ide, 5, 2)
    ide.io_write(0x1F7, 1, 0x20)
    assert irq[-1] == (14, True)
    ide.io_read(0x1F7, 1)
    assert read_sector(ide) == bytes([5]) * 512
    assert irq[-1] == (14, True)                                      # the second sector
    ide.io_read(0x1F7, 1)
    assert ide.io_read(0x1F0, 4) == 0x06060606                        # 32-bit data reads too
    rest = [ide.io_read(0x1F0, 4) for _ in range(127)]
    assert set(rest) == {0x06060606} and ide.io_read(0x1F7, 1) == 0x50


def test_write_sectors_reach_the_image_and_nien_masks_the_irq(channel):
    ide, irq, image = channel
    ide.io_write(0x3F6, 1, 0x02)                                      # nIEN
    select_lba(ide, 9, 1)
    ide.io_write(0x1F7, 1, 0x30)
    assert ide.io_read(0x1F7, 1) & 0x08 and irq == []                 # DRQ, no IRQ first
    for i in range(256):
        ide.io_write(0x1F0, 2, 0xBEEF)
    assert ide.io_read(0x3F6, 1) == 0x50 and irq == []
    assert image.read_bytes()[9 * 512:10 * 512] == b"\xef\xbe" * 256
    ide.io_write(0x3F6, 1, 0x00)                                      # the pending INTRQ shows
    assert irq[-1] == (14, True)


def test_errors_abort_idnf_readonly_and_a_missing_slave(channel, tmp_path):
    ide, irq, _ = channel
    ide.io_write(0x1F6, 1, 0xE0)
    ide.io_write(0x1F7, 1, 0xA1)                                      # IDENTIFY PACKET: ATA disk
    assert ide.io_read(0x1F7, 1) & 0x01 and ide.io_read(0x1F1, 1) == 0x04
    select_lba(ide, 63, 2)
    ide.io_write(0x1F7, 1, 0x20)
    assert ide.io_read(0x1F7, 1) & 0x01 and ide.io_read(0x1F1, 1) == 0x10   # IDNF
    select_lba(ide, 0, 1, slave=True)
    assert ide.io_read(0x1F7, 1) == 0 and ide.io_read(0x3F6, 1) == 0
    ro = tmp_path / "ro.img"
    ro.write_bytes(bytes(1024))
    fd = os.open(ro, os.O_RDONLY)
    try:
        ide.drives[1] = Drive(fd, 2, readonly=True)
        select_lba(ide, 0, 1, slave=True)
        ide.io_write(0x1F7, 1, 0x30)
        assert ide.io_read(0x1F7, 1) & 0x01 and ide.io_read(0x1F1, 1) == 0x04
    finally:
        os.close(fd)


def test_chs_addressing_and_soft_reset_signature(channel):
    ide, _irq, _ = channel
    ide.io_write(0x1F2, 1, 1)
    ide.io_write(0x1F3, 1, 3)                                         # sector 3
    ide.io_write(0x1F4, 1, 0)
    ide.io_write(0x1F5, 1, 0)
    ide.io_write(0x1F6, 1, 0xA0)                                      # CHS, head 0
    ide.io_write(0x1F7, 1, 0x20)
    assert read_sector(ide) == bytes([2]) * 512                      # LBA 2
    ide.io_write(0x3F6, 1, 0x04)
    assert ide.io_read(0x3F6, 1) & 0x80                               # BSY while in reset
    ide.io_write(0x3F6, 1, 0x00)
    assert ide.io_read(0x1F7, 1) == 0x50 and ide.io_read(0x1F2, 1) == 1
    assert ide.io_read(0x1F4, 1) == 0 and ide.io_read(0x1F5, 1) == 0   # ATA signature


def test_bios_int13_reads_and_writes_the_slave_through_hv_run(tmp_path):
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware")], check=True)
    boot = boot_sector(tmp_path, "disk81")
    slave = tmp_path / "slave.img"
    slave.write_bytes(bytes(512) + b"text from the IDE slave\r\n\0".ljust(512, b"\0") + bytes(1024))
    cfg = tmp_path / "disk81.cfg"
    cfg.write_text(f'name = "disk81"\ntype = "hvm"\nmemory = 16\n'
                   f'disk = [ "format=raw, vdev=hda, access=rw, target={boot}",\n'
                   f'         "format=raw, vdev=hdb, access=rw, target={slave}" ]\n')
    result = run_hv("run", cfg, "--timeout", "30")
    assert "text from the IDE slave" in result.stdout, result.stdout + result.stderr
    assert result.code == (2 << 1) | 1, result.stderr
    assert slave.read_bytes()[1024:1024 + 24] == b"#ext from the IDE slave\r\n"[:24]


def test_rep_insw_moves_a_sector_in_one_hook_call(tmp_path):
    """The BIOS reads the pmode kernel's 64 sectors with `rep insw`: the data port's
    hook runs about once a sector (not 256 times), and the kernel still passes."""
    import time
    from hvcore.hvm.domain import build_hvm_domain
    from hvcore.hvm.run import run_hvm_domain
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware")], check=True)
    subprocess.run(["make", "-s", "-C", str(ROOT / "guests" / "hvm")], check=True)
    image = tmp_path / "pmode.img"
    image.write_bytes((ROOT / "guests" / "hvm" / "build" / "pmode.img").read_bytes())
    out = bytearray()
    dom = build_hvm_domain(1, "ide", 64, str(image), out.extend)
    reads = []
    original = dom.ide.io_read
    dom.ide.io_read = lambda port, size: (reads.append(port) if port == 0x1F0 else None,
                                          original(port, size))[1]
    try:
        run_hvm_domain(dom, deadline=time.monotonic() + 60)
        assert b"all passed" in out and dom.exit_code == 0x55, bytes(out)
        sectors = 1 + 64 + 1                   # boot sector, kernel, IDENTIFY at POST
        assert sectors <= reads.count(0x1F0) <= 3 * sectors, len(reads)
    finally:
        dom.destroy()
