"""The gdb stub for HVM and PVH domains (`hv run --gdb PORT` on type = "hvm"/"pvh"),
driven by the real gdb in batch mode: a real-mode boot sector from reset, a protected
mode kernel with symbols, a 64-bit PVH kernel that climbs to long mode, SMP vCPUs as
threads, Ctrl-C and `hv gdbserver` on tk, our teaching kernel."""
from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_hv
from test_gdb import _finish, _start_hv
from test_toolstack_cli import host  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")
HVM = ROOT / "guests" / "hvm" / "build"
PVH = ROOT / "guests" / "pvh" / "build"


@pytest.fixture(scope="module")
def built() -> None:
    for folder in ("firmware", "guests/hvm", "guests/pvh"):
        subprocess.run(["make", "-s", "-C", str(ROOT / folder)], check=True)


def _config(tmp_path: Path, image: str, extra: str = "") -> Path:
    cfg = tmp_path / f"{image}.cfg"
    cfg.write_text(f'name = "{image}"\ntype = "hvm"\nmemory = 64\n'
                   f'disk = [ "{HVM / (image + ".img")},raw,hda,ro" ]\n{extra}')
    return cfg


def _gdb(elf: Path | None, port: int, *commands: str, timeout: float = 60) -> str:
    """gdb in batch mode (without a file for a boot sector)."""
    argv = ["gdb", "-batch", "-nx"] + ([str(elf)] if elf else [])
    for c in (f"target remote 127.0.0.1:{port}", *commands):
        argv += ["-ex", c]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return out.stdout + out.stderr


def _symbol(obj: Path, name: str, base: int) -> int:
    """A label's address in a boot sector linked at `base` (its object's offset)."""
    for line in subprocess.run(["nm", str(obj)], capture_output=True, text=True).stdout.splitlines():
        value, _kind, label = line.split()
        if label == name:
            return base + int(value, 16)
    raise AssertionError(f"{name} not in {obj}")


def test_real_mode_from_reset_to_the_boot_sector(built, tmp_path):
    proc, port = _start_hv(_config(tmp_path, "hello"))
    drive = _symbol(HVM / "hello.o", "drive", 0x7C00)
    out = _gdb(None, port,
               "show architecture", "info registers eip cs cr0 efer",
               "x/i $cs*16+$eip",
               "break *0x7c00", "continue", "info registers eip cs",
               "stepi", "stepi", "print/x $eip", "x/2i $cs*16+$eip",
               "set var $edi = 0x1234", "print/x $edi",
               f"watch *(unsigned char *){drive:#x}", "continue", "print/x $dl",
               "delete", "info threads", "monitor vcpus", "monitor devices 8259A", "continue")
    code, console, err = _finish(proc)
    assert 'currently "i8086"' in out, out                  # 16-bit code disassembled
    assert re.search(r"^eip\s+0xfff0\b", out, re.M) and re.search(r"^cs\s+0xf000\b", out, re.M), out
    assert re.search(r"^cr0\s+0x10\b", out, re.M), out     # real mode, ET only
    assert re.search(r"0xffff0:\s+ljmp\s+\$0xf000", out), out     # linear = CS*16 + IP
    assert "Breakpoint 1, 0x00007c00 in ?? ()" in out, out
    assert "$1 = 0x7c03" in out, out                        # cli (1 byte), xor (2 bytes)
    assert re.search(r"0x7c03:\s+mov\s+%ax,%ds", out), out
    assert "$2 = 0x1234" in out, out
    assert "Old value = 0 '\\000'" in out and "New value = 128 '\\200'" in out, out
    assert "$3 = 0x80" in out, out                          # the BIOS's boot drive, in DL
    assert "Thread 1 (vcpu0 (real mode))" in out, out
    assert "vcpu0: runnable, real mode, CPL 0, cs:rip 0000:" in out, out
    assert re.search(r"8259A: master=\{.*imr=", out), out
    assert "exited with code 041" in out, out               # (0x10 << 1) | 1, octal
    assert code == 33 and "Hello from real mode" in console, err


