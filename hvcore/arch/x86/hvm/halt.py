"""Telling a `hlt` from a kick when a run ends with nothing recorded.

Both end `emu_start` quietly. A kick goes through `uc_emu_stop`, which sets the
engine's stop-request flag; `hlt` does not. Where that flag lives in the engine's
handle is found once per process, by a kicked run and a halted run of a probe engine
(a wrong or missing answer is refused, never guessed), and checked by
tests/test_hvm_cpu.py.
"""
from __future__ import annotations

import ctypes
import functools

from hvcore import engine as eng

_SPAN = 0x4000
_PROBE_CODE = bytes([0x90, 0x90, 0xF4, 0x90, 0xEB, 0xFE])    # nop nop hlt nop jmp $


@functools.lru_cache(maxsize=1)
def stop_request_offset() -> int:
    from hvcore.arch.x86.hvm.cpu_state import CpuState
    probe = eng.Engine()
    try:
        probe.uc.mem_map(0, 1 << 16)
        probe.uc.mem_write(0x7C00, _PROBE_CODE)
        probe.stop_address = 0xF000
        state = CpuState(probe)
        state.reset(cs=0, ip=0x7C00)
        handle = eng._handle(probe.uc)
        seen = []
        for kicked in (False, True, False, True):
            if kicked:
                probe.kick()
            probe.run(0x7C03 if kicked else 0x7C00)
            seen.append(eng._read_own(handle, _SPAN) or b"")
        hits = [o for o in range(_SPAN) if seen[0][o] == seen[2][o] == 0
                and seen[1][o] == seen[3][o] == 1]
        if len(hits) != 1:
            raise eng.EngineError(f"cannot locate the engine's stop request ({len(hits)} candidates)")
        return hits[0]
    finally:
        probe.close()


def stopped_by_request(engine: eng.Engine) -> bool:
    """The last run ended through uc_emu_stop (a kick or one of our hooks), not hlt."""
    return ctypes.c_uint8.from_address(eng._handle(engine.uc) + stop_request_offset()).value != 0
