"""SYSCALL/SYSRET in long mode and SYSENTER/SYSEXIT in protected mode, in real HVM
domains booted from boot sectors (tests/hvm_src/syscall64.S, sysenter32.S): the engine
does not carry out SYSCALL or SYSENTER itself, the hypervisor does, as the CPU would."""
from __future__ import annotations

import struct
import subprocess

from test_hvm_delivery import boot, boot_sector, firmware  # noqa: F401 - fixture


def test_syscall_and_sysret_in_long_mode(firmware, tmp_path):  # noqa: F811
    image = boot_sector(tmp_path, "syscall64")
    dom, reason, out = boot(firmware, image)
    try:
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        rcx, r11, rflags, cs, ss, rsp, rdi, user_cs, user_ss = struct.unpack(
            "<9Q", dom.mem.read(0x500, 72))
        code = image.read_bytes()
        after = code.index(bytes.fromhex("8c0c25380500"))          # mov %cs, 0x538
        assert rcx == 0x7C00 + after                    # the instruction after syscall
        assert r11 & 0x3400 == 0x3400                   # the user's IOPL 3 and DF
        assert rflags & 0x400 == 0 and rflags & 0x3000 == 0x3000   # FMASK cleared DF only
        assert (cs & 0xFFFF, ss & 0xFFFF) == (0x08, 0x10)          # from STAR[47:32]
        assert rsp == 0x6000                            # syscall does not switch stacks
        assert rdi == 0x1234
        assert (user_cs & 0xFFFF, user_ss & 0xFFFF) == (0x2B, 0x23)   # sysret's, ring 3
    finally:
        dom.destroy()


def test_sysenter_and_sysexit_in_protected_mode(firmware, tmp_path):  # noqa: F811
    dom, reason, out = boot(firmware, boot_sector(tmp_path, "sysenter32"))
    try:
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        esp, cs, ss, eflags, ebx, user_cs, user_ss = struct.unpack("<7I", dom.mem.read(0x500, 28))
        assert (esp, cs & 0xFFFF, ss & 0xFFFF) == (0x7000, 0x08, 0x10)
        assert eflags & (1 << 9 | 1 << 17) == 0 and ebx == 0x77
        assert (user_cs & 0xFFFF, user_ss & 0xFFFF) == (0x1B, 0x23)
    finally:
        dom.destroy()


def test_syscall_without_efer_sce_is_an_invalid_opcode(firmware, tmp_path):  # noqa: F811
    image = boot_sector(tmp_path, "nosce", (
        '#include "pm32.h"\n.code16\n.globl _start\n_start:\n ENTER_PM32 pm\n.code32\n'
        "pm: FLAT_DATA\n mov $hud,%eax\n mov %ax,idt+6*8\n movw $8,idt+6*8+2\n"
        " movw $0x8E00,idt+6*8+4\n shr $16,%eax\n mov %ax,idt+6*8+6\n lidt idtr\n"
        "at: syscall\n jmp .\nhud: mov (%esp),%eax\n mov %eax,0x500\n"
        " mov $0x2A,%al\n out %al,$0xF4\n hlt\n"
        " FLAT_GDT\n.org 510\n.word 0xAA55\n.set idt, 0x8000\n"))
    symbols = subprocess.run(["nm", str(tmp_path / "nosce.o")], capture_output=True,
                             text=True).stdout
    at = int(next(line.split()[0] for line in symbols.splitlines() if line.endswith(" at")), 16)
    dom, reason, out = boot(firmware, image)
    try:
        assert reason == "poweroff", (reason, out, dom.crash_report)
        assert struct.unpack("<I", dom.mem.read(0x500, 4))[0] == 0x7C00 + at   # #UD on it
    finally:
        dom.destroy()
