"""Benchmark rows for boot time: from `hv run` starting to Debian's PV GRUB printing its
prompt (with a disk image as xvda), measured on a pseudo-terminal as a user sees it."""
from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRUB = {"pv64": ROOT / ".cache" / "grub-xen" / "grub-x86_64-xen.bin",
        "pv32": ROOT / ".cache" / "grub-xen" / "grub-i386-xen.bin"}
GRUB_BOOT_TARGET_S = 3.0
PROMPT = "grub>"


def grub_boot_seconds(abi: str, disk: Path, timeout: float = 60, *hv_args: str) -> float:
    """One boot: seconds until the prompt appears; GRUB is then halted. `hv_args` go
    to `hv run` (e.g. --trace)."""
    from tools.pty_session import Terminal
    cfg = disk.with_name(f"grub-{abi}.cfg")
    cfg.write_text(f'name = "grub-boot"\nkernel = "{GRUB[abi]}"\nmemory = 64\n'
                   f"disk = ['{disk},raw,xvda,r']\n")
    start = time.perf_counter()
    term = Terminal(str(cfg), *hv_args)
    try:
        term.expect(PROMPT, timeout)
        elapsed = time.perf_counter() - start
        term.type("halt")
        term.wait()
        return elapsed
    finally:
        term.close()


def make_boot_disk(folder: Path) -> Path:
    from tools.disk_images import ext2_disk
    return ext2_disk(folder / "boot.img", {"boot/grub/grub.cfg": 'echo "hvcore bench"\n'})


def bench_grub_boot(samples: int, log) -> dict[str, list[float]]:
    """Seconds to the prompt, `samples` boots per ABI (taking turns)."""
    subprocess.run([str(ROOT / "tools" / "fetch_grub_xen.sh")], check=True)
    out: dict[str, list[float]] = {"pv64": [], "pv32": []}
    with tempfile.TemporaryDirectory() as tmp:
        disk = make_boot_disk(Path(tmp))
        for i in range(samples):
            for abi in out:
                out[abi].append(grub_boot_seconds(abi, disk))
            log(f"  grub boot {i + 1}/{samples}: " +
                ", ".join(f"{abi} {v[-1]:.2f} s" for abi, v in out.items()))
    return out
