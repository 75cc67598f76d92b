"""The gdb stub (`hv run --gdb PORT`), driven by the real gdb in batch mode against our
own guest kernels, for both PV ABIs."""
from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, kernel, run_hv
from hvcore.gdb.packets import Reader, frame, unescape

pytestmark = pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")


def _start_hv(elf, *extra: str) -> tuple[subprocess.Popen, int]:
    """`hv run ELF --gdb 0 --gdb-wait`; returns the process and the port it chose."""
    proc = subprocess.Popen([sys.executable, "-m", "tools.hv", "run", str(elf), *extra, "--gdb", "0",
                             "--gdb-wait", "--timeout", "60"], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no gdb port announced: {line!r} {proc.stderr.read()}")
    return proc, int(match.group(1))


def _gdb(elf, port: int, *commands: str, timeout: float = 60) -> str:
    argv = ["gdb", "-batch", "-nx", str(elf), "-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        argv += ["-ex", c]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return out.stdout + out.stderr


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


@pytest.mark.parametrize("abi", ["pv64", "pv32"])
def test_break_step_read_watch_continue_to_exit(guests, abi):
    elf = kernel(abi, "gdbtarget")
    proc, port = _start_hv(elf)
    pc = "rip" if abi == "pv64" else "eip"
    out = _gdb(elf, port,
               "info registers cs cr0 cr3",
               "break gdb_tick", "continue", "print n", "continue", "print n",
               "print gdb_counter",
               f"print/x ${pc}", "stepi", f"print/x ${pc}",
               "delete", "watch gdb_result", "continue", "print gdb_result",
               "info threads", "monitor hypercalls", "continue")
    code, console, err = _finish(proc)
    assert "Breakpoint 1, gdb_tick (n=n@entry=1)" in out, out
    assert "$1 = 1" in out and "$2 = 2" in out, out
    assert "$3 = 1" in out, out                    # the first call has been made
    before, after = (int(x, 16) for x in re.findall(r"\$[45] = (0x[0-9a-f]+)", out))
    assert 0 < after - before <= 15, out           # stepi ran exactly one instruction
    assert "Old value = 0" in out and "New value = 30" in out, out
    assert "$6 = 30" in out, out
    assert "Thread 1 (vcpu0 (kernel))" in out, out
    assert re.search(r"vcpu0 set_trap_table\(", out), out
    assert "exited normally" in out, out
    cs = int(re.search(r"^cs\s+(0x[0-9a-f]+)", out, re.M).group(1), 16)
    assert cs == (0xE030 if abi == "pv64" else 0xE019), out   # the kernel's CS as Xen shows it
    assert re.search(r"^cr0\s+0x80050033", out, re.M), out
    assert code == 0, err
    assert "gdbtarget: counter 15 result 30" in console


def test_ctrl_c_interrupts_a_running_guest_and_kill_ends_it(guests):
    """Ctrl-C in gdb (SIGINT to gdb) sends 0x03: the running guest stops at once."""
    elf = kernel("pv64", "loop")
    proc, port = _start_hv(elf, "--cmdline", "iters=100000000000")
    argv = ["gdb", "-batch", "-nx", str(elf), "-ex", f"target remote 127.0.0.1:{port}"]
    for c in ("continue", "print/x $rip", "info symbol $rip", "kill"):
        argv += ["-ex", c]
    gdb = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = gdb.stdout.readline()                  # "0x... in _start ()": connected
    time.sleep(1.5)                                # the guest is in its loop by now
    gdb.send_signal(signal.SIGINT)
    out = first + gdb.communicate(timeout=30)[0]
    code, _console, err = _finish(proc)
    assert "received signal SIGINT" in out, out
    assert "loop_run" in out, out                  # stopped inside the guest's compute loop
    assert code == 1 and "killed from gdb" in err, err


def test_guest_int3_still_reaches_the_guest_with_breakpoints_set(guests):
    elf = kernel("pv64", "traps")
    proc, port = _start_hv(elf)
    out = _gdb(elf, port, "hbreak traps_main", "break poweroff", "continue",
               "info symbol $pc", "continue", "info symbol $pc", "continue")
    code, console, err = _finish(proc)
    assert "traps_main in section .text" in out, out
    assert "Breakpoint 2, poweroff" in out, out     # after the guest's own int3 tests
    assert "exited normally" in out, out
    assert code == 0 and "PASS" in console, err + console


def test_memory_writes_then_detach_lets_the_guest_run_on(guests):
    elf = kernel("pv32", "gdbtarget")
    proc, port = _start_hv(elf)
    out = _gdb(elf, port, "break gdb_tick", "continue", "set var gdb_counter = 100",
               "print/x *(unsigned int *)gdb_tick",
               "set var *(unsigned int *)gdb_tick = *(unsigned int *)gdb_tick",  # read-only code
               "print/x *(unsigned int *)gdb_tick", "detach")
    code, console, err = _finish(proc)
    assert "Breakpoint 1, gdb_tick" in out, out
    assert "Cannot access memory" not in out, out
    first, again = re.findall(r"\$[12] = (0x[0-9a-f]+)", out)
    assert first == again, out
    assert code == 0 and "counter 115 result 230" in console, err + console


def test_bad_gdb_options_are_one_line_errors(guests, tmp_path):
    elf = kernel("pv64", "gdbtarget")
    r = run_hv("run", elf, "--gdb", "70000")
    assert r.code == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run_hv("run", elf, "--gdb-wait")
    assert r.code == 2 and "--gdb" in r.stderr and "Traceback" not in r.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        r = run_hv("run", elf, "--gdb", str(busy.getsockname()[1]))
    assert r.code == 2 and "gdb: cannot listen" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_packet_framing_round_trip():
    body = b"X1000,4:" + bytes([0x23, 0x24, 0x7D, 0x2A])
    events = Reader().feed(b"+" + frame(body) + b"\x03" + b"$g#00")
    assert events[0] == ("ack", b"+")
    kind, got = events[1]
    assert kind == "packet" and unescape(got) == body
    assert events[2] == ("interrupt", b"")
    assert events[3] == ("bad", b"g")              # wrong checksum: gdb must resend


def test_each_vcpu_is_a_thread(guests):
    elf = kernel("pv64", "smp")
    proc, port = _start_hv(elf, "vcpus=2")
    out = _gdb(elf, port, "info threads", "thread 2", "print/x $rip", "continue")
    code, _console, err = _finish(proc)
    assert re.search(r"1\s+Thread 1 \(vcpu0", out) and re.search(r"2\s+Thread 2 \(vcpu1", out), out
    assert "exited normally" in out, out
    assert code == 0, err