def test_protected_mode_kernel_with_symbols(built, tmp_path):
    elf = HVM / "pmode.elf"
    proc, port = _start_hv(_config(tmp_path, "pmode"))
    out = _gdb(elf, port,
               "hbreak kmain", "continue", "info symbol $pc", "info registers cr0",
               "break trap", "continue", "print f->vector", "print ticks",
               "next", "next", "print/x $eip", "info symbol $eip",
               "delete", "watch syscalls", "continue", "print syscalls",
               "delete", "continue")
    code, console, err = _finish(proc)
    assert "Hardware assisted breakpoint 1 at" in out and "Breakpoint 1, " in out, out
    assert "kmain in section .text" in out, out
    assert re.search(r"^cr0\s+0x11\b", out, re.M), out     # PE, paging not yet on
    assert "Breakpoint 2, trap (f=" in out, out
    assert "$1 = 32" in out and "$2 = 0" in out, out        # the first timer tick
    assert "trap + " in out and "in section .text" in out, out
    assert "Old value = 0" in out and "New value = 1" in out, out
    assert "$4 = 1" in out, out
    assert "exited with code 0125" in out, out              # (0x2A << 1) | 1 = 85
    assert code == 85 and "all passed" in console, err + console


def test_pvh_kernel_climbs_to_long_mode(built):
    """A 64-bit PVH ELF starts in 32-bit code: gdb sees the x86-64 layout from the
    first instruction (as it needs with that file), then long mode."""
    elf = PVH / "pvh64.elf"
    proc, port = _start_hv(elf, "--type", "pvh")
    out = _gdb(elf, port,
               "info registers rip efer cs", "break kmain", "continue",
               "info registers efer cr0", "next", "print *si", "watch upcalls", "continue",
               "bt 1", "delete", "info threads", "monitor evtchn", "continue")
    code, console, err = _finish(proc)
    assert re.search(r"^rip\s+0x100000\s+0x100000 <pvh_start>", out, re.M), out
    assert re.search(r"^efer\s+0x0\b", out, re.M), out
    assert "Breakpoint 1, kmain (" in out, out
    assert re.search(r"^efer\s+0x500\b", out, re.M), out    # LME, LMA
    assert re.search(r"^cr0\s+0x8000001[01]\b", out, re.M), out
    assert "magic = 862897528" in out, out                  # XEN_HVM_START_MAGIC_VALUE
    assert "New value = 1" in out and "evtchn_upcall () at pvh.c" in out, out
    assert "Thread 1 (vcpu0 (64-bit mode))" in out, out
    assert re.search(r"\d+ ipi\s", out), out                # its Xen side's channels
    assert "exited normally" in out, out
    assert code == 0 and "pvh: all done" in console, err + console


def test_smp_vcpus_are_threads(built, tmp_path):
    ap16 = _symbol(HVM / "smp.o", "ap16", 0x7C00)
    proc, port = _start_hv(_config(tmp_path, "smp", "vcpus = 3\n"))
    out = _gdb(None, port, "info threads", f"break *{ap16:#x}", "continue",
               "info threads", "print/x $cs", "thread 1", "print $_thread", "delete", "continue")
    code, console, err = _finish(proc)
    assert re.search(r"3\s+Thread 3 \(vcpu2 \(real mode, waiting for STARTUP\)\)", out), out
    hit = re.search(r"Thread (\d) hit Breakpoint 1, 0x0000(\w+)", out)
    assert hit and hit.group(1) in ("2", "3") and int(hit.group(2), 16) == ap16, out
    assert "exited with code 05" in out, out                # two APs: (2 << 1) | 1
    assert code == 5, err + console


def test_gdb_options_on_hvm_are_one_line_errors(built, tmp_path):
    r = run_hv("run", _config(tmp_path, "hello"), "--gdb-wait")
    assert r.code == 2 and "--gdb" in r.stderr and "Traceback" not in r.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        r = run_hv("run", _config(tmp_path, "hello"), "--gdb", str(busy.getsockname()[1]))
    assert r.code == 2 and "gdb: cannot listen" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def _tk_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "tk.cfg"
    cfg.write_text(f'name = "tk"\ntype = "hvm"\nmemory = 64\n'
                   f'disk = [ "{HVM / "tk.img"},raw,hda,ro", "{HVM / "tkfs.img"},raw,hdb,ro" ]\n')
    return cfg


