"""Grading-friendly `hv run`: --expect, --timeout, --no-progress and --json, on real guests
through the real CLI (tools/run_watch.py, hvcore/host/progress.py)."""
from __future__ import annotations

import json
import re

import pytest

from conftest import kernel, run_hv
from tools.run_watch import RunWatch


def _result(stdout: str) -> dict:
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, f"--json prints one line on stdout, got {stdout!r}"
    return json.loads(lines[0])


@pytest.mark.parametrize("abi", ["pv64", "pv32"])
def test_expect_stops_a_guest_that_would_run_on(guests, abi):
    r = run_hv("run", kernel(abi, "echo"), "--expect", r"ready on console port \d+",
               "--timeout", "60", "--json")
    assert r.code == 0, r.stderr
    res = _result(r.stdout)
    assert res["exit_reason"] == "expect" and res["exit_code"] == 0
    assert res["matched"].startswith("ready on console port")
    assert "echo: starting" in res["console_tail"]
    assert "echo: starting" in r.stderr          # the console still shows, on stderr
    assert res["instructions"] is None and res["wall_seconds"] < 60


def test_timeout_without_the_match_is_124(guests):
    r = run_hv("run", kernel("pv64", "echo"), "--expect", "never printed", "--timeout", "2",
               "--json")
    assert r.code == 124, r.stderr
    res = _result(r.stdout)
    assert (res["exit_reason"], res["exit_code"], res["matched"]) == ("timeout", 124, None)
    assert res["wall_seconds"] >= 2
    assert res["hypercalls"] > 0 and res["traps"] > 0    # reported while it ran


def test_a_guest_that_ends_without_the_match_is_5(guests):
    r = run_hv("run", kernel("pv64", "hello"), "--expect", "never printed", "--json")
    assert r.code == 5, r.stderr
    res = _result(r.stdout)
    assert res["exit_reason"] == "poweroff" and res["matched"] is None
    assert "hello: PASS" in res["console_tail"] and res["hypercalls"] > 10


def test_no_progress_watchdog_stops_a_silent_spinning_guest(guests):
    # loop spins 10^9 iterations with no console output and no hypercall
    r = run_hv("run", kernel("pv64", "loop"), "--cmdline",
               "iters=1000000000", "--no-progress", "1", "--timeout", "60", "--json")
    assert r.code == 4, r.stderr
    res = _result(r.stdout)
    assert res["exit_reason"] == "no_progress" and res["wall_seconds"] < 30
    assert "no_progress after" in r.stderr


def test_watchdog_leaves_a_busy_guest_alone(guests):
    r = run_hv("run", kernel("pv64", "ticker"), "--cmdline", "ticks=40 period_ms=50",
               "--no-progress", "1", "--timeout", "60")
    assert r.code == 0, r.stderr
    assert "ticker: PASS" in r.stdout


def test_without_json_exit_codes_are_unchanged(guests):
    r = run_hv("run", kernel("pv32", "hello"), "--expect", "PASS")
    assert r.code == 0 and "hello: PASS" in r.stdout and not r.stdout.startswith("{")


@pytest.mark.parametrize("args", [["--expect", "("], ["--no-progress", "0"],
                                  ["--no-progress", "x"]])
def test_bad_options_are_one_line_exit_2(guests, args):
    r = run_hv("run", kernel("pv64", "hello"), *args)
    assert r.code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_expect_matches_across_console_chunks():
    watch = RunWatch(re.compile("hello, world"), None)
    watch.output(b"boot... hel")
    assert watch.stop_reason() is None
    watch.output(b"lo, world\n")
    assert watch.stop_reason() == "expect" and watch.matched == "hello, world"


def test_watchdog_counts_hypercalls_as_progress():
    watch = RunWatch(None, 0.2)
    watch.counts({"hypercalls": 1, "traps": 1})
    watch.last_progress -= 1
    assert watch.stop_reason() == "no_progress"
    watch.counts({"hypercalls": 2, "traps": 1})
    assert watch.stop_reason() is None
