"""Benchmark rows against QEMU: our teaching kernel (guests/hvm/teach/, `tk`) booted from
the same two disk images by `hv run` (type = "hvm", our BIOS) and by QEMU TCG
(`qemu-system-i386`, SeaBIOS), timed from process start to the shell's prompt on the
serial console. Samples are paired: one boot of each, taking turns at going first, and
the sample is their ratio (ours / QEMU), as the machine is shared.

QEMU comes from Debian's qemu-system-x86; it is installed here when missing (as root or
with sudo), and a missing reference is said in one line, not skipped silently.
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HVM_BUILD = ROOT / "guests" / "hvm" / "build"
PROMPT = b"tk shell:"
QEMU = "qemu-system-i386"
QEMU_PACKAGE = "qemu-system-x86"


class ReferenceMissing(Exception):
    """The reference could not be installed or run (one line saying which)."""


def ensure_qemu() -> str:
    """The QEMU binary, installed from Debian if it is missing."""
    found = shutil.which(QEMU)
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", QEMU_PACKAGE],
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                   capture_output=True)
    found = shutil.which(QEMU)
    if not found:
        raise ReferenceMissing(f"{QEMU} (Debian package {QEMU_PACKAGE}) is missing and could "
                               "not be installed: no QEMU reference")
    return found


def _time_to_prompt(argv: list[str], timeout: float) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    seen = b""
    try:
        while PROMPT not in seen:
            left = start + timeout - time.perf_counter()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                raise ReferenceMissing(f"{Path(argv[0]).name}: no tk prompt in {timeout:.0f} s")
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise ReferenceMissing(f"{Path(argv[0]).name} ended before tk's prompt")
            seen += chunk
        return time.perf_counter() - start
    finally:
        proc.kill()
        proc.wait()


def _images(folder: Path) -> tuple[Path, Path]:
    boot, fs = folder / "tk.img", folder / "tkfs.img"
    boot.write_bytes((HVM_BUILD / "tk.img").read_bytes())
    fs.write_bytes((HVM_BUILD / "tkfs.img").read_bytes())
    return boot, fs


def tk_boot_ours(boot: Path, fs: Path, timeout: float = 60) -> float:
    cfg = boot.with_name("tk.cfg")
    cfg.write_text(f'name = "tk"\ntype = "hvm"\nmemory = 64\n'
                   f'disk = [ "format=raw, vdev=hda, access=rw, target={boot}",\n'
                   f'         "format=raw, vdev=hdb, access=ro, target={fs}" ]\n')
    return _time_to_prompt([sys.executable, "-m", "tools.hv", "run", str(cfg)], timeout)


def tk_boot_qemu(qemu: str, boot: Path, fs: Path, timeout: float = 60) -> float:
    return _time_to_prompt([qemu, "-m", "64", "-display", "none", "-monitor", "none",
                            "-serial", "stdio", "-accel", "tcg",
                            "-drive", f"file={boot},format=raw,if=ide,index=0",
                            "-drive", f"file={fs},format=raw,if=ide,index=1"], timeout)


def bench_tk_vs_qemu(samples: int, log) -> tuple[list[float], list[float], list[float]]:
    """(ours seconds, QEMU seconds, paired ratios) over `samples` pairs."""
    qemu = ensure_qemu()
    with tempfile.TemporaryDirectory() as tmp:
        boot, fs = _images(Path(tmp))
        return _paired(samples, lambda: tk_boot_ours(boot, fs),
                       lambda: tk_boot_qemu(qemu, boot, fs), "tk boot", log)


# ---- a Multiboot kernel booted directly: `hv run` against `qemu -kernel` ---------------
MULTIBOOT = HVM_BUILD / "multiboot.elf"
MULTIBOOT_EXIT = (0x21 << 1) | 1       # its write of 0x21 to the debug-exit port 0xF4
QEMU64 = "qemu-system-x86_64"


def _time_to_exit(argv: list[str], timeout: float) -> float:
    start = time.perf_counter()
    try:
        code = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        raise ReferenceMissing(f"{Path(argv[0]).name}: the Multiboot kernel did not exit in "
                               f"{timeout:.0f} s") from None
    if code != MULTIBOOT_EXIT:
        raise ReferenceMissing(f"{Path(argv[0]).name}: the Multiboot kernel exited {code}, "
                               f"not {MULTIBOOT_EXIT}")
    return time.perf_counter() - start


def multiboot_exit_ours(folder: Path, timeout: float = 60) -> float:
    cfg = folder / "mb.cfg"
    cfg.write_text(f'name = "mb"\ntype = "hvm"\nmemory = 16\nkernel = "{MULTIBOOT}"\n')
    return _time_to_exit([sys.executable, "-m", "tools.hv", "run", str(cfg)], timeout)


def multiboot_exit_qemu(qemu: str, timeout: float = 60) -> float:
    return _time_to_exit([qemu, "-m", "16", "-display", "none", "-monitor", "none",
                          "-serial", "none", "-accel", "tcg", "-kernel", str(MULTIBOOT),
                          "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"], timeout)


def bench_multiboot_vs_qemu(samples: int, log) -> tuple[list[float], list[float], list[float]]:
    """A Multiboot hello kernel from process start to its exit: (ours, QEMU, ratios)."""
    ensure_qemu()
    qemu = shutil.which(QEMU64)
    if not qemu:
        raise ReferenceMissing(f"{QEMU64} is missing: no QEMU reference")
    with tempfile.TemporaryDirectory() as tmp:
        return _paired(samples, lambda: multiboot_exit_ours(Path(tmp)),
                       lambda: multiboot_exit_qemu(qemu), "multiboot boot-to-exit", log)


def _paired(samples: int, ours_fn, qemu_fn, what: str,
            log) -> tuple[list[float], list[float], list[float]]:
    """One run of each per sample, taking turns at going first (the machine is shared)."""
    ours, theirs, ratios = [], [], []
    for i in range(samples):
        if i % 2 == 0:
            a, b = ours_fn(), qemu_fn()
        else:
            b = qemu_fn()
            a = ours_fn()
        ours.append(a)
        theirs.append(b)
        ratios.append(a / b)
        log(f"  {what} {i + 1}/{samples}: ours {a:.2f} s, QEMU {b:.2f} s, ratio {a / b:.2f}")
    return ours, theirs, ratios
