"""Boot every one of our PV test kernels, 64-bit and 32-bit PAE, under the real `hv run`."""
import pytest

from conftest import ABIS, kernel, run_hv

PASSING = ["hello", "traps", "usermode", "pagetables", "time", "privop", "xenver", "events",
           "xenstore", "ticker"]


@pytest.mark.parametrize("abi", ABIS)
@pytest.mark.parametrize("name", PASSING)
def test_kernel_passes_and_powers_off(guests, abi, name):
    result = run_hv("run", kernel(abi, name), "--timeout", "60")
    assert f"{name}: PASS" in result.stdout, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert result.code == 0, result.stderr
    assert "poweroff" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("abi", ABIS)
def test_loop_reads_its_command_line(guests, abi):
    result = run_hv("run", kernel(abi, "loop"), "--cmdline", "iters=12345", "--timeout", "60")
    assert result.code == 0, result.stderr
    assert "12345" in result.stdout
    assert "loop: PASS" in result.stdout


@pytest.mark.parametrize("abi", ABIS)
def test_hello_prints_cmdline(guests, abi):
    result = run_hv("run", kernel(abi, "hello"), "--cmdline", "greeting=from-the-test")
    assert result.code == 0, result.stderr
    assert "greeting=from-the-test" in result.stdout
