"""Facts about the Unicorn engine that the run loop is built on (see hvcore/engine.py).

Each was measured; if a new engine release changes one, these fail before guests do.
"""
import struct

import pytest
from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_64, Uc
from unicorn import x86_const as X

from hvcore.engine import Engine, EngineError


def _ring3_engine(code: bytes):
    """A bare engine with paging, a Xen-like GDT and ring-3 64-bit code at 0x100000."""
    from hvcore.arch.x86.pv import layout as L
    eng = Engine()
    uc = eng.uc
    uc.mem_map(0, 4 << 20)
    w = lambda a, v: uc.mem_write(a, struct.pack("<Q", v))
    w(0x1000, 0x2000 | 7); w(0x2000, 0x3000 | 7)
    for i in range(2):
        w(0x3000 + 8 * i, (i << 21) | 0x87)           # 2 MiB user pages
    gdt = 0x200000
    uc.mem_write(gdt + 0xE000, L.xen_gdt_page(True))
    uc.mem_write(0x100000, code)
    uc.mem_write(0x180000, b"\x48\xcf")              # iretq stub (same page table: user
    eng.iret_stub, eng.iret_frame_virt, eng.iret_frame_paddr = 0x180000, 0x181000, 0x181000
    eng.stop_address = 0x1FF000
    uc.reg_write(X.UC_X86_REG_CR3, 0x1000)
    uc.reg_write(X.UC_X86_REG_CR4, 0x6A0)
    uc.reg_write(X.UC_X86_REG_CR0, 0x80010033)
    uc.reg_write(X.UC_X86_REG_GDTR, (0, gdt, 0xEFFF, 0))
    eng.iret_to(0x100000, 0xE033, 0x202, 0x1F0000, 0xE02B)
    return eng


def test_iret_entry_lands_in_ring_3():
    eng = _ring3_engine(b"\x90" * 16)
    assert eng.cpl == 3
    assert eng.reg(X.UC_X86_REG_RIP) == 0x100000
    assert eng.reg(X.UC_X86_REG_CS) == 0xE033


def test_repeated_gp_traps_do_not_escalate_to_double_fault():
    # without clearing the engine's in-flight exception, the 2nd #GP would be #DF (8)
    eng = _ring3_engine(b"\xfa" * 8 + b"\xf4")
    vectors = []
    rip = 0x100000
    for _ in range(5):
        exit = eng.run(rip)
        vectors.append(exit.vector)
        rip = eng.reg(X.UC_X86_REG_RIP) + 1
    assert vectors == [13] * 5


def test_reg_write_cs_does_not_change_code_size_in_long_mode():
    # why guest entry goes through a real iretq: the selector changes, the mode does not
    eng = _ring3_engine(b"\x90" * 16)
    eng.uc.reg_write(X.UC_X86_REG_CS, 0xE023)       # a compat-mode descriptor
    assert eng.cpu.hflags.value & (1 << 15)          # HF_CS64 still set


def test_iret_entry_to_compat_mode_runs_32_bit_code():
    eng = _ring3_engine(b"\x90")
    # `lea esp, [0x1f0100]` is absolute in 32-bit code, RIP-relative in 64-bit code
    eng.uc.mem_write(0x100100, b"\x8d\x25\x00\x01\x1f\x00\xf4")
    eng.iret_to(0x100100, 0xE023, 0x202, 0x1F0000, 0xE02B)
    assert not eng.cpu.hflags.value & (1 << 15)
    eng.run(0x100100)
    assert eng.reg(X.UC_X86_REG_ESP) == 0x1F0100


def test_syscall_stops_past_the_instruction():
    eng = _ring3_engine(b"\x0f\x05\x90")
    exit = eng.run(0x100000)
    assert exit.kind == "syscall"
    assert eng.reg(X.UC_X86_REG_RIP) == 0x100002


def test_inline_rdtsc_hook_replaces_the_instruction():
    eng = _ring3_engine(b"\x0f\x31\xf4")
    eng.add_inline_insn_hook(X.UC_X86_INS_RDTSC,
                             lambda: eng.set_reg(X.UC_X86_REG_RAX, 0x1234) or eng.set_reg(X.UC_X86_REG_RDX, 0))
    eng.run(0x100000)
    assert eng.reg(X.UC_X86_REG_RAX) == 0x1234


def test_hook_exception_is_reported_not_swallowed():
    eng = _ring3_engine(b"\x0f\xa2\xf4")
    eng.add_inline_insn_hook(X.UC_X86_INS_CPUID, lambda: 1 / 0)
    exit = eng.run(0x100000)
    assert exit.kind == "hook_error"
    assert "ZeroDivisionError" in exit.detail


