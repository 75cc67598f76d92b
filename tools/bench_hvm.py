"""The HVM guest of the CPU row (tools/bench.py): guests/hvm/bench_loop.c, a Multiboot
kernel booted directly (no firmware) in a fresh HVM domain, timed from the start of its
run loop to its exit through the test-exit port. It runs the 32-bit loop body of the PV
bench_loop, so the bare engine reference is the same as pv32's."""
from __future__ import annotations

import gc
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = ROOT / "guests" / "hvm" / "build" / "bench_loop.elf"
MEMORY_MIB = 16
TIMEOUT_S = 300.0
PASS_EXIT = (0x2A << 1) | 1          # what the test-exit port makes of PASS


class HvmLoopGuest:
    """`run(cmdline) -> (seconds, console text)`, as tools.bench.Guest for PV."""

    kernel, abi = "bench_loop", "hvm"

    def __init__(self, loop: tuple[bytes, int]) -> None:
        self.path = KERNEL
        self.loop = loop

    def run(self, cmdline: str) -> tuple[float, str]:
        from hvcore.hvm.direct_boot import boot_multiboot
        from hvcore.hvm.domain import build_hvm_domain
        from hvcore.hvm.run import run_hvm_domain
        out = bytearray()
        dom = build_hvm_domain(1, "bench", MEMORY_MIB, None, out.extend)
        try:
            boot_multiboot(dom, str(self.path), cmdline)
            gc.collect()
            t0 = time.perf_counter()
            reason = run_hvm_domain(dom, time.monotonic() + TIMEOUT_S)
            elapsed = time.perf_counter() - t0
            report, code = dom.crash_report, dom.exit_code
        finally:
            dom.destroy()
        text = out.decode(errors="replace")
        if reason != "poweroff" or code != PASS_EXIT:
            from tools.bench import BenchError
            raise BenchError(f"hvm/bench_loop.elf [{cmdline}] ended with {reason!r} "
                               f"(exit {code}): {text[-500:]}{report or ''}")
        return elapsed, text
