"""The benchmark command: `make bench`, or

    .venv/bin/python -m tools.bench [--quick] [--json FILE] [--doc FILE | --no-doc]

Measures the PV core and prints a table. A full run (a few minutes) also rewrites
docs/benchmarks.md; a --quick run (under a minute) only writes a report when given --doc,
so that it does not replace the committed full-run figures.
Performance is never asserted by the test suite: this is where it is measured.

Method (the machine is shared and noisy):
- every figure is the median of several samples taken after an untimed warm-up, shown
  with its spread (min-max; the JSON file also has the quartiles);
- a guest run is timed from `run_domain` start to the guest's poweroff; the cost of
  booting and shutting down is removed by running two iteration counts N1 < N2 and
  using the difference: cost per iteration = (t(N2) - t(N1)) / (N2 - N1);
- comparisons with a reference are paired: one sample runs ours and then the
  reference, back to back at each count, and the sample is their ratio;
- iteration counts are calibrated from the warm-up so that N2 - N1 takes about a fixed
  time on this machine (whatever the speed of the hypervisor under test).

Rows:
- cpu:   MIPS of one compute loop (guests/kernels/bench_loop.c) in a guest vs the same
         machine code copied out of the guest ELF into a bare Unicorn engine (flat
         memory, no hooks). pv32 runs in compatibility mode under our 64-bit engine;
         its reference is a UC_MODE_32 engine. hvm: the same 32-bit loop in a
         Multiboot kernel booted directly in an HVM domain (tools/bench_hvm.py).
- trap / hypercall / bounce round trips (guests/kernels/bench_ops.c).
- engine floor: what one exit to Python and re-entry cost on a bare engine, with and
  without the `timeout=` argument the run loop uses; no target, for reading the rest.
- trace: the cost of `hv run --trace` (instructions/s traced, CPU added by tracing
         hypercalls and events); tools/bench_trace.py.

The bench kernels are not in guests/Makefile's KERNELS list; they are built here with
`make -C guests KERNELS="bench_loop bench_ops"` (incremental).
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUEST_BUILD = ROOT / "guests" / "build"
BENCH_KERNELS = ("bench_loop", "bench_ops", "pingpong", "bench_console", "netfront", "blkfront")
DOC = ROOT / "docs" / "benchmarks.md"
# the "What runs" entry of the trace rows (tools/bench_trace.py)
TRACE_TEXT = (
    '- **Traces** (`hv run --trace`, docs/trace-format.md; tools/bench_trace.py): '
    '`trace:insn` runs bench_loop with every instruction traced (the C hook of '
    'hvcore/native/trace.c, ids written to a file in /tmp) and counts guest instructions '
    'per second from two iteration counts. `trace:hcall` is the worst case for '
    "hypercall/event tracing: bench_ops' `xenver` loop does nothing but the cheapest "
    'hypercall, each one recorded with `--trace all`; `trace:boot` is a real boot, '
    "Debian's PV GRUB to its prompt under `hv run` with and without `--trace all`. Both "
    'compare untraced and traced runs back to back (taking turns at going first) in CPU '
    "time (the domain thread's for hcall, `hv run` and its domain process's for boot), "
    'which other work on the machine disturbs less than wall time; the figure is the CPU '
    'tracing adds, in percent.')

GUEST_MEMORY_MIB = 16
GUEST_TIMEOUT_S = 300.0
CPU_TARGET_RATIO = 0.9
ROUND_TRIP_TARGET_US = 5.0

# The state bench_loop starts from (the movabs/mov before bench_loop_body in
# guests/kernels/bench_loop.c). Each run checks that guest and bare agree on the result.
LOOP_SEED = {"pv64": 0x9E3779B97F4A7C15, "pv32": 0x9E3779B9, "hvm": 0x9E3779B9}
CPU_REFERENCE = {
    "pv64": "UC_MODE_64 engine",
    "pv32": "UC_MODE_32 engine (the guest runs in compat mode under UC_MODE_64)",
    "hvm": "UC_MODE_32 engine (the guest runs in 32-bit protected mode, paging off, under "
           "UC_MODE_64)",
}

# (op, ABIs, label) of the round-trip rows; ops as bench_ops.c names them.
OPS = (
    ("cr0", ("pv64", "pv32"), "trap: mov %cr0 (#GP, emulated)"),
    ("rdmsr", ("pv64",), "trap: rdmsr MSR_FS_BASE (#GP, emulated)"),
    ("xenver", ("pv64", "pv32"), "hypercall: xen_version(XENVER_version)"),
    ("int3", ("pv64", "pv32"), "bounce: int3 -> guest handler -> HYPERVISOR_iret"),
)


class BenchError(Exception):
    """A benchmark could not be measured (guest crashed, output wrong...)."""


@dataclass
class Settings:
    samples: int
    cpu_seconds: float          # time the N2 - N1 part of a CPU sample should take
    op_seconds: float           # same for the round-trip rows
    floor_seconds: float


FULL = Settings(samples=11, cpu_seconds=0.6, op_seconds=0.4, floor_seconds=0.2)
QUICK = Settings(samples=3, cpu_seconds=0.15, op_seconds=0.1, floor_seconds=0.05)


@dataclass
class Row:
    key: str
    title: str
    abi: str
    unit: str
    target: str = ""
    values: list[float] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)   # e.g. both sides' MIPS for cpu rows
    meets: bool | None = None
    error: str | None = None

    def stats(self, values: list[float] | None = None) -> dict:
        return summarize(self.values if values is None else values)


def summarize(values: list[float]) -> dict:
    if not values:
        return {}
    out = {"median": statistics.median(values), "min": min(values), "max": max(values),
           "n": len(values)}
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        out.update(q1=q1, q3=q3)
    return out


# ---- guests ---------------------------------------------------------------------------
def build_bench_kernels() -> None:
    kernels = " ".join(BENCH_KERNELS)
    subprocess.run(["make", "-s", "-C", str(ROOT / "guests"), f"KERNELS={kernels}"],
                   check=True)
    subprocess.run(["make", "-s", "-C", str(ROOT / "guests" / "hvm"), "build/bench_loop.elf"],
                   check=True)


class Guest:
    """One bench kernel for one ABI, run under hvcore.

    Everything is read from the ELF up front (`Guest.get`): guests/build is shared with
    whoever else works in this tree, and may be cleaned while we run.
    """

    _families_loaded = False
    _cache: dict[tuple[str, str], "Guest"] = {}

    @classmethod
    def get(cls, kernel: str, abi: str) -> "Guest":
        if (kernel, abi) not in cls._cache:
            cls._cache[kernel, abi] = cls(kernel, abi)
        return cls._cache[kernel, abi]

    def __init__(self, kernel: str, abi: str) -> None:
        from loaders.elf import LoaderError, load_kernel
        if not Guest._families_loaded:
            from hvcore.hypercalls import load_families
            load_families()
            Guest._families_loaded = True
        self.path = GUEST_BUILD / abi / f"{kernel}.elf"
        self.kernel, self.abi = kernel, abi
        try:
            self.image = load_kernel(str(self.path))
            self.loop = loop_code(self.path) if kernel == "bench_loop" else None
        except (LoaderError, OSError) as err:
            raise BenchError(f"cannot load {self.path}: {err}")

    def run(self, cmdline: str, prepare=None) -> tuple[float, str]:
        """Build a fresh domain, time run_domain to poweroff; (seconds, console text).
        `prepare(dom)` runs before the clock starts (e.g. to give it a tracer)."""
        from hvcore.scheduler import run_domain
        from loaders.pv_builder import build_pv_domain
        out = bytearray()
        dom = build_pv_domain(self.image, GUEST_MEMORY_MIB, cmdline, domid=1, name="bench",
                              console_write=out.extend)
        try:
            if prepare is not None:
                prepare(dom)
            gc.collect()
            deadline = time.monotonic() + GUEST_TIMEOUT_S
            t0 = time.perf_counter()
            reason = run_domain(dom, deadline)
            elapsed = time.perf_counter() - t0
            report = dom.crash_report
        finally:
            if dom.tracer is not None:
                dom.tracer.close(dom.shutdown_reason or "?")
            dom.destroy()
        text = out.decode(errors="replace")
        if reason != "poweroff" or f"{self.kernel}: PASS" not in text:
            tail = "\n".join(text.strip().splitlines()[-8:])
            raise BenchError(f"{self.abi}/{self.kernel}.elf [{cmdline}] ended with {reason!r}"
                             f"\n--- console (tail) ---\n{tail}"
                             + (f"\n--- crash report ---\n{report}" if report else ""))
        return elapsed, text


# ---- CPU: guest loop vs bare engine ------------------------------------------------------
def loop_code(path: Path) -> tuple[bytes, int]:
    """The bytes of bench_loop_body..bench_loop_end and their instruction count."""
    from capstone import CS_ARCH_X86, CS_MODE_32, CS_MODE_64, Cs
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        elf = ELFFile(f)
        syms = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
        start, end = syms["bench_loop_body"], syms["bench_loop_end"]
        for sec in elf.iter_sections():
            lo = sec["sh_addr"]
            if sec["sh_type"] == "SHT_PROGBITS" and lo <= start and end <= lo + sec["sh_size"]:
                body = sec.data()[start - lo:end - lo]
                break
        else:
            raise BenchError(f"{path}: bench_loop_body not in any section")
        mode = CS_MODE_64 if elf.elfclass == 64 else CS_MODE_32
    insns = list(Cs(CS_ARCH_X86, mode).disasm(body, start))
    if sum(i.size for i in insns) != len(body) or insns[-1].mnemonic not in ("jne", "jnz"):
        raise BenchError(f"{path}: bench_loop body does not decode as one loop")
    return body, len(insns)


class BareLoop:
    """The loop body alone in a bare engine: flat memory, no hooks, one emu_start."""

    CODE, DATA = 0x100000, 0x200000

    def __init__(self, body: bytes, abi: str) -> None:
        self.body, self.abi = body, abi

    def run(self, iters: int, slice_us: int = 0) -> tuple[float, int, int]:
        """Run `iters` iterations: (seconds, final state, memory word).

        With `slice_us`, run in emu_start(timeout=slice_us) slices resumed from RIP, as
        the hypervisor's run loop does (used for a correctness check, not timed).
        """
        from unicorn import UC_ARCH_X86, UC_MODE_32, UC_MODE_64, Uc
        from unicorn import x86_const as X
        is64 = self.abi == "pv64"
        ax, cx, si, ip = ((X.UC_X86_REG_RAX, X.UC_X86_REG_RCX, X.UC_X86_REG_RSI, X.UC_X86_REG_RIP)
                          if is64 else
                          (X.UC_X86_REG_EAX, X.UC_X86_REG_ECX, X.UC_X86_REG_ESI, X.UC_X86_REG_EIP))
        uc = Uc(UC_ARCH_X86, UC_MODE_64 if is64 else UC_MODE_32)
        uc.mem_map(self.CODE, 0x1000)
        uc.mem_map(self.DATA, 0x1000)
        uc.mem_write(self.CODE, self.body + b"\xf4")          # hlt after: never reached
        uc.reg_write(ax, LOOP_SEED[self.abi])
        uc.reg_write(cx, iters)
        uc.reg_write(si, self.DATA)
        end = self.CODE + len(self.body)
        gc.collect()
        t0 = time.perf_counter()
        if slice_us:
            rip = self.CODE
            while rip != end:
                uc.emu_start(rip, end, timeout=slice_us)
                rip = uc.reg_read(ip)
        else:
            uc.emu_start(self.CODE, end)
        elapsed = time.perf_counter() - t0
        word = 8 if is64 else 4
        state = uc.reg_read(ax) & ((1 << (8 * word)) - 1)
        acc = int.from_bytes(uc.mem_read(self.DATA, word), "little")
        return elapsed, state, acc


_LOOP_LINE = re.compile(r"bench_loop: iters (\d+) insns/iter (\d+)"
                        r" state ([0-9a-f]+) acc ([0-9a-f]+)")


def paired(sample: int, ours, reference):
    """(ours(), reference()), run back to back; odd samples run the reference first, so
    neither side always gets the warmer (or the quieter) moment."""
    if sample % 2:
        ref = reference()
        return ours(), ref
    first = ours()
    return first, reference()


def run_guest_loop(guest, iters: int, insns: int) -> tuple[float, int, int]:
    elapsed, text = guest.run(f"iters={iters}")
    m = _LOOP_LINE.search(text)
    if not m or int(m.group(1)) != iters or int(m.group(2)) != insns:
        raise BenchError(f"{guest.abi}/bench_loop: unexpected output {text!r}")
    return elapsed, int(m.group(3), 16), int(m.group(4), 16)


def loop_guest(abi: str):
    """The bench_loop guest of `abi`: a PV kernel, or for hvm a Multiboot kernel."""
    if abi != "hvm":
        return Guest.get("bench_loop", abi)
    from tools.bench_hvm import KERNEL, HvmLoopGuest
    try:
        return HvmLoopGuest(loop_code(KERNEL))
    except OSError as err:
        raise BenchError(f"cannot load {KERNEL}: {err}")


def bench_cpu(abi: str, s: Settings, log) -> Row:
    row = Row("cpu", "CPU: compute loop, ours / bare Unicorn", abi, "ratio",
              target=f">= {CPU_TARGET_RATIO}")
    guest = loop_guest(abi)
    body, insns = guest.loop
    bare = BareLoop(body, abi)
    row.params.update(insns_per_iter=insns, reference=CPU_REFERENCE[abi])

    mismatches: list[str] = []

    def check(iters, ours, ref):
        """Same iteration count (state) or the figures mean nothing; a wrong memory word
        is a correctness bug worth reporting, but the timing still stands."""
        if ours[1] != ref[1]:
            raise BenchError(f"{abi} loop, iters={iters}: guest state {ours[1]:#x}"
                             f" but bare {ref[1]:#x}: not the same computation")
        if ours[2] != ref[2]:
            mismatches.append(f"iters={iters}: guest {ours[2]:#x}, bare {ref[2]:#x}")

    # Warm-up, untimed, also the calibration: about 0.05 s of loop on each side.
    probe = 1_000_000
    o = run_guest_loop(guest, probe, insns)
    r = bare.run(probe)
    check(probe, o, r)
    per_iter = max(min(o[0], r[0]) / probe, 1e-9)
    delta = max(10_000, int(s.cpu_seconds / per_iter))
    n1 = max(1, delta // 10)
    n2 = n1 + delta
    row.params.update(n1=n1, n2=n2)
    ours_mips, bare_mips = [], []
    for i in range(s.samples):
        # ours and the reference back to back at each count, taking turns at going first
        o1, r1 = paired(i, lambda: run_guest_loop(guest, n1, insns), lambda: bare.run(n1))
        o2, r2 = paired(i, lambda: run_guest_loop(guest, n2, insns), lambda: bare.run(n2))
        check(n1, o1, r1)
        check(n2, o2, r2)
        work = insns * (n2 - n1) / 1e6
        om, bm = work / max(o2[0] - o1[0], 1e-9), work / max(r2[0] - r1[0], 1e-9)
        ours_mips.append(om)
        bare_mips.append(bm)
        row.values.append(om / bm)
        log(f"  cpu {abi} sample {i + 1}/{s.samples}: ours {om:.0f} MIPS, bare {bm:.0f} MIPS,"
            f" ratio {om / bm:.3f}")
    # Does the bare engine itself get the memory word right when time-sliced?
    from hvcore.scheduler import SLICE_US
    sliced = bare.run(n2, slice_us=SLICE_US)
    unsliced = bare.run(n2)
    row.extra = {"ours_mips": ours_mips, "bare_mips": bare_mips,
                 "acc_mismatches": mismatches, "guest_runs_checked": 2 * s.samples + 1,
                 "bare_sliced_ok": sliced[1:] == unsliced[1:]}
    if mismatches:
        log(f"  cpu {abi}: guest memory word wrong in {len(mismatches)} of"
            f" {2 * s.samples + 1} runs; bare engine sliced with timeout={SLICE_US}:"
            f" {'also wrong' if sliced[1:] != unsliced[1:] else 'right'}")
    row.meets = statistics.median(row.values) >= CPU_TARGET_RATIO
    return row


# ---- round trips ---------------------------------------------------------------------------
def bench_op(op: str, abi: str, title: str, s: Settings, log) -> Row:
    row = Row(f"op:{op}", title, abi, "us", target=f"<= {ROUND_TRIP_TARGET_US:g} us")
    guest = Guest.get("bench_ops", abi)

    def timed(iters):
        elapsed, text = guest.run(f"op={op} iters={iters}")
        if f"bench_ops: op {op} iters {iters} " not in text:
            raise BenchError(f"{abi}/bench_ops op={op}: unexpected output {text!r}")
        return elapsed

    # Warm-up and calibration.
    probe = 200
    t_probe = timed(probe) - timed(0)
    per_op = max(t_probe / probe, 1e-7)
    delta = max(100, int(s.op_seconds / per_op))
    n1 = max(10, delta // 10)
    n2 = n1 + delta
    row.params.update(n1=n1, n2=n2)
    for i in range(s.samples):
        t1, t2 = timed(n1), timed(n2)
        us = (t2 - t1) / (n2 - n1) * 1e6
        row.values.append(us)
        log(f"  {op} {abi} sample {i + 1}/{s.samples}: {us:.2f} us")
    row.meets = statistics.median(row.values) <= ROUND_TRIP_TARGET_US
    return row


EVTCHN_TARGET_US = 50


def bench_evtchn(s: Settings, log) -> Row:
    """Interdomain event round trip between two domain processes (pingpong guests under a
    private host): the guest's own median and p99 per sample."""
    import re
    row = Row("evtchn", "event channel: interdomain round trip, two domain processes (median)",
              "pv64", "us", target=f"<= {EVTCHN_TARGET_US} us")
    rounds = 300 if s is QUICK else 2000
    p99s = []
    for i in range(s.samples):
        text = _on_private_host("pingpong", [
            ("ping", f"role=1 peer=2 rounds={rounds}", ""),
            ("pong", f"role=2 peer=1 port=3 rounds={rounds}", "")], "round trip median")
        m = re.search(r"round trip median (\d+) ns p99 (\d+) ns", text)
        row.values.append(int(m.group(1)) / 1000)
        p99s.append(int(m.group(2)) / 1000)
        log(f"  evtchn sample {i + 1}/{s.samples}: median {row.values[-1]:.1f} us,"
            f" p99 {p99s[-1]:.1f} us")
    row.extra["p99_us"] = statistics.median(p99s)
    row.extra["p99_samples"] = p99s
    row.meets = statistics.median(row.values) <= EVTCHN_TARGET_US
    return row


