"""An HVM guest that reaches for physical memory outside its RAM finds open bus, as on a
PC and under Xen (no device model claims it): loads give all ones, stores are dropped,
and nothing of another domain's memory is reachable (tests/hvm_src/openbus32.S)."""
from __future__ import annotations

import struct

from test_hvm_delivery import boot, boot_sector, firmware  # noqa: F401 - fixture

from reliability import record

from hvcore.hvm import open_bus
from hvcore.hvm.domain import build_hvm_domain

TARGETS = 6
PATTERN = bytes(range(256)) * 16


def test_loads_outside_ram_give_all_ones_and_stores_are_dropped(firmware, tmp_path):  # noqa: F811
    victim = build_hvm_domain(2, "victim", 16, None, lambda data: None, firmware=firmware)
    try:
        for page in range(0, victim.ram.size, 0x100000):
            victim.mem.write(page + 0x800, PATTERN)
        dom, reason, out = boot(firmware, boot_sector(tmp_path, "openbus32"))
        try:
            assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
            seen = struct.unpack(f"<{TARGETS * 3 + 1}I", dom.mem.read(0x500, (TARGETS * 3 + 1) * 4))
            for i in range(TARGETS):
                assert seen[3 * i:3 * i + 3] == (0xFFFFFFFF, 0xFFFF, 0xFF), (i, seen)
            assert seen[-1] == 0                       # the swept page: all ones
            assert dom.mem.read(0x10000, 4096) == b"\xff" * 4096
            assert len(dom.vcpus[0].engine.on_unmapped.__self__.pages) == 5 + 1   # 5 pages (two targets share one), the sweep
        finally:
            dom.destroy()
        for page in range(0, victim.ram.size, 0x100000):
            assert victim.mem.read(page + 0x800, len(PATTERN)) == PATTERN
        record("isolation", "hvm guest outside its RAM", stores_and_loads=TARGETS * 3 + 1024,
               open_bus_pages=6, victim_bytes_verified=16 * len(PATTERN))
    finally:
        victim.destroy()


def test_a_guest_sweeping_the_address_space_is_bounded(firmware, tmp_path):  # noqa: F811
    image = boot_sector(tmp_path, "sweep", (
        '#include "pm32.h"\n.code16\n.globl _start\n_start:\n ENTER_PM32 pm\n.code32\n'
        "pm: mov $0x10,%ax\n mov %ax,%ds\n mov $0x40000000,%ebx\n"
        "1: mov (%ebx),%eax\n add $0x1000,%ebx\n jmp 1b\n"
        " FLAT_GDT\n.org 510\n.word 0xAA55\n.set idt, 0x8000\n"))
    dom, reason, _out = boot(firmware, image)
    try:
        assert reason == "crash"
        assert "access to unmapped physical address" in dom.crash_report
        pages = dom.vcpus[0].engine.on_unmapped.__self__.pages
        assert len(pages) == open_bus.MAX_OPEN_BUS_PAGES
        assert f"{0x40000000 + open_bus.MAX_OPEN_BUS_PAGES * 0x1000:#x}" in dom.crash_report
    finally:
        dom.destroy()
