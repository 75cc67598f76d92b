"""`make demo`: boot the demo guests, 64-bit and 32-bit PAE PV, and show their consoles."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMOS = [
    ("pv64", "hello", "a 64-bit PV kernel (ring 3, 4-level paging, syscall hypercalls)"),
    ("pv32", "hello", "a 32-bit PAE PV kernel (ring 1, PAE paging, int $0x82 hypercalls)"),
    ("pv64", "traps", "exceptions bounced through the guest's trap table"),
    ("pv32", "usermode", "kernel -> user -> kernel round trips"),
]


def main() -> int:
    worst = 0
    for abi, name, what in DEMOS:
        kernel = ROOT / "guests" / "build" / abi / f"{name}.elf"
        print(f"\n=== hv run {kernel.relative_to(ROOT)}   ({what})", flush=True)
        rc = subprocess.call([sys.executable, "-m", "tools.hv", "run", str(kernel),
                              "--cmdline", f"demo={abi}", "--timeout", "60"], cwd=ROOT)
        worst = max(worst, rc)
    print("\nAll demo guests powered off cleanly." if worst == 0 else
          f"\nA demo guest did not power off cleanly (exit {worst}).")
    return worst


if __name__ == "__main__":
    sys.exit(main())
