#!/usr/bin/env python3
"""Boot every test kernel under the hypervisor and check the outcome.

    .venv/bin/python guests/tools/run_all.py [--abi pv64|pv32] [kernel ...]

A kernel passes when it prints "<name>: PASS", prints no "FAIL:" line and
`hv run` exits 0 (poweroff); crash_unmapped passes when the domain is
crashed (non-zero exit, no PASS line).
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GUESTS = os.path.dirname(HERE)
ROOT = os.path.dirname(GUESTS)
KERNELS = ["hello", "traps", "usermode", "pagetables", "time", "privop",
           "loop", "crash_unmapped", "xenver", "events"]
EXPECT_CRASH = {"crash_unmapped"}
CMDLINE = {"loop": "iters=10000000"}


def run(abi, kernel, timeout, verbose, memory):
    elf = os.path.join(GUESTS, "build", abi, kernel + ".elf")
    cmd = [sys.executable, "-m", "tools.hv", "run", "--timeout", str(timeout)]
    if memory:
        cmd += ["--memory", str(memory)]
    if kernel in CMDLINE:
        cmd += ["--cmdline", CMDLINE[kernel]]
    cmd.append(elf)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                           timeout=timeout + 30)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace"), "timeout"
    dt = time.monotonic() - t0
    passed_line = any(l.strip() == kernel + ": PASS" for l in out.splitlines())
    fails = [l for l in out.splitlines() if l.startswith("FAIL:")]
    if kernel in EXPECT_CRASH:
        ok = rc not in (0, "timeout") and not passed_line and not fails
    else:
        ok = rc == 0 and passed_line and not fails
    status = "ok" if ok else "FAILED"
    print("%-5s %-15s %-7s rc=%-8s %5.1fs %s" % (
        abi, kernel, status, rc, dt, fails[0] if fails else ""))
    if verbose or not ok:
        for line in out.splitlines()[-25:]:
            print("      | " + line)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--abi", choices=["pv64", "pv32"], action="append")
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--memory", type=int, help="guest memory in MiB")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("kernels", nargs="*")
    a = ap.parse_args()
    bad = 0
    for abi in a.abi or ["pv64", "pv32"]:
        for k in a.kernels or KERNELS:
            bad += not run(abi, k, a.timeout, a.verbose, a.memory)
    print("%d failed" % bad if bad else "all passed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