def _on_private_host(kernel: str, domains: list[tuple[str, str, str]], done: str,
                     memory: int = GUEST_MEMORY_MIB) -> str:
    """Create `domains` (name, extra, more config lines) from a pv64 kernel, in order,
    under a private host (`hv up`, `hv create`); wait until the first one's console
    says `done`; return that console's text."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HV_STATE_DIR": f"{tmp}/state"}
        hv = lambda *a: subprocess.run([sys.executable, "-m", "tools.hv", *a], cwd=ROOT,
                                       env=env, capture_output=True, text=True, timeout=120)
        try:
            for name, extra, more in domains:
                cfg = Path(tmp) / f"{name}.cfg"
                cfg.write_text(f'name = "{name}"\nkernel = "{GUEST_BUILD / "pv64" / kernel}.elf"\n'
                               f'memory = {memory}\nextra = "{extra}"\n{more}')
                if hv("create", str(cfg)).returncode:
                    raise BenchError(f"could not create the {kernel} domains")
            deadline = time.monotonic() + 120
            log_path = Path(tmp) / "state" / "d1.log"
            while done not in (text := log_path.read_text() if log_path.exists() else ""):
                if time.monotonic() > deadline or "FAIL" in text:
                    raise BenchError(f"{kernel} did not finish:\n{text[-800:]}")
                time.sleep(0.05)
            return text
        finally:
            hv("down")


NET_WINDOWS = (32, 1)


def net_rows() -> list[Row]:
    return [Row(f"net:{w}", f"network: frames/s between two guests, {w} echo request"
                f"{'s' if w > 1 else ''} in flight", "pv64", "frames/s") for w in NET_WINDOWS]


def bench_network(s: Settings, log) -> list[Row]:
    """ICMP echo between two netfront guests across dom0's bridge (netback, `hv create`
    under a private host): the pinger's own count of frames (requests and replies) per
    second over the echo phase."""
    rows = net_rows()
    count = 1000 if s is QUICK else 5000
    for i in range(s.samples):
        for row, window in zip(rows, NET_WINDOWS):
            args = f"count={count} window={window}"
            text = _on_private_host("netfront", [
                ("pinger", f"role=1 bench=1 {args}", "vif = [ 'mac=00:16:3e:00:00:01' ]\n"),
                ("responder", f"role=2 {args}", "vif = [ 'mac=00:16:3e:00:00:02' ]\n")],
                "frames/s", memory=32)
            row.values.append(int(re.search(r"(\d+) frames/s", text).group(1)))
            log(f"  network window {window} sample {i + 1}/{s.samples}:"
                f" {row.values[-1]} frames/s")
    return rows


def evtchn_p99_row(rows: list[Row]) -> list[Row]:
    """The evtchn row's p99 as a row of its own (no target), for the table."""
    out = []
    for r in rows:
        out.append(r)
        if r.key == "evtchn" and not r.error and r.extra.get("p99_samples"):
            out.append(Row("evtchn-p99", "event channel: interdomain round trip (p99)",
                           r.abi, "us", values=list(r.extra["p99_samples"])))
    return out