def test_ctrl_c_stops_a_running_hvm_guest_and_kill_ends_it(built, tmp_path):
    """tk at its shell, waiting for input between timer ticks: Ctrl-C in gdb stops it."""
    elf = HVM / "tk.elf"
    proc, port = _start_hv(_tk_config(tmp_path))
    argv = ["gdb", "-batch", "-nx", str(elf), "-ex", f"target remote 127.0.0.1:{port}"]
    for c in ("continue", "info symbol $pc", "print ticks > 0", "monitor vcpus", "kill"):
        argv += ["-ex", c]
    gdb = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = gdb.stdout.readline()                  # "0x0000fff0 in ?? ()": connected
    time.sleep(2.5)                                # booted to the shell by now
    gdb.send_signal(signal.SIGINT)
    out = first + gdb.communicate(timeout=30)[0]
    code, console, err = _finish(proc)
    assert "received signal SIGINT" in out, out
    assert "in section .text" in out and "$1 = 1" in out, out
    assert re.search(r"vcpu0: (halted|runnable), protected mode", out), out
    assert code == 1 and "killed from gdb" in err, err
    assert "tk shell" in console, console


def test_gdbserver_on_a_running_hvm_domain(built, host):
    """`hv gdbserver` for tk under `hv up`: break on a C function of the kernel."""
    hv, tmp = host
    elf = HVM / "tk.elf"
    assert hv("create", _tk_config(tmp)).code == 0
    first = hv("gdbserver", "tk", "0")
    assert first.code == 0, first.stderr
    port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", first.stdout).group(1))
    out = _gdb(elf, port, "break trap", "continue", "print tf->vector >= 32", "bt 1",
               "info threads", "monitor info", "detach")
    assert "Breakpoint 1, trap (tf=" in out and "$1 = 1" in out, out
    assert "Thread 1 (vcpu0 (protected mode" in out, out
    assert re.search(r"d\d+ \(tk\): HVM, PC \(firmware\), 16384 pages, 1 vCPUs, running", out), out
    assert [d["name"] for d in json.loads(hv("list", "-l").stdout)] == ["tk"]   # runs on
    assert hv("destroy", "tk").code == 0


def test_the_layout_follows_the_mode_at_each_connection(built, tmp_path):
    """gdb reads the target description when it connects: at reset real mode (i8086),
    after gdb detached and tk booted on, protected mode (i386) for the next gdb."""
    proc, port = _start_hv(_tk_config(tmp_path))
    first = _gdb(None, port, "show architecture", "print/x $eip", "detach")
    time.sleep(2.0)
    again = _gdb(HVM / "tk.elf", port, "show architecture", "print/x $cs",
                 "info registers cr0", "kill")
    code, console, err = _finish(proc)
    assert 'currently "i8086"' in first and "$1 = 0xfff0" in first, first
    assert 'currently "i386"' in again and "$1 = 0x8" in again, again
    assert re.search(r"^cr0\s+0x8\w{6}[13579bdf]\s", again, re.M), again      # PG and PE
    assert code == 1 and "tk shell" in console, err + console


@pytest.mark.parametrize("image", ["pvh32", "pvh64"])
def test_pvh_reverse_stepi_and_reverse_continue(built, image):
    """A deterministic PVH run under gdb: to kmain, then to the event channel upcall,
    a watch stops right after `upcalls++`; reverse-stepi undoes it (pc back to the
    store, upcalls 0 again); reverse-continue goes back to the upcall's entry, then to
    kmain, then to the start of the history; forward to the end with each console line
    (port E9, console_io, the PV console ring) printed once."""
    elf = PVH / f"{image}.elf"
    proc, port = _start_hv(elf, "--type", "pvh", "--deterministic")
    out = _gdb(elf, port, "break kmain", "break evtchn_upcall", "continue", "continue",
               "print upcalls", "watch upcalls", "continue", "print/x $pc", "print upcalls",
               "delete 3", "reverse-stepi", "print/x $pc", "print upcalls",
               "reverse-continue", "print upcalls", "reverse-continue", "print upcalls",
               "reverse-continue", "delete", "continue", timeout=120)
    code, console, err = _finish(proc)
    values = re.findall(r"^\$\d+ = (\S+)", out, re.M)
    assert values[0] == "0" and values[2] == "1", out
    after, before = int(values[1], 16), int(values[3], 16)
    assert 0 < after - before <= 15 and values[4] == "0", out      # the store undone
    assert out.count("Breakpoint 2, evtchn_upcall () at pvh.c") == 2, out
    assert out.count("Breakpoint 1, kmain (") == 2 and values[5:7] == ["0", "0"], out
    assert "No more reverse-execution history." in out, out
    assert "exited normally" in out and code == 0, err + console
    for line in ("hello via console_io", "hello over the PV console ring",
                 "event: port 3 delivered", "xenstore: name = ", "pvh: all done"):
        assert console.count(line) == 1, console