# ---- what the gdb stub's hooks rely on (hvcore/gdb/breakpoints.py) ----------------------
_COUNT_TO_3 = bytes.fromhex("b801000000" "ffc0" "ffc0") + b"\xf4"   # eax=1; inc; inc; hlt


def test_code_hook_misses_translated_blocks_until_they_are_dropped():
    from unicorn import UC_HOOK_CODE
    eng = _ring3_engine(_COUNT_TO_3)
    eng.run(0x100000)                                   # translates the block
    seen = []
    eng.uc.hook_add(UC_HOOK_CODE, lambda uc, a, s, d: seen.append(a), None, 0x100007, 0x100007)
    eng.run(0x100000)
    assert seen == []                                    # the cached block has no hook call
    hits = []
    eng.add_code_hook(0x100007, 0x100007, lambda a: hits.append(a) or True)   # drops it
    eng.run(0x100000)
    assert hits == [0x100007]
    assert eng.reg(X.UC_X86_REG_RIP) == 0x100007 and eng.reg(X.UC_X86_REG_EAX) == 2  # not run


def test_memory_hooks_are_checked_against_physical_addresses():
    from unicorn import UC_HOOK_MEM_WRITE
    # mov rax, 0x40100800 (virtual alias of physical 0x100800); mov dword [rax], 9; hlt
    code = bytes.fromhex("48b8" + (0x40100800).to_bytes(8, "little").hex() + "c70009000000f4")
    eng = _ring3_engine(code)
    eng.uc.mem_write(0x2000 + 8, struct.pack("<Q", 0x4000 | 7))     # L3[1] -> L2 at 0x4000
    eng.uc.mem_write(0x4000, struct.pack("<Q", 0x87))              # 2 MiB page at 0
    eng.flush_tlb()
    virt, phys = [], []
    eng.add_access_hook(UC_HOOK_MEM_WRITE, 0x40100800, 0x40100803, lambda *a: virt.append(a) or True)
    eng.add_access_hook(UC_HOOK_MEM_WRITE, 0x100800, 0x100803, lambda *a: phys.append(a) or True)
    eng.run(0x100000)
    assert virt == [] and phys and phys[0][1] == 0x100800


def test_stop_in_a_memory_hook_leaves_the_instruction_half_done():
    # why watchpoints stop through the per-instruction C hook instead
    from unicorn import UC_HOOK_MEM_WRITE
    inc_mem = bytes.fromhex("ff042500081000") + b"\xf4"             # inc dword [0x100800]
    eng = _ring3_engine(inc_mem)
    eng.uc.hook_add(UC_HOOK_MEM_WRITE, lambda uc, *a: uc.emu_stop(), None, 0x100800, 0x100803)
    eng.run(0x100000)
    assert eng.uc.mem_read(0x100800, 4) == b"\x01\0\0\0"
    assert eng.reg(X.UC_X86_REG_RIP) == 0x100000         # done, yet RIP still on it
    eng2 = _ring3_engine(inc_mem)
    eng2.add_access_hook(UC_HOOK_MEM_WRITE, 0x100800, 0x100803, lambda *a: True)
    eng2.run(0x100000)
    assert eng2.reg(X.UC_X86_REG_RIP) == 0x100007        # stopped after it, exactly once
    assert eng2.uc.mem_read(0x100800, 4) == b"\x01\0\0\0"


def test_step_runs_exactly_one_instruction():
    eng = _ring3_engine(_COUNT_TO_3)
    rips = []
    for _ in range(3):
        eng.step(eng.reg(X.UC_X86_REG_RIP))
        rips.append(eng.reg(X.UC_X86_REG_RIP))
    assert rips == [0x100005, 0x100007, 0x100009] and eng.reg(X.UC_X86_REG_EAX) == 3


def test_cpu_state_is_found_with_a_wrong_or_missing_hint(tmp_path, monkeypatch):
    """The remembered path to the engine's CPU state is only a hint: a wrong one (or
    none) falls back to the scan, which finds the state and remembers the right path."""
    import json

    from hvcore import engine as eng
    hint = tmp_path / "hint.json"
    monkeypatch.setattr(eng, "_HINT_FILE", str(hint))
    for bad in (None, {"field": 0, "distance": 8}, "not json"):
        if bad is None:
            hint.unlink(missing_ok=True)
        else:
            hint.write_text(bad if isinstance(bad, str) else json.dumps(bad))
        e = eng.Engine()
        e.uc.reg_write(X.UC_X86_REG_RAX, 0x1234)
        assert e.cpu.hflags.value & 0x80                     # HF_PE: the real state
        saved = json.loads(hint.read_text())
        assert saved != {"field": 0, "distance": 8}
        again = eng.Engine()                                 # now found by the hint
        assert eng._env_by_hint(again.uc) is not None