def bench_console(s: Settings, log) -> Row:
    """Console ring throughput through `hv run` (the guest in its process, the console
    daemon in ours): two sizes, so start-up and shutdown cancel out."""
    import subprocess
    row = Row("console", "console: PV ring throughput, guest -> dom0 console daemon", "pv64",
              "MB/s")
    small, large = (100_000, 600_000) if s is QUICK else (500_000, 3_000_000)
    kernel = GUEST_BUILD / "pv64" / "bench_console.elf"

    def timed(n: int) -> float:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "tools.hv", "run", str(kernel),
                              "--cmdline", f"bytes={n}"], cwd=ROOT, capture_output=True,
                             timeout=300)
        if out.returncode or len(out.stdout) < n:
            raise BenchError(f"bench_console bytes={n}: exit {out.returncode}")
        return time.perf_counter() - t0

    for i in range(s.samples):
        t_small, t_large = timed(small), timed(large)
        row.values.append((large - small) / max(t_large - t_small, 1e-6) / 1e6)
        log(f"  console sample {i + 1}/{s.samples}: {row.values[-1]:.2f} MB/s")
    return row


BLOCK_READ_TARGET_MB_S = 500
BLOCK_ROWS = (("read", 32), ("read", 1), ("write", 32), ("write", 1))


