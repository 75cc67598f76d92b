"""Traces taken through the real `hv run --trace` on our own guests, read back with the
project's reader and the `hv trace` commands."""
from __future__ import annotations

import collections
import re

import pytest
from elftools.elf.elffile import ELFFile

from hvcore.trace import format as fmt
from hvcore.trace.reader import TraceFile

from conftest import ABIS, kernel, run_hv

# loop_run (guests/kernels/loop_asm.S): set-up, 4 instructions per iteration, return
LOOP_RUN_INSNS = {"pv64": lambda n: 6 + 4 * n + 1, "pv32": lambda n: 7 + 4 * n + 2}


def traced_run(tmp_path, abi: str, guest: str, spec: str, *extra: str, code: int = 0):
    out = tmp_path / f"{guest}-{abi}.trace"
    r = run_hv("run", kernel(abi, guest), "--trace", spec, "--trace-out", out,
               "--timeout", "60", *extra)
    assert r.code == code, r.stderr
    return TraceFile(str(out)), r


def events(trace: TraceFile, kind: int) -> list:
    return [e for e in trace if e.kind == kind]


@pytest.mark.parametrize("abi", ABIS)
def test_hypercalls_match_the_run_and_end_with_shutdown(guests, tmp_path, abi):
    trace, r = traced_run(tmp_path, abi, "hello", "hypercall,trap,sched")
    calls = events(trace, fmt.HYPERCALL)
    made = int(re.search(r"(\d+) hypercalls", r.stderr).group(1))
    assert len(calls) == made
    names = collections.Counter(trace_name(e) for e in calls)
    assert names["console_io"] > 0
    assert trace_name(calls[-1]) == "sched_op" and calls[-1].fields[3] == 2   # SCHEDOP_shutdown
    assert not [e for e in events(trace, fmt.TRAP) if e.fields[1] == 0x82]  # int 0x82: hypercalls
    assert [e.info["reason"] for e in events(trace, fmt.END)] == ["poweroff"]
    assert all(e.fields[1] > 0 for e in calls)                           # durations measured
    assert events(trace, fmt.SCHED) and not trace.truncated


def trace_name(e) -> str:
    from hvcore.trace.show import hypercall_name
    return hypercall_name(e.fields[0])


@pytest.mark.parametrize("abi", ABIS)
def test_insn_trace_counts_every_instruction_of_a_symbol(guests, tmp_path, abi):
    """2.4 million instructions: the C buffer fills and is drained twice on the way."""
    iters = 600_000
    trace, _ = traced_run(tmp_path, abi, "loop", "insn:loop_run", "--cmdline", f"iters={iters}")
    insns = events(trace, fmt.INSN)
    assert len(insns) == LOOP_RUN_INSNS[abi](iters)
    per_address = collections.Counter(e.code.address for e in insns)
    assert sorted(per_address.values())[-4:] == [iters] * 4           # the loop body
    assert all(e.code.symbol.startswith("loop_run") for e in insns)
    assert insns[0].code.symbol == "loop_run"
    assert insns[-1].code.text == "ret"


@pytest.mark.parametrize("abi", ABIS)
def test_insn_trace_starts_at_the_entry_with_its_bytes_and_disassembly(guests, tmp_path, abi):
    trace, _ = traced_run(tmp_path, abi, "hello", "insn:0x0-0xffffffffffffffff")
    first = next(e for e in trace if e.kind == fmt.INSN).code
    with open(kernel(abi, "hello"), "rb") as f:
        elf = ELFFile(f)
        entry = elf.header.e_entry
        seg = next(s for s in elf.iter_segments()
                   if s["p_type"] == "PT_LOAD" and s["p_vaddr"] <= entry < s["p_vaddr"] + s["p_filesz"])
        want = seg.data()[entry - seg["p_vaddr"]:][:first.size]
    assert first.address == entry and first.data == want
    assert first.symbol in ("_start", "_text") and first.text


def test_show_and_summary_print_what_the_trace_holds(guests, tmp_path):
    out = tmp_path / "t.trace"
    assert run_hv("run", kernel("pv64", "ticker"), "--trace", "all",
                  "--trace-out", out, "--timeout", "60").code == 0
    show = run_hv("trace", "show", out)
    assert show.code == 0
    assert re.search(r"d1 v0 hypercall +set_timer_op\(", show.stdout)
    assert re.search(r"d1 v0 evtchn +pending port \d+ -> vcpu 0", show.stdout)
    assert re.search(r"d1 v0 sched +block", show.stdout)
    summary = run_hv("trace", "summary", out)
    assert summary.code == 0
    assert "d1 'ticker' (x86_64, 1 vCPU(s))" in summary.stdout
    assert re.search(r"^    set_timer_op +\d+ ", summary.stdout, re.M)
    assert "histogram (us):" in summary.stdout
    blocked = float(re.search(r"vCPU0: ran [\d.]+ s, blocked ([\d.]+) s", summary.stdout).group(1))
    assert blocked > 0.0


