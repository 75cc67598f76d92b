"""Benchmark rows for boot time: from `hv run` starting to Debian's PV GRUB printing its
prompt (with a disk image as xvda), measured on a pseudo-terminal as a user sees it."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRUB = {"pv64": ROOT / ".cache" / "grub-xen" / "grub-x86_64-xen.bin",
        "pv32": ROOT / ".cache" / "grub-xen" / "grub-i386-xen.bin"}
GRUB_BOOT_TARGET_S = 3.0
PROMPT = b"grub>"


def grub_boot_seconds(abi: str, disk: Path, timeout: float = 60) -> float:
    """One boot: seconds until the prompt appears; GRUB is then halted."""
    cfg = disk.with_name(f"grub-{abi}.cfg")
    cfg.write_text(f'name = "grub-boot"\nkernel = "{GRUB[abi]}"\nmemory = 64\n'
                   f"disk = ['{disk},raw,xvda,r']\n")
    master, slave = pty.openpty()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tools.hv", "run", str(cfg)], cwd=ROOT,
                            stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""
    try:
        while PROMPT not in seen:
            left = start + timeout - time.perf_counter()
            if left <= 0 or not select.select([master], [], [], left)[0]:
                raise RuntimeError(f"GRUB ({abi}) printed no prompt within {timeout:.0f} s")
            chunk = os.read(master, 65536)
            if not chunk:
                raise RuntimeError(f"hv run exited before GRUB's prompt ({abi})")
            seen += chunk
        elapsed = time.perf_counter() - start
        os.write(master, b"halt\r")
        proc.wait(timeout=30)
        return elapsed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def make_boot_disk(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from disk_images import ext2_disk
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
