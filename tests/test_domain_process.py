"""Domains in their own OS processes: guest RAM shared through a memfd, the console
ring served from the other process, a SIGKILLed domain noticed."""
import os
import select
import time

import pytest

from conftest import kernel
from hvcore.host.domain_process import DomainStartError, spawn_domain


def _serve_until_exit(dp, limit=60.0):
    deadline = time.monotonic() + limit
    while dp.proc.poll() is None and time.monotonic() < deadline:
        select.select([dp.notify_fd, dp.sock], [], [], 0.01)
        dp.drain_console()
        dp.pump()
    return dp.wait(timeout=10)


@pytest.mark.parametrize("abi", ["pv64", "pv32"])
def test_console_ring_served_from_another_process(guests, abi):
    dp = spawn_domain(kernel(abi, "hello"), domid=3, name="web", console_io=False,
                      cmdline="ring=yes")
    try:
        comm = open(f"/proc/{dp.pid}/comm").read().strip()
        assert comm == "hv: d3 web"
        assert _serve_until_exit(dp) == 0
        out = dp.console_out.decode(errors="replace")
        assert "hello: PASS" in out and "ring=yes" in out
        assert dp.hypervisor_console == b""   # nothing went through console_io
        assert dp.shutdown["reason"] == "poweroff"
    finally:
        dp.close()


def test_guest_memory_is_shared_not_copied(guests):
    """What the domain process's builder wrote into guest RAM is visible through the
    supervisor's own mapping of the memfd it was handed: the same pages."""
    dp = spawn_domain(kernel("pv64", "loop"), domid=4, name="loop",
                      cmdline="iters=1000000000000 marker=shared-pages")
    try:
        at = dp.ram.find(b"xen-3.0-x86_64")               # start_info.magic
        assert at >= 0 and at % 4096 == 0
        cmdline = bytes(dp.ram[at + 128:at + 128 + 64])   # start_info.cmd_line @128
        assert cmdline.startswith(b"iters=1000000000000 marker=shared-pages")
    finally:
        dp.close()


def test_sigkill_of_a_domain_is_noticed_and_others_finish(guests):
    victim = spawn_domain(kernel("pv64", "loop"), domid=5, name="victim",
                          cmdline="iters=1000000000000")
    other = spawn_domain(kernel("pv32", "hello"), domid=6, name="other")
    try:
        os.kill(victim.pid, 9)
        assert victim.wait(timeout=10) == -9
        assert victim.shutdown is None          # it never said goodbye: killed
        assert _serve_until_exit(other) == 0
        assert b"hello: PASS" in other.hypervisor_console
    finally:
        victim.close()
        other.close()


def test_bad_kernel_reports_one_line(tmp_path):
    bad = tmp_path / "bad.elf"
    bad.write_text("not an elf")
    with pytest.raises(DomainStartError) as err:
        spawn_domain(bad, domid=7, name="bad")
    assert "bad.elf" in str(err.value) and "\n" not in str(err.value)
