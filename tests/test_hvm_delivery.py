"""Interrupt delivery through the guest's IDT, in a real HVM domain (our BIOS boots a
boot sector assembled here from tests/hvm_src/): privilege change with the TSS stack
switch, gate DPL for `int N`, #GP error codes, and a triple fault."""
from __future__ import annotations

import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT
from hvcore.hvm.domain import build_hvm_domain
from hvcore.hvm.run import run_hvm_domain

SRC = Path(__file__).resolve().parent / "hvm_src"


@pytest.fixture(scope="session")
def firmware() -> Path:
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware")], check=True)
    return ROOT / "firmware" / "build" / "bios.bin"


def boot_sector(tmp_path: Path, name: str, source: str | None = None) -> Path:
    """tests/hvm_src/<name>.S, or `source` (which may include pm32.h or lm64.h from
    there), assembled into a boot sector at 0x7C00 (its object file is kept for `nm`)."""
    src = SRC / f"{name}.S"
    if source is not None:
        src = tmp_path / f"{name}.S"
        src.write_text(source)
    obj, image = tmp_path / f"{name}.o", tmp_path / f"{name}.img"
    subprocess.run(["gcc", "-m32", "-c", "-I", str(SRC), "-o", str(obj), str(src)], check=True)
    subprocess.run(["ld", "-m", "elf_i386", "-Ttext", "0x7C00", "--oformat", "binary",
                    "-o", str(image), str(obj)], check=True)
    return image


def boot(firmware: Path, image: Path, seconds: float = 20, **kw):
    out = bytearray()
    dom = build_hvm_domain(1, "t", 16, str(image), out.extend, firmware=firmware, **kw)
    reason = run_hvm_domain(dom, deadline=time.monotonic() + seconds)
    return dom, reason, bytes(out)


def test_ring3_int_gate_switches_to_tss_stack_and_dpl_is_checked(firmware, tmp_path):
    dom, reason, out = boot(firmware, boot_sector(tmp_path, "ring3_32"))
    try:
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        esp, cs3, esp3, ss3, cs0, gp_in, gp_int, gp_eip = struct.unpack(
            "<8I", dom.mem.read(0x500, 32))
        assert esp == 0x7000 - 20          # ss, esp, eflags, cs, eip on the ring-0 stack
        assert (cs3, esp3, ss3, cs0) == (0x1B, 0x6000, 0x23, 0x08)
        assert gp_in == 0                  # `in` at CPL 3 with IOPL 0
        assert gp_int == 0x81 * 8 + 2      # int $0x81 through a DPL 0 gate
        code = boot_sector(tmp_path, "ring3_32").read_bytes()
        assert code[gp_eip - 0x7C00:gp_eip - 0x7C00 + 2] == b"\xCD\x81"   # #GP on the int
    finally:
        dom.destroy()


def test_triple_fault_crashes_the_domain(firmware, tmp_path):
    # an IDT with nothing in it: #GP on int 3 cannot be delivered either -> #DF -> shutdown
    image = boot_sector(tmp_path, "triple32")
    dom, reason, _out = boot(firmware, image)
    try:
        assert reason == "crash"
        assert "triple fault" in dom.crash_report
        assert "protected mode" in dom.crash_report
    finally:
        dom.destroy()


def test_long_mode_ring3_int_gate_uses_rsp0_and_page_fault_uses_ist(firmware, tmp_path):
    dom, reason, out = boot(firmware, boot_sector(tmp_path, "long64"))
    try:
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        rsp, cs3, ss3, pf_rsp, pf_error, cr2 = struct.unpack("<6Q", dom.mem.read(0x500, 48))
        assert rsp == 0x7000 - 40          # ss, rsp, rflags, cs, rip on RSP0
        assert (cs3, ss3) == (0x2B, 0x23)
        assert pf_rsp == 0x5000 - 48       # and the error code, on IST1
        assert pf_error == 4 and cr2 == 0x40000000     # user read, not present
    finally:
        dom.destroy()
