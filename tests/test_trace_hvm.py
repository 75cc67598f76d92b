"""`hv run --trace` on HVM and PVH guests: real boot sectors, the pc kernel and the PVH
kernels through the real `hv` CLI, read back with the project's reader and `hv trace`."""
from __future__ import annotations

import collections
import json
import re
import subprocess

import pytest

from hvcore.trace import format as fmt
from hvcore.trace.reader import TraceFile

from conftest import ROOT, run_hv

HVM_BUILD = ROOT / "guests" / "hvm" / "build"
PVH_BUILD = ROOT / "guests" / "pvh" / "build"
# guests/hvm/hello.S from _start (16-bit code at 0x7C00)
HELLO_START = ["cli", "xor ax, ax", "mov ds, ax", "mov ss, ax", "mov sp, 0x7c00", "sti"]


@pytest.fixture(scope="module")
def built() -> None:
    for where in ("firmware", "guests/hvm", "guests/pvh"):
        subprocess.run(["make", "-s", "-C", str(ROOT / where)], check=True)


def disk_config(tmp_path, image: str) -> str:
    copy = tmp_path / image
    copy.write_bytes((HVM_BUILD / image).read_bytes())
    cfg = tmp_path / f"{copy.stem}.cfg"
    cfg.write_text(f'name = "{copy.stem}"\ntype = "hvm"\nmemory = 64\n'
                   f'disk = [ "format=raw, vdev=hda, access=rw, target={copy}" ]\n')
    return str(cfg)


def traced(tmp_path, spec: str, *what: str, code: int = 0):
    out = tmp_path / "t.trace"
    r = run_hv("run", *what, "--trace", spec, "--trace-out", out, "--timeout", "60")
    assert r.code == code, r.stderr
    return TraceFile(str(out)), r, out


def of_kind(trace: TraceFile, kind: int) -> list:
    return [e for e in trace if e.kind == kind]


def test_boot_sector_io_and_bios_calls_are_traced(built, tmp_path):
    trace, r, out = traced(tmp_path, "io,trap,sched", disk_config(tmp_path, "hello.img"),
                           code=33)
    io = of_kind(trace, fmt.IO)
    printed = bytes(e.fields[3] for e in io if e.fields[:3] == (1, 1, 0xE9))
    assert b"Hello from real mode" in printed                 # what the BIOS wrote to E9
    assert io[-1].fields[:4] == (1, 1, 0xF4, 0x10)           # the test-exit port, last
    traps = of_kind(trace, fmt.TRAP)
    ints = collections.Counter(e.fields[1] for e in traps if e.fields[0] == fmt.TRAP_SOFTWARE_INT)
    assert ints[0x10] >= len("Hello from real mode") and ints[0x19] == 1
    made = int(re.search(r"(\d+) traps", r.stderr).group(1))
    assert len(traps) == made                                 # every exit, as the run counts
    assert [e.info["reason"] for e in of_kind(trace, fmt.END)] == ["poweroff"]
    summary = run_hv("trace", "summary", out)
    assert summary.code == 0 and "d1 'hello' (hvm, 1 vCPU(s))" in summary.stdout
    assert re.search(r"^    int 0x10 +\d+ ", summary.stdout, re.M)
    show = run_hv("trace", "show", out, "--kind", "trap,io")
    assert re.search(r"trap +int 0x10 rip=0x7c[0-9a-f]{2} ", show.stdout)
    assert re.search(r"io +out port 0xf4 size 1 value 0x10", show.stdout)


def test_insn_trace_of_a_boot_sector_is_16_bit_code_at_linear_addresses(built, tmp_path):
    trace, _, _ = traced(tmp_path, "insn:0x7c00-0x7c0b,block:0x7c00-0x7c0b",
                         disk_config(tmp_path, "hello.img"), code=33)
    insns = of_kind(trace, fmt.INSN)
    assert [e.code.text for e in insns] == HELLO_START
    sector = (HVM_BUILD / "hello.img").read_bytes()
    assert all(e.code.data == sector[e.code.address - 0x7C00:][:e.code.size] for e in insns)
    assert of_kind(trace, fmt.BLOCK)[0].code.address == 0x7C00


def test_pc_kernel_interrupts_exceptions_and_ide_io(built, tmp_path):
    trace, _, out = traced(tmp_path, "io:0x1f0-0x1f8,trap",
                           disk_config(tmp_path, "pc.img"), code=85)   # "all passed"
    kinds = collections.Counter(e.fields[0] for e in of_kind(trace, fmt.TRAP))
    assert kinds[fmt.TRAP_INTERRUPT] > 0                       # timer and IDE IRQs, via the IDT
    ports = {e.fields[2] for e in of_kind(trace, fmt.IO)}
    assert ports and ports <= set(range(0x1F0, 0x1F8))
    page = tmp_path / "pc.html"
    assert run_hv("trace", "timeline", out, "-o", page).code == 0
    data = json.loads(re.search(r'id="timeline-data">(.*?)</script>', page.read_text(), re.S)
                      .group(1).replace("<\\/", "</"))
    assert data["lanes"][0]["label"] == "d1 pc vCPU0" and data["lanes"][0]["trap"]


@pytest.mark.parametrize("bits", ["32", "64"])
def test_pvh_hypercalls_and_events(built, tmp_path, bits):
    trace, r, _ = traced(tmp_path, "hypercall,evtchn,sched", "--type", "pvh",
                         str(PVH_BUILD / f"pvh{bits}.elf"))
    calls = of_kind(trace, fmt.HYPERCALL)
    assert len(calls) == int(re.search(r"(\d+) hypercalls", r.stderr).group(1))
    from hvcore.trace.show import hypercall_name
    names = collections.Counter(hypercall_name(e.fields[0]) for e in calls)
    assert names["console_io"] and names["event_channel_op"]
    assert hypercall_name(calls[-1].fields[0]) == "sched_op" and calls[-1].fields[3] == 2
    ops = collections.Counter(fmt.EVTCHN_OPS[e.fields[0]] for e in of_kind(trace, fmt.EVTCHN))
    assert ops["pending"] > 0 and ops["upcall"] > 0
    assert of_kind(trace, fmt.DOMAIN)[0].info["abi"] == "pvh"


def test_pvh_insn_by_symbol_and_an_unknown_symbol(built, tmp_path):
    kernel = str(PVH_BUILD / "pvh64.elf")
    trace, _, _ = traced(tmp_path, "block:pvh_start", "--type", "pvh", kernel)
    assert of_kind(trace, fmt.BLOCK)[0].code.symbol == "pvh_start"
    bad = run_hv("run", "--type", "pvh", kernel, "--trace", "insn:no_such_fn",
                 "--trace-out", tmp_path / "bad.trace", "--timeout", "30")
    assert bad.code == 2 and "no symbol 'no_such_fn'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