def block_rows() -> list[Row]:
    return [Row(f"blk:{op}:{depth}", f"block: sequential {op}, {depth} in flight (44 KiB requests)",
                "pv64", "MB/s", target=f">= {BLOCK_READ_TARGET_MB_S} MB/s"
                if (op, depth) == ("read", 32) else "") for op, depth in BLOCK_ROWS]


def bench_block(s: Settings, log) -> list[Row]:
    """blkfront's own throughput figures under `hv run` with a disk: a 64 MiB raw image
    in a temporary folder (so in the page cache), blkback in `hv run`'s process."""
    import subprocess
    import tempfile
    rows = block_rows()
    mb = 64 if s is QUICK else 256
    for i in range(s.samples):
        with tempfile.TemporaryDirectory() as tmp:
            image, cfg = Path(tmp) / "disk.img", Path(tmp) / "blk.cfg"
            image.write_bytes(b"\0" * (64 << 20))
            cfg.write_text(f'name = "blk"\nkernel = "{GUEST_BUILD / "pv64" / "blkfront.elf"}"\n'
                           f'memory = 32\ndisk = [ "disk.img,raw,xvda,rw" ]\n'
                           f'extra = "bench_mb={mb}"\n')
            out = subprocess.run([sys.executable, "-m", "tools.hv", "run", str(cfg)], cwd=ROOT,
                                 capture_output=True, text=True, timeout=GUEST_TIMEOUT_S)
        found = dict(((m[0], int(m[1])), int(m[2])) for m in re.findall(
            r"(read|write) (\d+) in flight: (\d+) MB/s", out.stdout))
        if out.returncode or len(found) != len(BLOCK_ROWS):
            raise BenchError(f"blkfront bench_mb={mb}: exit {out.returncode}\n{out.stdout[-800:]}")
        for row, key in zip(rows, BLOCK_ROWS):
            row.values.append(found[key])
        log(f"  block sample {i + 1}/{s.samples}: " +
            ", ".join(f"{op} {depth}: {found[(op, depth)]} MB/s" for op, depth in BLOCK_ROWS))
    rows[0].meets = statistics.median(rows[0].values) >= BLOCK_READ_TARGET_MB_S
    return rows