def test_upcalls_are_traced(guests, tmp_path):
    trace, _ = traced_run(tmp_path, "pv32", "events", "evtchn")
    ops = collections.Counter(fmt.EVTCHN_OPS[e.fields[0]] for e in events(trace, fmt.EVTCHN))
    assert ops["pending"] > 0 and ops["upcall"] > 0


def test_mmu_records_follow_the_guest_page_table_updates(guests, tmp_path):
    trace, _ = traced_run(tmp_path, "pv64", "pagetables", "mmu,hypercall")
    mmu = events(trace, fmt.MMU)
    calls = [trace_name(e) for e in events(trace, fmt.HYPERCALL)]
    assert mmu and {fmt.MMU_OPS[e.fields[0]] for e in mmu} <= set(calls)


def test_trace_traps_by_vector(guests, tmp_path):
    trace, _ = traced_run(tmp_path, "pv64", "traps", "trap:pf,trap:gp")
    vectors = {e.fields[1] for e in events(trace, fmt.TRAP)}
    assert vectors and vectors <= {13, 14}
    assert not events(trace, fmt.HYPERCALL)


def test_domain_filter(guests, tmp_path):
    other, _ = traced_run(tmp_path, "pv64", "hello", "hypercall@2")
    assert list(other) == []                          # d1 traces nothing: header only
    mine, _ = traced_run(tmp_path, "pv32", "hello", "hypercall@hello")
    assert events(mine, fmt.HYPERCALL)


def test_a_killed_domain_leaves_a_readable_trace(guests, tmp_path):
    """--timeout ends the domain process with SIGKILL: what it flushed is readable."""
    trace, _ = traced_run(tmp_path, "pv64", "loop", "sched,hypercall", "--timeout", "6",
                          "--cmdline", "iters=100000000000", code=124)
    runs = [e for e in events(trace, fmt.SCHED) if e.fields[0] == fmt.SCHED_RUN]
    assert len(runs) >= 5 and not events(trace, fmt.END)
    assert run_hv("trace", "summary", trace_path(tmp_path)).code == 0


def trace_path(tmp_path):
    return tmp_path / "loop-pv64.trace"


@pytest.mark.parametrize("args, message", [
    (("--trace", "insn,bogus", "--trace-out", "{tmp}/x"), "bad trace item 'bogus'"),
    (("--trace", "insn:0x2000-0x1000", "--trace-out", "{tmp}/x"), "empty address range"),
    (("--trace", "insn:no_such_symbol", "--trace-out", "{tmp}/x"), "no symbol 'no_such_symbol'"),
    (("--trace", "hypercall", "--trace-out", "{tmp}/none/x"), "No such file or directory"),
    (("--trace", "hypercall"), "--trace and --trace-out go together"),
])
def test_bad_trace_options_one_line_exit_2(guests, tmp_path, args, message):
    r = run_hv("run", kernel("pv64", "hello"), *(a.format(tmp=tmp_path) for a in args))
    assert r.code == 2 and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("content, message", [
    (None, "No such file or directory"),
    (b"not a trace at all", "not an hvcore trace file"),
    (fmt.FILE_HEADER.pack(fmt.MAGIC, 99, 0, 2) + b"{}", "version 99"),
    (fmt.file_header({}) + fmt.RECORD_HEADER.pack(fmt.DOMAIN, 0, 1, 4, 0) + b"{bad",
     "bad domain record at byte"),
    (fmt.file_header({}) + fmt.RECORD_HEADER.pack(fmt.INSN, 0, 1, 3, 0) + b"abc",
     "bad insn record at byte"),
])
def test_unreadable_trace_file_one_line_exit_2(tmp_path, content, message):
    path = tmp_path / "bad.trace"
    if content is not None:
        path.write_bytes(content)
    for what in ("show", "summary", "timeline"):
        r = run_hv("trace", what, path)
        assert r.code == 2 and message in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_each_vcpu_of_an_smp_guest_has_its_blocks_and_slices(guests, tmp_path):
    out = tmp_path / "smp.trace"
    r = run_hv("run", kernel("pv32", "smp"), "vcpus=3", "--trace", "block,sched",
               "--trace-out", out, "--timeout", "60")
    assert r.code == 0, r.stderr
    trace = TraceFile(str(out))
    blocks = collections.Counter(e.vcpu for e in trace if e.kind == fmt.BLOCK)
    runs = {e.vcpu for e in trace if e.kind == fmt.SCHED and e.fields[0] == fmt.SCHED_RUN}
    assert set(blocks) == runs == {0, 1, 2}
    assert trace.domains[1]["vcpus"] == 3
