"""Deterministic execution and record/replay (`hv run --deterministic | --record | --replay`),
with the real CLI, real guests and `hv trace diff`."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from unicorn import x86_const as X

from conftest import ROOT, kernel, run_hv


def _traced(elf, trace, *extra: str, input: str | None = None):
    return run_hv("run", elf, "--trace", "all", "--trace-out", trace, "--timeout", "60",
                  *extra, input=input)


def test_instruction_counter_stops_exactly_and_counts_what_ran():
    """The C counting hook: the engine stops before instruction N+1, and a resumed run
    goes on counting from there (a two-increment loop tells how many ran)."""
    from hvcore.engine import Engine
    from hvcore.replay.clock import InsnCounter
    e = Engine()
    e.uc.mem_map(0x10000, 0x10000)
    e.uc.mem_write(0x10000, b"\x48\xff\xc0\x48\xff\xc3\xeb\xf8")   # inc rax; inc rbx; jmp
    e.stop_address = 0x1F000
    counter = InsnCounter(e)
    counter.stop_at(1001)
    e.run(0x10000)
    assert counter.count == 1001
    assert (e.reg(X.UC_X86_REG_RAX), e.reg(X.UC_X86_REG_RBX)) == (334, 334)
    assert e.reg(X.UC_X86_REG_RIP) == 0x10006          # on the jmp, not run
    counter.stop_at(counter.count + 10)
    e.run(e.reg(X.UC_X86_REG_RIP))
    assert counter.count == 1011 and e.reg(X.UC_X86_REG_RAX) == 337


def test_deterministic_runs_give_the_same_trace(guests, tmp_path):
    """ticker arms timers and blocks: with --deterministic two runs match event for
    event (timer deadlines included); two ordinary runs do not."""
    elf = kernel("pv64", "ticker")
    for name, extra in (("a", ("--deterministic",)), ("b", ("--deterministic",)),
                        ("c", ()), ("d", ())):
        result = _traced(elf, tmp_path / f"{name}.trace", *extra)
        assert result.code == 0 and "ticker: PASS" in result.stdout, result.stderr
    same = run_hv("trace", "diff", tmp_path / "a.trace", tmp_path / "b.trace")
    assert same.code == 0 and "traces match" in same.stdout, same.stdout
    differ = run_hv("trace", "diff", tmp_path / "c.trace", tmp_path / "d.trace")
    assert differ.code == 1 and "traces differ at event" in differ.stdout, differ.stdout


def test_record_then_replay_without_input(guests, tmp_path):
    """echo fed through hv run's stdin in pieces, recorded; replayed with no stdin at all:
    the same console output and the same trace."""
    elf = kernel("pv64", "echo")
    record = tmp_path / "echo.rec"
    proc = subprocess.Popen([sys.executable, "-m", "tools.hv", "run", str(elf), "--record",
                             str(record), "--trace", "all", "--trace-out",
                             str(tmp_path / "rec.trace"), "--timeout", "60"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for piece in ("hello th", "ere\n", "second\n", "quit\n"):
        proc.stdin.write(piece)
        proc.stdin.flush()
        time.sleep(0.3)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "echo: hello there\necho: second\necho: quit\necho: PASS" in out, out
    lines = [json.loads(x) for x in record.read_text().splitlines()]
    assert lines[0]["format"] == "hvcore-record" and lines[-1]["reason"] == "poweroff"
    fed = b"".join(bytes.fromhex(x["console"]) for x in lines if "console" in x)
    assert fed == b"hello there\nsecond\nquit\n"
    replay = run_hv("run", elf, "--replay", record, "--trace", "all", "--trace-out",
                    tmp_path / "replay.trace", "--timeout", "60")
    assert replay.code == 0, replay.stderr
    assert replay.stdout == out
    same = run_hv("trace", "diff", tmp_path / "rec.trace", tmp_path / "replay.trace")
    assert same.code == 0, same.stdout


def test_bad_record_and_replay_options(guests, tmp_path):
    echo, hello = kernel("pv64", "echo"), kernel("pv64", "hello")
    junk = tmp_path / "junk.rec"
    junk.write_text("not json\n")
    record = tmp_path / "hello.rec"
    assert run_hv("run", hello, "--record", record, "--timeout", "60").code == 0
    cases = [(("--record", record, "--replay", record), "cannot be used together"),
             (("--replay", junk), "not a record file"),
             (("--replay", tmp_path / "missing.rec"), "No such file"),
             (("--record", tmp_path / "no" / "such.rec"), "cannot create")]
    for extra, message in cases:
        result = run_hv("run", echo, *extra, "--timeout", "30")
        assert result.code == 2 and message in result.stderr, (extra, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    other = run_hv("run", echo, "--replay", record, "--timeout", "30")
    assert other.code == 2 and "recorded with another sha256" in other.stderr, other.stderr
    smp = run_hv("run", hello, "vcpus=2", "--replay", record, "--timeout", "30")
    assert smp.code == 2 and "recorded with another vcpus" in smp.stderr, smp.stderr


def test_gdb_reverse_stepi_and_reverse_continue(guests):
    """Real gdb against a deterministic run: forward to the second call of gdb_tick,
    three stepi past the store of gdb_counter, reverse-stepi undoes the store (pc back
    one instruction, the variable at its earlier value), reverse-continue goes back to
    this call's entry, then to the first call, and once more to the start of the history; then forward to exit,
    with the console printed once."""
    import re
    import shutil
    import pytest
    if shutil.which("gdb") is None:
        pytest.skip("gdb is not installed")
    from test_gdb import _finish, _gdb, _start_hv
    elf = kernel("pv64", "gdbtarget")
    proc, port = _start_hv(elf, "--deterministic")
    out = _gdb(elf, port, "break gdb_tick", "continue", "continue", "print gdb_counter",
               "stepi", "stepi", "stepi", "print/x $pc", "print gdb_counter",
               "reverse-stepi", "print/x $pc", "print gdb_counter",
               "reverse-continue", "print n", "print gdb_counter",
               "reverse-continue", "print n", "print gdb_counter",
               "reverse-continue", "delete", "continue")
    code, console, err = _finish(proc)
    values = re.findall(r"^\$\d+ = (\S+)", out, re.M)
    assert values[:3] == ["1", "0xffffffff80002011", "3"], out
    assert values[3:5] == ["0xffffffff8000200a", "1"], out      # the store undone
    assert values[5:7] == ["2", "1"], out          # the entry of this call
    assert values[7:9] == ["1", "0"], out          # back in the first call
    assert "No more reverse-execution history." in out, out
    assert "exited normally" in out, out
    assert code == 0, err
    assert console.count("gdbtarget: counter 15 result 30") == 1, console
