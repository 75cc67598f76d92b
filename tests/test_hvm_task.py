"""Hardware task switches and virtual-8086 mode in a real HVM domain (our BIOS boots
boot sectors from tests/hvm_src/): an `int N` and a double fault through IDT task gates
(the hypervisor switches, task_switch.py), `lcall` through a GDT task gate and `iret`
with NT (the engine switches by itself), the faults of a bad switch, and interrupts
and I/O from virtual-8086 mode."""
from __future__ import annotations

import struct

from test_hvm_delivery import boot, boot_sector, firmware  # noqa: F401 - fixture

NT, VM, CR0_TS = 1 << 14, 1 << 17, 1 << 3


def _symbol(image, name: str) -> int:
    import subprocess
    out = subprocess.run(["nm", str(image.with_suffix(".o"))], capture_output=True, text=True,
                         check=True).stdout
    return 0x7C00 + next(int(line.split()[0], 16) for line in out.splitlines()
                         if line.split()[-1] == name)


def _run(firmware, image, words: int):
    dom, reason, out = boot(firmware, image)
    try:
        assert reason == "poweroff" and dom.exit_code == 0x55, (reason, out, dom.crash_report)
        return struct.unpack(f"<{words}I", dom.mem.read(0x500, 4 * words))
    finally:
        dom.destroy()


def test_int_through_a_task_gate_nests_and_iret_returns(firmware, tmp_path):
    r = _run(firmware, boot_sector(tmp_path, "task32"), 12)
    tr, flags, link, esp, cr0, runs, esi_a, esp_a, busy, flags_a, esi_after_call, link_c = r
    assert tr == 0x20 and link == 0x18           # B runs on TR 20h, back link to A
    assert flags & NT and esp == 0x6800          # nested; no error code for `int N`
    assert cr0 & CR0_TS
    assert runs == 2                             # B's busy bit went with its iret
    assert (esi_a, esp_a) == (0xA11CE, 0x7000)   # A's registers saved and reloaded
    assert busy & 0xFFFF == 0x8B89               # B available again, A busy
    assert not flags_a & NT
    assert esi_after_call == 0xA11CE and link_c == 0x18    # lcall via the GDT gate


def test_double_fault_on_a_task_gate_gets_a_fresh_stack(firmware, tmp_path):
    image = boot_sector(tmp_path, "dftask32")
    r = _run(firmware, image, 9)
    error, esp, flags, link, cr2, eip_a, esp_a, pushed, esp_after = r
    assert error == 0 and esp == 0x6800          # #DF's error code on D's own stack
    assert flags & NT and link == 0x18
    assert cr2 == 0x5FFC                         # the #PF frame's first push
    assert eip_a == _symbol(image, "fault") and esp_a == 0x6000
    assert pushed == 0x5EED and esp_after == 0x7800   # A ran its push again, on D's stack fix


def test_virtual_8086_mode_interrupts_and_io(firmware, tmp_path):
    image = boot_sector(tmp_path, "vm86_32")
    r = _run(firmware, image, 12)
    ds, esp, fs, frame_ds, frame_gs, frame_flags, stored, _, gp_in, in_eip, gp_int, int_eip = r
    assert esp == 0x7000 - 36                    # GS FS DS ES SS ESP EFLAGS CS EIP
    assert ds == 0 and fs == 0                   # nulled for the ring-0 handler
    assert (frame_ds, frame_gs) == (0x50, 0x60)
    assert frame_flags & VM and (frame_flags >> 12) & 3 == 3
    assert stored & 0xFFFF == 0x8086             # DS 50h addressed linear 518h
    assert gp_in == 0 and in_eip == _symbol(image, "in71")
    assert gp_int == 0 and int_eip == _symbol(image, "int31")


BAD_SWITCHES = r"""
#include "pm32.h"
        PM32_START pm
        mov     $0x9000, %edi
        mov     $0, %eax
        mov     $0x7000, %ebx
        call    task32
        mov     $0x9100, %edi
        mov     $taskb, %eax
        mov     $0x6800, %ebx
        call    task32
        movb    $0, 0x9100 + 0x4C                 /* B's CS: null */
        INT_GATE 13, hgp
        INT_GATE 10, hts
        movl    $0x00180000, idt + 0x40 * 8       /* task gate to A itself: busy */
        movl    $0x00008500, idt + 0x40 * 8 + 4
        movl    $0x00200000, idt + 0x41 * 8       /* task gate to B */
        movl    $0x00008500, idt + 0x41 * 8 + 4
        lidt    idtr
        mov     $0x18, %ax
        ltr     %ax
        .globl  int40
int40:  int     $0x40
        int     $0x41
        hlt
taskb:  hlt
hgp:    pop     %eax
        mov     %eax, 0x500
        mov     (%esp), %eax
        mov     %eax, 0x504
        addl    $2, (%esp)
        iret
hts:    pop     %eax
        mov     %eax, 0x508
        mov     (%esp), %eax
        mov     %eax, 0x50C
        str     %ax
        mov     %eax, 0x510
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt
        TASK32_MAKER
        TASK_GDT 0x9000, 0x9100
        GDTR_IDTR
        END_BOOT_SECTOR
        .set    idt, 0x8000
"""


def test_a_busy_task_and_a_bad_new_task_fault_as_the_sdm_says(firmware, tmp_path):
    image = boot_sector(tmp_path, "badtask", BAD_SWITCHES)
    gp_error, gp_eip, ts_error, ts_eip, tr = _run(firmware, image, 5)
    assert gp_error == 0x18 and gp_eip == _symbol(image, "int40")   # before the commit
    assert ts_error == 0 and tr & 0xFFFF == 0x20      # after it: in the new task,
    assert ts_eip == _symbol(image, "taskb")          # at its EIP


TSS16_TASK = r"""
#include "pm32.h"
        PM32_START pm
        mov     $0x9000, %edi
        mov     $0, %eax
        mov     $0x7000, %ebx
        call    task32
        movw    $taskb, 0x9100 + 0x0E             /* a 16-bit TSS: IP, FLAGS, SP, */
        movw    $0x2, 0x9100 + 0x10
        movw    $0x6800, 0x9100 + 0x1A
        movw    $0x10, 0x9100 + 0x22              /* ES CS SS DS, no LDT */
        movw    $0x08, 0x9100 + 0x24
        movw    $0x10, 0x9100 + 0x26
        movw    $0x10, 0x9100 + 0x28
        movw    $0, 0x9100 + 0x2A
        movl    $0x00200000, idt + 0x40 * 8
        movl    $0x00008500, idt + 0x40 * 8 + 4
        lidt    idtr
        mov     $0x18, %ax
        ltr     %ax
        mov     $0x12345678, %esi
        int     $0x40
        mov     %esi, 0x50C
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt
taskb:  str     %ax
        mov     %eax, 0x500
        mov     0x9100, %eax
        mov     %eax, 0x504
        mov     %esp, 0x508
        mov     $0xB0B, %si
        iret
        TASK32_MAKER
        TASK_GDT 0x9000
        .word   0x2B, 0x9100, 0x8100, 0            /* 20h: a 16-bit TSS */
        GDTR_IDTR
        END_BOOT_SECTOR
        .set    idt, 0x8000
"""


def test_int_through_a_task_gate_to_a_16_bit_tss(firmware, tmp_path):
    tr, link, esp, esi = _run(firmware, boot_sector(tmp_path, "tss16", TSS16_TASK), 4)
    assert tr & 0xFFFF == 0x20 and link & 0xFFFF == 0x18 and esp & 0xFFFF == 0x6800
    assert esi == 0x12345678                     # A's 32-bit ESI back after B's iret
