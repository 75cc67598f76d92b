"""HVM guests under `hv run --deterministic | --record | --replay` (hvcore/replay/hvm.py),
with the real CLI and real guests: the firmware-booted pc kernel and tk, directly
booted PVH and Multiboot kernels, and the SMP boot sector.

Runs are compared by what the record file's last line says (the clock at the end and a
SHA-256 of guest RAM) and by the console; the PV smp test compares traces too.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_hv
from test_hvm_boot import config, hvm_guests  # noqa: F401 (fixture)
from test_snapshot_hvm import _tk_config

PVH = ROOT / "guests" / "pvh" / "build"


def _end(record: Path) -> dict:
    return json.loads(record.read_text().splitlines()[-1])


def _det_run(tmp: Path, name: str, *target: str) -> tuple[dict, str]:
    """One --deterministic run, recorded to learn where it ended: (end line, stdout)."""
    record = tmp / f"{name}.rec"
    result = run_hv("run", *target, "--deterministic", "--record", record, "--timeout", "60")
    assert result.code not in (2, 124), result.stdout + result.stderr
    return _end(record), result.stdout


def test_pc_kernel_runs_the_same_twice(hvm_guests, tmp_path):  # noqa: F811
    """pc: LAPIC timer interrupts, the IOAPIC, IDE reads and writes with completion
    interrupts, ring 3; from a fresh copy of its disk each time, both runs end at the
    same instruction with the same RAM and print the same."""
    ends = []
    for run in ("a", "b"):
        image = tmp_path / f"pc-{run}.img"
        shutil.copy(hvm_guests / "pc.img", image)
        end, out = _det_run(tmp_path, run, config(tmp_path, image, f"pc{run}"))
        ends.append((end["end"], end["memory_sha256"], out))
    assert ends[0] == ends[1]
    assert ends[0][0] > 1_000_000 and "timer" in ends[0][2].lower(), ends[0][2]


@pytest.mark.parametrize("name,kind", [("pvh64", "pvh"), ("mb32", "hvm")])
def test_xen_using_kernel_runs_the_same_twice(name, kind, tmp_path):
    """PVH and Multiboot kernels that use Xen (time records, event channels, xenstore
    answers they spin for): the same end, the same RAM. The console ring is drained by
    the host on its own time, so only the lines are compared, not their interleaving
    with console_io."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "guests" / "pvh")], check=True)
    runs = [_det_run(tmp_path, f"{name}{r}", "--type", kind, PVH / f"{name}.elf")
            for r in "ab"]
    (first, out1), (second, out2) = runs
    assert (first["end"], first["memory_sha256"]) == (second["end"], second["memory_sha256"])
    assert sorted(out1.splitlines()) == sorted(out2.splitlines())
    assert "pvh: all done" in out1


def test_tk_shell_recorded_then_replayed_without_input(hvm_guests, tmp_path):  # noqa: F811
    """tk's shell fed through hv run's stdin in pieces (its LAPIC timer ticking, input
    by UART interrupt through the IOAPIC), recorded; replayed with no stdin: the same
    transcript and exit code."""
    cfg = _tk_config(tmp_path, hvm_guests)
    record = tmp_path / "tk.rec"
    proc = subprocess.Popen([sys.executable, "-m", "tools.hv", "run", str(cfg), "--record",
                             str(record), "--timeout", "60"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)                                   # (held by the PC until tk reads)
    for piece in ("hel", "lo\n", "primes 500\n", "echo one two\n", "exit\n"):
        time.sleep(0.3)
        proc.stdin.write(piece)
        proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert "tk: init exited, powering off" in out, out + err
    assert "one two" in out and "primes below 500" in out
    lines = [json.loads(x) for x in record.read_text().splitlines()]
    fed = b"".join(bytes.fromhex(x["console"]) for x in lines if "console" in x)
    assert fed == b"hello\nprimes 500\necho one two\nexit\n"
    shutil.copy(hvm_guests / "tk.img", tmp_path / "tk.img")
    replay = run_hv("run", cfg, "--replay", record, "--timeout", "60")
    assert replay.stdout == out, replay.stderr
    assert replay.code == proc.returncode


def test_replay_refuses_another_disk(hvm_guests, tmp_path):  # noqa: F811
    image = tmp_path / "pc.img"
    shutil.copy(hvm_guests / "pc.img", image)
    end, _ = _det_run(tmp_path, "pc", config(tmp_path, image, "pc"))
    assert end["reason"]
    shutil.copy(hvm_guests / "hello.img", image)
    result = run_hv("run", config(tmp_path, image, "pc"), "--replay", tmp_path / "pc.rec")
    assert result.code == 2 and "recorded with another sha256" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_hvm_smp_runs_the_same_twice(hvm_guests, tmp_path):  # noqa: F811
    """smp.S with 4 vCPUs: the BSP starts the APs (INIT, STARTUP) and bounces IPIs off
    them; turns of fixed instruction budgets make the interleaving, and where each IPI
    lands, the same in both runs."""
    ends = []
    for run in ("a", "b"):
        image = tmp_path / f"smp-{run}.img"
        shutil.copy(hvm_guests / "smp.img", image)
        end, out = _det_run(tmp_path, run, config(tmp_path, image, f"smp{run}", "vcpus = 4\n"))
        assert "smp: APs up 3, IPIs taken 3, replies 3" in out, out
        ends.append((end["end"], end["memory_sha256"], out))
    assert ends[0] == ends[1]


def test_pv_smp_guest_gives_the_same_trace_twice(tmp_path):
    """guests/kernels/smp.c with 4 vCPUs (VCPUOP_initialise/up/down, event channels
    between them): the same trace, event for event, and the same end."""
    from conftest import kernel
    subprocess.run(["make", "-s", "-C", str(ROOT / "guests")], check=True)
    for run in "ab":
        result = run_hv("run", kernel("pv64", "smp"), "vcpus=4", "--deterministic",
                        "--record", tmp_path / f"{run}.rec", "--trace", "all",
                        "--trace-out", tmp_path / f"{run}.trace", "--timeout", "60")
        assert result.code == 0 and "smp: PASS" in result.stdout, result.stdout + result.stderr
    same = run_hv("trace", "diff", tmp_path / "a.trace", tmp_path / "b.trace")
    assert same.code == 0 and "traces match" in same.stdout, same.stdout
    assert _end(tmp_path / "a.rec") == _end(tmp_path / "b.rec")
