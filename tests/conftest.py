"""Shared fixtures: the guest kernels (built by the project's own build step) and a
runner for the real `hv` command line."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUEST_BUILD = ROOT / "guests" / "build"
ABIS = ("pv64", "pv32")


@pytest.fixture(scope="session")
def guests() -> Path:
    """Build the guest kernels (incremental) and return the build folder."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "guests")], check=True)
    return GUEST_BUILD


def kernel(abi: str, name: str) -> Path:
    return GUEST_BUILD / abi / f"{name}.elf"


def guest_config(folder: Path, name: str, abi: str, kernel_name: str, extra: str) -> Path:
    """An xl.cfg for one of our kernels: 32 MiB, `extra` as its command line, destroyed
    if it crashes (two-domain tests read the survivor's log)."""
    path = folder / f"{name}.cfg"
    path.write_text(f'name = "{name}"\nkernel = "{kernel(abi, kernel_name)}"\n'
                    f'memory = 32\nextra = "{extra}"\non_crash = "destroy"\n')
    return path


@dataclass
class HvResult:
    code: int
    stdout: str
    stderr: str


def run_hv(*args: str, timeout: float = 120, input: str | None = None,
           env: dict | None = None) -> HvResult:
    """Run `hv` exactly as a user would (a fresh process, real CLI); `input` is its stdin,
    `env` extra environment (e.g. HV_STATE_DIR for a private host)."""
    import os
    proc = subprocess.run([sys.executable, "-m", "tools.hv", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          input=input if input is not None else "",
                          env={**os.environ, **(env or {})})
    return HvResult(proc.returncode, proc.stdout, proc.stderr)
