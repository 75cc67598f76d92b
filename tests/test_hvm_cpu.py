"""The HVM CPU climb: guest code goes real mode -> protected mode -> long mode by itself
in an engine opened in 64-bit mode and reset to real mode by hvcore (cpu_state.reset).

Also the facts the HVM vCPU relies on: hlt ends a run with RIP past it, the interrupt
shadow after sti is visible in hflags, and a real-mode reset executes 16-bit code.
"""
from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from unicorn import x86_const as X

from hvcore import engine as eng
from hvcore.arch.x86.hvm.cpu_state import CS, CpuState, HF_INHIBIT_IRQ

CLIMB = r"""
.code16
.globl _start
_start:
  cli
  xor %ax,%ax
  mov %ax,%ds
  movw $0x1616, 0x500
  lgdtl gdtr - _start + 0x7c00
  mov %cr0,%eax
  or $1,%eax
  mov %eax,%cr0
  ljmpl $0x08, $(pm32 - _start + 0x7c00)
.code32
pm32:
  mov $0x10,%ax
  mov %ax,%ds
  mov %ax,%es
  mov %ax,%ss
  mov $0x7000,%esp
  movl $0x32323232, 0x504
  movl $0x11003, 0x10000          /* PML4 -> PDPT -> PD with one 2 MiB page */
  movl $0x12003, 0x11000
  movl $0x00000083, 0x12000
  mov %cr4,%eax
  or $0x20,%eax                   /* PAE */
  mov %eax,%cr4
  mov $0x10000,%eax
  mov %eax,%cr3
  mov $0xC0000080,%ecx            /* EFER.LME */
  rdmsr
  or $0x100,%eax
  wrmsr
  mov %cr0,%eax
  or $0x80000000,%eax
  mov %eax,%cr0
  ljmp $0x18, $(lm64 - _start + 0x7c00)
.code64
lm64:
  movabs $0x6464646464646464,%rax
  mov %rax, 0x508
  mov $0x0123456789abcdef, %r15
  sti
  nop
  hlt
.p2align 3
gdt:
  .quad 0
  .quad 0x00CF9A000000FFFF
  .quad 0x00CF92000000FFFF
  .quad 0x00AF9A000000FFFF
gdtr:
  .word 31
  .long gdt - _start + 0x7c00
"""


def assemble(tmp_path: Path, source: str) -> bytes:
    src, obj, out = tmp_path / "a.S", tmp_path / "a.o", tmp_path / "a.bin"
    src.write_text(source)
    subprocess.run(["as", "--32", "-o", str(obj), str(src)], check=True)
    subprocess.run(["objcopy", "-O", "binary", str(obj), str(out)], check=True)
    return out.read_bytes()


@pytest.fixture
def cpu():
    engine = eng.Engine()
    engine.uc.mem_map(0, 2 << 20)
    engine.stop_address = 0x1FF000        # mapped, never executed
    state = CpuState(engine)
    yield engine, state
    engine.close()


def test_reset_state_is_real_mode(cpu):
    engine, state = cpu
    state.reset()
    assert not state.protected and not state.long_mode and not state.code32
    assert engine.reg(X.UC_X86_REG_CR0) & 0x80000001 == 0
    assert engine.uc.msr_read(0xC0000080) == 0
    assert state.segment(CS).base == 0xF0000 and state.segment(CS).selector == 0xF000
    assert engine.reg(X.UC_X86_REG_RIP) == 0xFFF0


def test_real_mode_reset_vector_runs_16_bit_code(cpu):
    engine, state = cpu
    # F000:FFF0: jmp far 0000:7C00; there: mov $0x1234,%ax; hlt
    engine.uc.mem_write(0xFFFF0, bytes([0xEA, 0x00, 0x7C, 0x00, 0x00]))
    engine.uc.mem_write(0x7C00, bytes([0xB8, 0x34, 0x12, 0xF4]))
    state.reset()
    exit = engine.run(0xFFF0)
    assert exit.kind == eng.EXIT_TIMEOUT            # hlt at CPL 0 ends the run
    assert engine.reg(X.UC_X86_REG_RIP) == 0x7C04   # past the hlt
    assert engine.reg(X.UC_X86_REG_AX) == 0x1234
    assert state.segment(CS).base == 0


