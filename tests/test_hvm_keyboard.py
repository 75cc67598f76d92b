"""The BIOS keyboard: console input typed as scan codes through the 8042 and IRQ 1,
turned into keys in the BDA's buffer by the BIOS's INT 09h and returned by INT 16h
(tests/hvm_src/kbd16.S); where held console input goes (HvmDomain.route_input): a
kernel polling COM1 (tests/hvm_src/com1poll32.S) gets it although the BIOS turned
IRQ 1 on. Serial input by IRQ 4 (tk) is tests/test_hvm_boot.py's."""
from __future__ import annotations

import struct
import time

from test_hvm_delivery import boot_sector, firmware  # noqa: F401 - fixture

from hvcore.hvm.domain import build_hvm_domain
from hvcore.hvm.run import run_hvm_domain


def test_int16_reads_keys_typed_through_the_8042(firmware, tmp_path):  # noqa: F811
    out = bytearray()
    dom = build_hvm_domain(1, "t", 16, str(boot_sector(tmp_path, "kbd16")), out.extend,
                           firmware=firmware)
    try:
        dom.feed_console(b"aB!\r\x7fq")
        reason = run_hvm_domain(dom, deadline=time.monotonic() + 20)
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        none, stored, back = struct.unpack("<3H", dom.mem.read(0x700, 6))
        assert none == 1 and stored == 0 and back == 0x1234
        keys = struct.unpack("<6H", dom.mem.read(0x706, 12))
        # AH = scan code (set 1), AL = ASCII: a, shift-b, shift-1, Enter, Backspace, q
        assert keys == (0x1E61, 0x3042, 0x0221, 0x1C0D, 0x0E08, 0x1071), [hex(k) for k in keys]
        peeked, zf = struct.unpack("<HB", dom.mem.read(0x6FA, 3))
        assert peeked == 0x1071 and zf == 0                 # AH=11h saw q, left it there
        assert dom.mem.read(0x6FE, 1) == b"\0"              # no shift key down at the end
        assert dom.kbc.interrupt_driven and not dom.uart.rx
    finally:
        dom.destroy()


def _run_until(dom, out: bytearray, text: bytes, seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while text not in out and dom.running and time.monotonic() < end:
        run_hvm_domain(dom, deadline=time.monotonic() + 0.05)


def test_a_kernel_polling_com1_gets_the_input_though_the_bios_turned_irq1_on(  # noqa: F811
        firmware, tmp_path):
    out = bytearray()
    dom = build_hvm_domain(1, "t", 16, str(boot_sector(tmp_path, "com1poll32")), out.extend,
                           firmware=firmware)
    try:
        dom.feed_console(b"ab")             # typed during POST: held, not the keyboard's
        _run_until(dom, out, b"ready\r\nab")
        assert dom.kbc.interrupt_driven and not dom.kbc.output
        dom.feed_console(b"cq")             # typed at the prompt
        reason = run_hvm_domain(dom, deadline=time.monotonic() + 20)
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        assert out.endswith(b"poll ready\r\nabcq"), out
    finally:
        dom.destroy()


def test_input_waits_for_reads_in_a_row_with_nothing_sent_between(firmware):  # noqa: F811
    dom = build_hvm_domain(1, "t", 16, None, lambda data: None, firmware=firmware)
    try:
        uart, kbc = dom.uart, dom.kbc
        for _ in range(100):                # POST: commands, a status read before each
            kbc.io_read(0x64, 1)
            kbc.io_write(0x64, 1, 0x20)
        kbc.io_read(0x60, 1)
        dom.feed_console(b"x")
        for _ in range(100):                # a transmit loop: LSR, then THR
            uart.io_read(0x3FD, 1)
            uart.io_write(0x3F8, 1, ord("."))
            kbc.io_read(0x64, 1)
            kbc.io_write(0x60, 1, 0xF4)
        dom.route_input()
        assert dom.pending_input == b"x" and not uart.rx and not kbc.from_keyboard
        for _ in range(16):                 # polling LSR for a byte
            uart.io_read(0x3FD, 1)
        dom.route_input()
        assert not dom.pending_input and list(uart.rx) == [ord("x")]
    finally:
        dom.destroy()


def test_com1_polling_recorded_then_replayed_routes_the_same(firmware, tmp_path):  # noqa: F811
    """Input typed at once (during POST), recorded; the replay, with no stdin, holds it
    and routes it to COM1 by the same counts: the same console and exit, no divergence."""
    from conftest import run_hv
    from test_hvm_boot import config
    cfg = config(tmp_path, boot_sector(tmp_path, "com1poll32"), "poll")
    record = tmp_path / "poll.rec"
    first = run_hv("run", cfg, "--record", record, "--timeout", "30", input="hi q")
    assert first.code == 0x55 and "poll ready\nhi q" in first.stdout, first.stdout + first.stderr
    again = run_hv("run", cfg, "--replay", record, "--timeout", "30")
    assert (again.code, again.stdout) == (first.code, first.stdout), again.stderr
    assert "diverged" not in again.stderr