def bench_boot_rows(s: Settings, log) -> list[Row]:
    """Debian's PV GRUB: seconds from `hv run` to its prompt (tools/bench_boot.py)."""
    from tools.bench_boot import GRUB_BOOT_TARGET_S, bench_grub_boot
    from tools.pty_session import SessionError
    rows = [Row("boot:grub", "boot: Debian's PV GRUB to its prompt (hv run, disk as xvda)",
                abi, "s", target=f"< {GRUB_BOOT_TARGET_S:g} s") for abi in ("pv64", "pv32")]
    try:
        seconds = bench_grub_boot(min(s.samples, 5), log)
    except (SessionError, OSError, subprocess.CalledProcessError) as err:
        for row in rows:
            row.error = str(err)
        log(f"  FAILED: {err}")
        return rows
    for row in rows:
        row.values = seconds[row.abi]
        row.meets = statistics.median(row.values) < GRUB_BOOT_TARGET_S
    return rows


def bench_qemu_rows(s: Settings, log) -> list[Row]:
    """Our teaching kernel to its shell prompt, `hv run` and QEMU TCG booting the same
    disk images, paired (tools/bench_qemu.py)."""
    from tools.bench_qemu import bench_tk_vs_qemu
    ratio = Row("boot:tk/qemu", "boot: teaching kernel to its prompt, ours / QEMU TCG",
                "hvm", "ratio", target="<= 1.0")
    ours = Row("boot:tk", "boot: teaching kernel to its prompt (hv run, type hvm)", "hvm", "s")
    qemu = Row("boot:tk-qemu", "reference: the same disks under qemu-system-i386 (TCG)",
               "hvm", "s")
    return _paired_with_qemu(bench_tk_vs_qemu, s, log, ratio, ours, qemu)


def _paired_with_qemu(bench, s: Settings, log, ratio: Row, ours: Row, qemu: Row) -> list[Row]:
    """Fill the three rows from `bench` (ours, QEMU, ratios); a missing QEMU is said."""
    from tools.bench_qemu import ReferenceMissing
    try:
        ours.values, qemu.values, ratio.values = bench(min(s.samples, 5), log)
        ratio.meets = statistics.median(ratio.values) <= 1.0
    except (ReferenceMissing, OSError, subprocess.SubprocessError) as err:
        for row in (ratio, ours, qemu):
            row.error = str(err)
        log(f"  FAILED: {err}")
    return [ratio, ours, qemu]


def bench_multiboot_rows(s: Settings, log) -> list[Row]:
    """A Multiboot hello kernel (guests/hvm/multiboot.S) from process start to its exit,
    `hv run` (type hvm, kernel =) and `qemu-system-x86_64 -kernel` on the same file,
    paired (tools/bench_qemu.py)."""
    from tools.bench_qemu import bench_multiboot_vs_qemu
    ratio = Row("boot:multiboot/qemu", "boot: Multiboot hello kernel to its exit, ours / QEMU"
                " TCG", "hvm", "ratio", target="<= 1.0")
    ours = Row("boot:multiboot", "boot: Multiboot hello kernel to its exit (hv run, kernel =)",
               "hvm", "s")
    qemu = Row("boot:multiboot-qemu", "reference: the same file under qemu-system-x86_64"
               " -kernel (TCG)", "hvm", "s")
    return _paired_with_qemu(bench_multiboot_vs_qemu, s, log, ratio, ours, qemu)


def bench_scale_rows(s: Settings, log) -> list[Row]:
    """A PV hello kernel booted by `hv run`, and N domains at once on one host
    (tools/bench_scale.py): seconds until all are up, and memory per domain process."""
    from tools.bench_scale import (RSS_TARGET_MIB, SCALE_COUNTS, ScaleError, boot_many,
                                   hello_boot_seconds)
    hello = [Row("boot:hello", "boot: PV hello kernel, hv run to its exit", abi, "s")
             for abi in ("pv64", "pv32")]
    counts = SCALE_COUNTS if s is not QUICK else SCALE_COUNTS[:2]
    scale = [Row(f"scale:{n}", f"scale: {n} domains created at once, until all are up",
                 "pv64", "s") for n in counts]
    rss = Row("scale:rss", f"scale: memory per domain beyond guest RAM (RssAnon, max of "
              f"{counts[-1]})", "pv64", "MiB", target=f"< {RSS_TARGET_MIB} MiB")
    try:
        for _ in range(min(s.samples, 5)):
            for row in hello:
                row.values.append(hello_boot_seconds(row.abi))
        for row, n in zip(scale, counts):
            sample = boot_many(n)
            row.values.append(sample.seconds)
            log(f"  {n} domains: {sample.seconds:.1f} s, RssAnon up to "
                f"{max(sample.rss_anon_mib):.1f} MiB")
        rss.values = sample.rss_anon_mib
        rss.meets = max(rss.values) < RSS_TARGET_MIB
    except (ScaleError, OSError, subprocess.SubprocessError) as err:
        for row in (*hello, *scale, rss):
            row.error = row.error or str(err)
        log(f"  FAILED: {err}")
    return [*hello, *scale, rss]