def test_climb_real_to_protected_to_long_mode(cpu, tmp_path):
    engine, state = cpu
    code = assemble(tmp_path, CLIMB)
    engine.uc.mem_write(0x7C00, code)
    state.reset(cs=0, ip=0x7C00)
    exit = engine.run(0x7C00)
    assert exit.kind == eng.EXIT_TIMEOUT, exit
    assert engine.uc.mem_read(0x500, 16) == struct.pack("<HH3I", 0x1616, 0, 0x32323232,
                                                         0x64646464, 0x64646464)
    assert state.long_mode and state.code64
    assert engine.reg(X.UC_X86_REG_RAX) == 0x6464646464646464
    assert engine.reg(X.UC_X86_REG_R15) == 0x0123456789ABCDEF
    assert engine.uc.msr_read(0xC0000080) & 0x500 == 0x500
    assert engine.reg(X.UC_X86_REG_RFLAGS) & 0x200      # sti ran


def test_interrupt_shadow_is_visible_after_sti(cpu):
    """A stop at a block boundary (how kicks stop a vCPU) right after sti shows the
    shadow; the next instruction clears it."""
    from unicorn import UC_HOOK_BLOCK
    engine, state = cpu
    engine.uc.mem_write(0x7C00, bytes([0xFB, 0x90, 0x90, 0xF4]))    # sti; nop; nop; hlt
    state.reset(cs=0, ip=0x7C00)
    seen = []

    def on_block(uc, address, _size, _data):
        if address == 0x7C01 and not seen:
            seen.append(state.interrupt_shadow)
            uc.emu_stop()
    handle = engine.uc.hook_add(UC_HOOK_BLOCK, on_block)
    engine.run(0x7C00)
    engine.uc.hook_del(handle)
    assert seen == [True] and engine.reg(X.UC_X86_REG_RIP) == 0x7C01
    assert state.interrupt_shadow
    engine.run(0x7C01)
    assert not state.interrupt_shadow and engine.reg(X.UC_X86_REG_RIP) == 0x7C04


def test_error_code_and_int_flag_are_readable_while_the_exception_is_raised(cpu):
    """Unicorn does not report error codes; the engine's CPU state has them while the
    intr hook runs (the HVM vCPU reads them there)."""
    from unicorn import UC_HOOK_INTR
    engine, state = cpu
    seen = []
    engine.uc.hook_add(UC_HOOK_INTR, lambda uc, vector, _d: seen.append(
        (vector, state.exception_error_code, state.exception_is_int)))
    engine.uc.mem_write(0x600, struct.pack("<HI", 0x17, 0x800))     # GDT limit 0x17
    code = bytes([0xCD, 0x42,                                        # int $0x42
                  0x0F, 0x01, 0x16, 0x00, 0x06,                      # lgdt [0x600]
                  0x0F, 0x20, 0xC0, 0x0C, 0x01, 0x0F, 0x22, 0xC0,    # CR0.PE
                  0xB8, 0x34, 0x12, 0x8E, 0xD8, 0xF4])               # mov $0x1234,%ax; mov %ax,%ds
    engine.uc.mem_write(0x7C00, code)
    state.reset(cs=0, ip=0x7C00)
    exit = engine.run(0x7C00)
    assert exit.kind == eng.EXIT_TRAP and exit.vector == 0x42
    assert engine.reg(X.UC_X86_REG_RIP) == 0x7C02 and seen[-1][2] is True
    exit = engine.run(0x7C02)
    assert exit.kind == eng.EXIT_TRAP and exit.vector == 13
    assert seen[-1] == (13, 0x1234, False)                          # #GP(selector)


def test_stop_request_tells_hlt_from_a_kick(cpu):
    from hvcore.arch.x86.hvm import halt
    engine, state = cpu
    engine.uc.mem_write(0x7C00, bytes([0x90, 0xF4, 0x90, 0xEB, 0xFE]))
    state.reset(cs=0, ip=0x7C00)
    engine.run(0x7C00)
    assert engine.reg(X.UC_X86_REG_RIP) == 0x7C02 and not halt.stopped_by_request(engine)
    engine.kick()
    engine.run(0x7C02)
    assert halt.stopped_by_request(engine)
