"""Benchmark rows for boot and scale: a PV hello kernel from `hv run` to its exit, and
N domains booted at once on one host (`hv up`, `hv create`), each its own process: the
time until all of them are up, and each domain process's memory beyond guest RAM.

Guest RAM is a memfd (shared memory): it shows in a process's RssShmem, so the memory a
domain costs beyond its guest RAM is its private resident memory, RssAnon (the
interpreter, the engine's translation cache, our tables), read from /proc/PID/status.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = ROOT / "guests" / "build" / "pv64" / "shutdown.elf"
HELLO = {abi: ROOT / "guests" / "build" / abi / "hello.elf" for abi in ("pv64", "pv32")}
READY = "shutdown: ready"
SCALE_COUNTS = (1, 8, 32)
RSS_TARGET_MIB = 64
MEMORY_MIB = 8


class ScaleError(Exception):
    """The domains did not all come up (which, and what their console said)."""


@dataclass
class ScaleSample:
    domains: int
    seconds: float                  # from the first `hv create` until all are ready
    rss_anon_mib: list[float]       # per domain process


def hello_boot_seconds(abi: str) -> float:
    """`hv run` of the hello kernel, from start to its exit (process start included)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tools.hv", "run", str(HELLO[abi]),
                           "--timeout", "60"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ScaleError(f"hello ({abi}) exited {proc.returncode}: {proc.stderr[-300:]}")
    return time.perf_counter() - start


def boot_many(count: int) -> ScaleSample:
    """`count` domains on a private host, created back to back; wait until every one
    has said it is ready, read each domain process's RssAnon, then take them down."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HV_STATE_DIR": f"{tmp}/state"}

        def hv(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "tools.hv", *args], cwd=ROOT,
                                  env=env, capture_output=True, text=True, timeout=300)
        try:
            start = time.perf_counter()
            for i in range(count):
                cfg = Path(tmp) / f"d{i}.cfg"
                cfg.write_text(f'name = "scale{i}"\nkernel = "{KERNEL}"\n'
                               f"memory = {MEMORY_MIB}\n")
                made = hv("create", str(cfg))
                if made.returncode:
                    raise ScaleError(f"hv create #{i + 1}: {made.stderr.strip()}")
            logs = [Path(tmp) / "state" / f"d{i + 1}.log" for i in range(count)]
            _wait_ready(logs, deadline=time.monotonic() + 60 + 5 * count)
            seconds = time.perf_counter() - start
            pids = [row["pid"] for row in json.loads(hv("list", "-l").stdout) if "pid" in row]
            return ScaleSample(count, seconds, [_rss_anon_mib(pid) for pid in pids])
        finally:
            hv("down")


def _wait_ready(logs: list[Path], deadline: float) -> None:
    waiting = list(logs)
    while waiting:
        waiting = [log for log in waiting
                   if READY not in (log.read_text(errors="replace") if log.exists() else "")]
        if waiting and time.monotonic() > deadline:
            raise ScaleError(f"{len(waiting)} of {len(logs)} domains never said they were ready")
        time.sleep(0.05)


def _rss_anon_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise ScaleError(f"no RssAnon for pid {pid}")
