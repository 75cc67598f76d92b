"""The 8042 keyboard controller (with the A20 gate in its output port) and the CGA text
screen with its CRTC: through their ports, and a boot sector (tests/hvm_src/screen.S)
that types what the keyboard sends onto the screen, rendered into hv run's console."""
from __future__ import annotations

import subprocess

from conftest import ROOT, run_hv
from hvcore.hvm.devices.cga import CgaText
from hvcore.hvm.devices.i8042 import Kbc8042, scan_codes
from hvcore.hvm.platform import ConsoleSink
from test_hvm_delivery import boot_sector


def kbc() -> tuple[Kbc8042, list]:
    irq: list = []
    resets: list = []
    k = Kbc8042(set_irq=lambda line, level: irq.append((line, level)),
                reset_system=lambda: resets.append(1))
    return k, irq, resets


def test_self_test_command_byte_and_a20_in_the_output_port():
    k, irq, resets = kbc()
    k.io_write(0x64, 1, 0xAA)
    assert k.io_read(0x64, 1) & 0x01 and k.io_read(0x60, 1) == 0x55
    k.io_write(0x64, 1, 0x60)
    k.io_write(0x60, 1, 0x45)                   # IRQ 1, system flag, translation
    k.io_write(0x64, 1, 0x20)
    assert k.io_read(0x60, 1) == 0x45 and k.interrupt_driven
    k.io_write(0x64, 1, 0xD1)
    k.io_write(0x60, 1, 0x01)                   # A20 off
    assert not k.a20
    k.io_write(0x64, 1, 0xD0)
    assert k.io_read(0x60, 1) == 0x01
    k.io_write(0x64, 1, 0xDF)                   # A20 on
    assert k.a20 and resets == []
    k.io_write(0x64, 1, 0xFE)                   # pulse the reset line
    assert resets == [1]


def test_keyboard_commands_and_typed_scan_codes_with_irq1():
    k, irq, _ = kbc()
    k.io_write(0x64, 1, 0x60)
    k.io_write(0x60, 1, 0x45)
    k.io_write(0x60, 1, 0xFF)                   # keyboard reset
    assert [k.io_read(0x60, 1), k.io_read(0x60, 1)] == [0xFA, 0xAA]
    k.io_write(0x60, 1, 0xF2)
    assert [k.io_read(0x60, 1) for _ in range(3)] == [0xFA, 0xAB, 0x83]
    irq.clear()
    k.type(b"A\n")
    codes = []
    while k.io_read(0x64, 1) & 1:
        codes.append(k.io_read(0x60, 1))
    assert codes == [0x2A, 0x1E, 0x9E, 0xAA, 0x1C, 0x9C] == scan_codes(b"A\n")
    assert irq.count((1, True)) == 6 and irq[-1] == (1, False)


def test_crtc_cursor_registers_read_back_and_screen_renders_as_text():
    sink = ConsoleSink()
    screen = bytearray(b"\x20\x07" * 2000)
    now = [0.0]
    cga = CgaText(lambda: bytes(screen), sink, clock=lambda: now[0])
    for reg, value in ((0x0E, 0x00), (0x0F, 0x05), (0x0A, 0x0D)):
        cga.io_write(0x3D4, 1, reg)
        cga.io_write(0x3D5, 1, value)
    cga.io_write(0x3D4, 1, 0x0F)
    assert cga.io_read(0x3D5, 1) == 0x05
    cga.io_write(0x3D4, 1, 0x0A)
    assert cga.io_read(0x3D5, 1) == 0x0D
    screen[0:10] = b"h\x07e\x07l\x07l\x07o\x07"
    cga.tick(1.0)
    assert sink.take() == b"hello"
    screen[160:166] = b"a\x07b\x07c\x07"
    cga.io_write(0x3D4, 2, 0x0F | (83 << 8))     # cursor at row 1, column 3 (a word out)
    cga.tick(2.0)
    assert sink.take() == b"\nabc"
    sink.write(b"d\r\nef")                        # the same text went out on serial
    screen[166:168] = b"d\x07"
    screen[320:324] = b"e\x07f\x07"
    cga.io_write(0x3D4, 2, 0x0F | (162 << 8))
    cga.tick(3.0)
    assert sink.take() == b"d\r\nef"


def test_keys_typed_on_the_screen_through_hv_run(tmp_path):
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware")], check=True)
    image = boot_sector(tmp_path, "screen")
    cfg = tmp_path / "screen.cfg"
    cfg.write_text(f'name = "screen"\ntype = "hvm"\nmemory = 16\n'
                   f'disk = [ "format=raw, vdev=hda, access=rw, target={image}" ]\n')
    result = run_hv("run", cfg, "--timeout", "30", input="hi!q")
    out = result.stdout
    assert "CGA text from the screen; 8042 output port 03; keys 23 17 2A 02\ncursor 0057" in out, \
        out + result.stderr
    assert result.code == (0x2A << 1) | 1
