"""The BIOS keyboard: console input typed as scan codes through the 8042 and IRQ 1,
turned into keys in the BDA's buffer by the BIOS's INT 09h and returned by INT 16h
(tests/hvm_src/kbd16.S). Serial input by IRQ 4 (tk) is tests/test_hvm_boot.py's."""
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