def bench_engine_floor(timeout_us: int, s: Settings, log) -> Row:
    """Bare engine: `syscall` hooked, emu_stop in the hook, emu_start again from Python."""
    from unicorn import UC_ARCH_X86, UC_HOOK_INSN, UC_MODE_64, Uc
    from unicorn import x86_const as X
    what = f"timeout={timeout_us}" if timeout_us else "no timeout"
    row = Row(f"floor:{timeout_us}", f"reference: bare engine exit + re-entry, emu_start({what})",
              "-", "us")
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.mem_map(0x100000, 0x1000)
    uc.mem_write(0x100000, b"\x0f\x05" + b"\x90" * 14)      # syscall; nops; until
    uc.hook_add(UC_HOOK_INSN, lambda u, _: u.emu_stop(), None, 1, 0, X.UC_X86_INS_SYSCALL)

    def timed(n):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(n):
            uc.emu_start(0x100000, 0x10000f, timeout=timeout_us)
        return time.perf_counter() - t0

    per = max(timed(200) / 200, 1e-7)
    delta = max(100, int(s.floor_seconds / per))
    n1, n2 = max(10, delta // 10), max(10, delta // 10) + delta
    row.params.update(n1=n1, n2=n2)
    for _ in range(s.samples):
        t1, t2 = timed(n1), timed(n2)
        row.values.append((t2 - t1) / (n2 - n1) * 1e6)
    log(f"  engine floor ({what}): {statistics.median(row.values):.2f} us")
    return row


# ---- machine and report ----------------------------------------------------------------
def machine_info() -> dict:
    import unicorn
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "python": platform.python_version(),
        "unicorn": unicorn.__version__,
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "loadavg_start": os.getloadavg(),
    }


def fmt(v: float, unit: str) -> str:
    if unit == "ratio":
        return f"{v:.3f}"
    if unit == "MIPS":
        return f"{v:.0f}"
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


def status(row: Row) -> str:
    if row.error:
        return "FAILED"
    return {True: "met", False: "missed", None: ""}[row.meets]


def table_lines(rows: list[Row]) -> list[str]:
    lines = ["| benchmark | ABI | median | spread (min - max) | unit | target | status |",
             "| --- | --- | ---: | ---: | --- | --- | --- |"]
    for r in rows:
        if r.error:
            lines.append(f"| {r.title} | {r.abi} | - | - | {r.unit} | {r.target} | FAILED |")
            continue
        st = r.stats()
        lines.append(f"| {r.title} | {r.abi} | {fmt(st['median'], r.unit)} | "
                     f"{fmt(st['min'], r.unit)} - {fmt(st['max'], r.unit)} | {r.unit} | "
                     f"{r.target} | {status(r)} |")
    return lines


def cpu_detail_lines(rows: list[Row]) -> list[str]:
    lines = ["| ABI | ours MIPS (median, min - max) | bare MIPS (median, min - max) | "
             "insns/iter | N1 / N2 iterations | reference | guest memory word |",
             "| --- | ---: | ---: | ---: | --- | --- | --- |"]
    for r in rows:
        if r.key != "cpu" or r.error:
            continue
        o, b = r.stats(r.extra["ours_mips"]), r.stats(r.extra["bare_mips"])
        lines.append(f"| {r.abi} | {o['median']:.0f} ({o['min']:.0f} - {o['max']:.0f}) | "
                     f"{b['median']:.0f} ({b['min']:.0f} - {b['max']:.0f}) | "
                     f"{r.params['insns_per_iter']} | {r.params['n1']:,} / {r.params['n2']:,} | "
                     f"{r.params['reference']} | {memory_check(r)} |")
    return lines


def memory_check(r: Row) -> str:
    bad, runs = len(r.extra["acc_mismatches"]), r.extra["guest_runs_checked"]
    if not bad:
        return f"right in all {runs} runs"
    return f"WRONG in {bad} of {runs} runs"


