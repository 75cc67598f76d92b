"""The PV console through `hv run`: output from console_io and the ring, input from stdin
into the guest's ring (the domain runs in its own process; the console daemon is ours)."""
import resource

import pytest

from conftest import ABIS, kernel, run_hv


@pytest.mark.parametrize("abi", ABIS)
def test_stdin_reaches_the_guest_console_ring(guests, abi):
    result = run_hv("run", kernel(abi, "echo"), "--timeout", "60",
                    input="hello ring\nsecond line\nquit\n")
    assert result.code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "echo: hello ring" in lines
    assert "echo: second line" in lines
    assert lines[-1] == "echo: PASS"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_guest_waiting_for_input_costs_no_cpu(guests):
    # no input: the guest blocks in SCHEDOP_poll for 4 s until the timeout ends it.
    # hv and the domain process are reaped descendants, so their CPU time shows here;
    # a spinning guest would use about 4 s of it, a blocked one only the start-up.
    before = _children_cpu()
    result = run_hv("run", kernel("pv64", "echo"), "--timeout", "4", input="")
    used = _children_cpu() - before
    assert result.code == 124
    assert "echo: ready" in result.stdout
    assert "timeout" in result.stderr.strip().splitlines()[-1]
    assert used < 2.0, f"{used:.2f} s of CPU while the guest was blocked"
