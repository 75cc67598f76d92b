"""Ballooning driven by memory/target: `hv mem-set` writes the target, the guest's
balloon driver (guests/kernels/balloon.c) gives frames back and takes them again with
XENMEM_decrease_reservation / populate_physmap, and they come back zeroed."""
import time

import pytest

from conftest import kernel
from test_toolstack_cli import _wait_gone, host  # noqa: F401 (fixture)


def _wait_for(log, text, timeout=60):
    deadline = time.monotonic() + timeout
    while text not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"no {text!r} in {log.read_text()}"
        time.sleep(0.05)


@pytest.mark.parametrize("abi", ["pv64", "pv32"])
def test_mem_set_balloons_down_and_up(host, abi):
    hv, tmp = host
    cfg = tmp / "balloon.cfg"
    cfg.write_text(f'name = "balloon"\nkernel = "{kernel(abi, "balloon")}"\nmemory = 32\n')
    assert hv("create", cfg).code == 0
    log = tmp / "state" / "d1.log"
    _wait_for(log, "balloon: ready with 8192 pages")
    assert "balloon: exchange of a free frame OK, of a page table -22" in log.read_text()
    assert hv("mem-set", "balloon", "28").code == 0
    _wait_for(log, "balloon: target 28672 KiB: reservation 7168 pages")
    assert hv("mem-set", "1", "32").code == 0
    _wait_for(log, "balloon: target 32768 KiB: reservation 8192 pages")
    _wait_gone(hv, "balloon")
    assert "balloon: PASS" in log.read_text()
    bad = hv("mem-set", "nosuch", "16")
    assert bad.code == 2 and "no domain 'nosuch'" in bad.stderr