def print_table(rows: list[Row]) -> None:
    headers = ["benchmark", "ABI", "median", "min", "max", "unit", "target", "status"]
    body = []
    for r in rows:
        if r.error:
            body.append([r.title, r.abi, "-", "-", "-", r.unit, r.target, "FAILED"])
            continue
        st = r.stats()
        body.append([r.title, r.abi, fmt(st["median"], r.unit), fmt(st["min"], r.unit),
                     fmt(st["max"], r.unit), r.unit, r.target, status(r)])
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *body)]
    for i, line in enumerate([headers] + body):
        print("  ".join(str(x).ljust(w) if j < 2 or j >= 5 else str(x).rjust(w)
                        for j, (x, w) in enumerate(zip(line, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:
        if r.key == "cpu" and not r.error:
            o, b = r.stats(r.extra["ours_mips"]), r.stats(r.extra["bare_mips"])
            print(f"cpu {r.abi}: ours {o['median']:.0f} MIPS, bare {b['median']:.0f} MIPS "
                  f"({r.params['insns_per_iter']} insns/iter; reference: {r.params['reference']});"
                  f" guest memory word {memory_check(r)}")
    for r in rows:
        if r.error:
            print(f"\nFAILED {r.abi} {r.title}:\n{r.error}")


def loads(values) -> str:
    return ", ".join(f"{x:.2f}" for x in values)


def _add_plot(doc: Path, rows: list[Row], log) -> None:
    """The PNG beside the report (tools/bench_plot.py), and a link to it at its end."""
    from tools.bench_plot import plot
    png = doc.with_suffix(".png")
    if not plot(rows, png):
        log("no plot: matplotlib is not installed (make bench installs it)")
        return
    with open(doc, "a") as f:
        f.write(f"\n## Plot\n\n![every row with a target, against it]({png.name})\n")


def write_doc(path: Path, rows: list[Row], machine: dict, quick: bool, settings: Settings,
              wall: float) -> None:
    m = machine
    failed = [r for r in rows if r.error]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`.venv/bin/python -m tools.bench`); do not edit by hand,"
        " run it again. Performance is never asserted by the tests: it is measured here.",
        "",
        "## How to read this",
        "",
        "Each figure is the median of several samples taken after an untimed warm-up, with"
        " the smallest and largest sample beside it; the machine is shared, so read the"
        " spread before the median. A guest run is timed from the start of `run_domain` to"
        " the guest's poweroff, and boot and shutdown are cancelled out by running two"
        " iteration counts N1 < N2 and dividing the time difference by N2 - N1."
        " The CPU row compares the same loop machine code (copied out of the guest ELF)"
        " in a guest under hvcore and in a bare Unicorn engine; each sample runs ours then"
        " the reference back to back and keeps their ratio, so a busy moment on the"
        " machine hurts both sides of a sample alike. A ratio of 1.0 means guest code runs"
        " at the engine's full speed; round trips are the wall-clock cost of one guest ->"
        " hypervisor -> guest transition, loop overhead included (a few instructions)."
        " The `reference` rows have no target: they show what one exit to Python and"
        " re-entry costs on a bare engine, the floor under every round trip, with and"
        " without the `timeout=` argument of `emu_start` (unicorn then starts and joins a"
        " polling thread on every call; hvcore does not use it: its time slices end at a"
        " block boundary through a C block hook, see hvcore/native/preempt.c)."
        " Compare two reports only at a similar load average (see Machine): on this"
        " 2-CPU machine other work shifts both the ratios and the round trips.",
        "",
        "Run it with `make bench` (full run, a few minutes, rewrites this file) or"
        " `.venv/bin/python -m tools.bench --quick` (under a minute, prints only);"
        " `--json FILE` keeps every sample, `--doc FILE` / `--no-doc` choose the report.",
        "",
        "## Results",
        "",
        *table_lines(rows),
        "",
        "### CPU row in detail",
        "",
        *cpu_detail_lines(rows),
        "",
    ]
    wrong = [r for r in rows if r.key == "cpu" and not r.error and r.extra["acc_mismatches"]]
    if wrong:
        from hvcore.scheduler import SLICE_US
        lines += [
            "### Problems seen while measuring",
            "",
            "The guest's loop left a wrong value in its memory word although its register"
            " state (so its iteration count) agreed with the bare engine: a read-modify-write"
            " of memory was applied twice. The same loop on a bare engine run in"
            f" `emu_start(timeout={SLICE_US})` slices resumed from RIP, as the run loop"
            " does, was:",
            "",
        ]
        for r in wrong:
            ok = r.extra["bare_sliced_ok"]
            lines.append(f"- {r.abi}: guest {memory_check(r)}; bare engine in slices:"
                         f" {'right' if ok else 'WRONG too (an engine problem)'};"
                         f" first case {r.extra['acc_mismatches'][0]}")
        lines.append("")
    if failed:
        lines += ["### Failures", ""]
        for r in failed:
            lines += [f"{r.abi} {r.title}:", "", "```", r.error, "```", ""]
    lines += [
        "## What runs",
        "",
        "- **CPU**: `guests/kernels/bench_loop.c`, `iters=N`. The loop body"
        " (`bench_loop_body` .. `bench_loop_end`) is a xorshift step plus one"
        " read-modify-write of memory; the count of instructions per iteration is taken"
        " from a disassembly of those bytes. The guest and the bare engine must end with"
        " the same register state (else no figure) and the same memory word (a"
        " difference is reported, see the last column). pv32 runs in compatibility"
        " mode under hvcore's 64-bit engine; its reference is a `UC_MODE_32` engine."
        " hvm runs the same 32-bit loop (guests/include/bench_loop.h) in"
        " `guests/hvm/bench_loop.c`, a Multiboot kernel booted directly into an HVM"
        " domain (32-bit protected mode, paging off, with its LAPIC, IOAPIC and PIC);"
        " its reference is the `UC_MODE_32` engine too. Each sample runs ours and the"
        " reference back to back at each count, odd samples the reference first.",
        "- **Round trips**: `guests/kernels/bench_ops.c`, `op=<name> iters=N`:"
        " `cr0` (`mov %cr0,%reg`, #GP, emulated), `rdmsr` (MSR_FS_BASE, pv64 only),"
        " `xenver` (`xen_version(XENVER_version)` through the hypercall page:"
        " `syscall` on pv64, `int $0x82` on pv32), `int3` (bounced to the guest's trap"
        " table entry, through the library's trap entry and `trap_dispatch`, back with"
        " `HYPERVISOR_iret`: two hypervisor entries per iteration).",
        "- **Event channel**: `guests/kernels/pingpong.c` in two domains (ping and pong, pv64),"
        " each in its own process under a private host (`hv create`): pong binds to ping's"
        " unbound port and they bounce an event; ping times each round trip with its own"
        " clock (send, the peer's process applies it and answers, back) and reports the median"
        " and p99 of one run; each sample is one run.",
        "- **Network**: `guests/kernels/netfront.c` in two domains (pv64) under a private host,"
        " each with a vif on dom0's bridge (`hv create`): the pinger resolves the responder"
        " with ARP, then sends `count=N` ICMP echo requests of 56 payload bytes, 32 (or 1)"
        " in flight, and checks every reply; frames per second (requests and replies, all"
        " through netback's tx copy, the bridge and netback's rx copy) by the pinger's clock"
        " over the echo phase.",
        "- **Console**: `guests/kernels/bench_console.c` writes `bytes=N` into its PV console"
        " ring (no console_io), under `hv run`: the console daemon is `hv run`'s process,"
        " the guest runs in its own; MB/s from two sizes so that start-up cancels out.",
        "- **Block**: `guests/kernels/blkfront.c` with `bench_mb=N` under `hv run` with a 64 MiB"
        " raw image (in the page cache): sequential reads, then writes, of N MB (10^6 bytes)"
        " in requests of 11 segments (44 KiB), with 32 requests in flight and with 1, timed"
        " by the guest's own clock; persistent grants, blkback in `hv run`'s process reading"
        " and writing the file straight into the granted pages (preadv/pwritev).",
        TRACE_TEXT,
        "- **Debugging** (tools/bench_debug.py): bench_loop (pv64) with a gdb server"
        " listening, then with one breakpoint, then one write watchpoint, on a function"
        " the loop never reaches (set through the server's own table, as gdb's Z packets"
        " are), each paired with an undebugged run; the ratio of loop speeds. A"
        " watchpoint makes the engine check every store (a ranged memory hook), which is"
        " why it has no target.",
        f"- Guests get {GUEST_MEMORY_MIB} MiB; a fresh domain (and engine) per run.",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable)",
        f"- Python {m['python']}, unicorn {m['unicorn']}, {m['platform']}",
        f"- Date: {m['date']}, commit {m['commit']}",
        f"- Load average (1, 5, 15 min) at start: {loads(m['loadavg_start'])};"
        f" at end: {loads(m['loadavg_end'])}",
        f"- Run: {'--quick' if quick else 'full'}, {settings.samples} samples per row,"
        f" {wall:.0f} s in all",
        "",
    ]
    path.write_text("\n".join(lines))


def _trace_rows(s: Settings, log) -> list[Row]:
    """The cost of tracing (tools/bench_trace.py)."""
    from tools.bench_trace import (bench_trace_boot, bench_trace_hypercalls, bench_trace_insn,
                                   trace_rows)
    from tools.pty_session import SessionError
    out = []
    for fn, placeholder in zip((bench_trace_insn, bench_trace_hypercalls, bench_trace_boot),
                               trace_rows()):
        if fn is bench_trace_boot and s is QUICK:
            log(f"{placeholder.key}: left out of --quick")
            continue
        log(placeholder.key)
        try:
            out.append(fn(s, log))
        except (BenchError, SessionError, OSError, subprocess.CalledProcessError) as err:
            placeholder.error = str(err)
            out.append(placeholder)
            log(f"  FAILED: {err}")
    return out


def _rows_or_errors(bench, placeholders, log) -> list[Row]:
    """`bench()`'s rows, or its placeholder rows carrying the error."""
    try:
        return bench()
    except BenchError as err:
        log(f"  FAILED: {err}")
        rows = placeholders()
        for row in rows:
            row.error = str(err)
        return rows


def _full_run_steps(s: Settings, log):
    """(name, step) of the rows only a full run measures: each boots several domains or
    moves many megabytes, which --quick (under a minute) has no time for."""
    return [
        ("network pv64", lambda: _rows_or_errors(lambda: bench_network(s, log), net_rows, log)),
        ("console pv64", lambda: _rows_or_errors(lambda: [bench_console(s, log)], lambda: [
            Row("console", "console: PV ring throughput, guest -> dom0 console daemon",
                "pv64", "MB/s")], log)),
        ("block pv64", lambda: _rows_or_errors(lambda: bench_block(s, log), block_rows, log)),
        ("grub boot pv64, pv32", lambda: bench_boot_rows(s, log)),
        ("hello boot, scale", lambda: bench_scale_rows(s, log)),
        ("debugging overhead pv64", lambda: _rows_or_errors(lambda: _debug_rows(s, log),
                                                            lambda: [], log)),
    ]


def _debug_rows(s: Settings, log) -> list[Row]:
    from tools.bench_debug import bench_debug_rows
    return bench_debug_rows(s, log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools.bench", description="hvcore benchmarks: PV core speed (docs/benchmarks.md)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter samples (< 1 min)")
    parser.add_argument("--json", metavar="FILE", help="also write all samples as JSON")
    parser.add_argument("--doc", metavar="FILE", default=None,
                        help=f"markdown report to write (default: {DOC.relative_to(ROOT)}"
                             " for a full run, none for --quick)")
    parser.add_argument("--no-doc", action="store_true", help="do not write the markdown report")
    parser.add_argument("--no-build", action="store_true", help="do not run make for the guests")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    sys.path.insert(0, str(ROOT))

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if not args.no_build:
        build_bench_kernels()
    preload_errors = []
    for kernel in BENCH_KERNELS:
        for abi in ("pv64", "pv32"):
            try:
                Guest.get(kernel, abi)
            except BenchError as err:
                preload_errors.append(str(err))
    if preload_errors:
        log("\n".join(preload_errors))
        return 2
    machine = machine_info()
    start = time.perf_counter()
    rows: list[Row] = []

    def attempt(fn, placeholder: Row) -> None:
        try:
            rows.append(fn())
        except BenchError as err:
            placeholder.error = str(err)
            rows.append(placeholder)
            log(f"  FAILED: {err}")

    from hvcore.scheduler import SLICE_US
    quick = settings is QUICK
    for abi in ("pv64", "pv32", "hvm"):
        log(f"cpu {abi}")
        attempt(lambda: bench_cpu(abi, settings, log),
                Row("cpu", "CPU: compute loop, ours / bare Unicorn", abi, "ratio",
                    target=f">= {CPU_TARGET_RATIO}"))
    for op, abis, title in OPS:
        for abi in abis[:1] if quick else abis:
            log(f"{op} {abi}")
            attempt(lambda: bench_op(op, abi, title, settings, log),
                    Row(f"op:{op}", title, abi, "us", target=f"<= {ROUND_TRIP_TARGET_US:g} us"))
    log("evtchn pv64")
    attempt(lambda: bench_evtchn(settings, log),
            Row("evtchn", "event channel: interdomain round trip, two domain processes (median)",
                "pv64", "us", target=f"<= {EVTCHN_TARGET_US} us"))
    for name, step in _full_run_steps(settings, log):
        if quick:
            log(f"{name}: left out of --quick")
            continue
        log(name)
        rows.extend(step())
    log("tk boot, ours and QEMU")
    rows.extend(bench_qemu_rows(settings, log))
    log("Multiboot kernel to its exit, ours and QEMU")
    rows.extend(bench_multiboot_rows(settings, log))
    rows.extend(_trace_rows(settings, log))
    for timeout in (0, SLICE_US):
        attempt(lambda: bench_engine_floor(timeout, settings, log),
                Row(f"floor:{timeout}", "reference: bare engine exit + re-entry", "-", "us"))
    rows = evtchn_p99_row(rows)
    wall = time.perf_counter() - start
    machine["loadavg_end"] = os.getloadavg()

    print()
    print_table(rows)
    print(f"\n{'quick' if args.quick else 'full'} run, {settings.samples} samples per row, "
          f"{wall:.0f} s; {machine['cpu']}, {machine['logical_cpus']} CPUs, "
          f"python {machine['python']}, unicorn {machine['unicorn']}")
    if args.json:
        data = {"machine": machine, "quick": args.quick, "settings": settings.__dict__,
                "wall_seconds": wall,
                "rows": [{"key": r.key, "title": r.title, "abi": r.abi, "unit": r.unit,
                          "target": r.target, "meets": r.meets, "error": r.error,
                          "stats": r.stats(), "samples": r.values, "params": r.params,
                          **r.extra} for r in rows]}
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    doc = args.doc or (None if args.quick else str(DOC))
    if doc and not args.no_doc:
        write_doc(Path(doc), rows, machine, args.quick, settings, wall)
        _add_plot(Path(doc), rows, log)
        print(f"wrote {doc}")
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
