"""A guest that jumps into unmapped memory with no trap table is crashed with a report."""
import pytest

from conftest import ABIS, kernel, run_hv


@pytest.mark.parametrize("abi", ABIS)
def test_unmapped_jump_crashes_with_report(guests, abi):
    result = run_hv("run", kernel(abi, "crash_unmapped"), "--timeout", "60")
    assert result.code == 1, result.stdout + result.stderr
    err = result.stderr
    assert "Traceback" not in err
    assert "crashed:" in err and "#PF page fault" in err
    width = "rip=" if abi == "pv64" else "eip="
    assert width in err                      # registers
    assert "code:" in err                     # disassembly around RIP (or why there is none)
    assert "last hypercalls:" in err
    assert err.strip().splitlines()[-1].startswith("hv: d1 (crash_unmapped) crash")


def test_timeout_exits_124(guests, tmp_path):
    # the loop kernel with a huge iteration count cannot finish in 1 s
    result = run_hv("run", kernel("pv64", "loop"), "--cmdline", "iters=100000000000",
                    "--timeout", "1")
    assert result.code == 124, result.stderr
    assert "timeout" in result.stderr.splitlines()[-1]


def test_hypervisor_bug_crashes_only_the_domain(guests, monkeypatch):
    """A bug in a hypercall handler becomes a crash report for that domain, not an
    exception out of the hypervisor (the safety net, with a handler made to fail)."""
    from hvcore import hypercalls
    from hvcore.public import xen as XEN
    from hvcore.scheduler import run_domain
    from loaders.elf import load_kernel
    from loaders.pv_builder import build_pv_domain

    hypercalls.load_families()

    def broken(v, *args):
        raise ZeroDivisionError("deliberate")

    monkeypatch.setitem(hypercalls.TABLE, XEN.HYPERVISOR_xen_version, broken)
    out = []
    dom = build_pv_domain(load_kernel(str(kernel("pv64", "xenver"))), 64, "", 1, "bug",
                          out.append)
    try:
        assert run_domain(dom) == "crash"
        report = dom.crash_report
        assert "hypervisor bug: ZeroDivisionError: deliberate" in report
        assert "Traceback" not in report
        assert "rip=" in report and "last hypercalls:" in report
    finally:
        dom.destroy()


def test_hypervisor_bug_in_an_hvm_guest_crashes_only_the_domain(monkeypatch):
    """The same safety net for an HVM guest's exits (a PVH kernel's vmcall here)."""
    import subprocess

    from conftest import ROOT
    from hvcore import hypercalls
    from hvcore.hvm.direct_boot import boot_pvh
    from hvcore.hvm.domain import build_hvm_domain
    from hvcore.hvm.run import run_hvm_domain
    from hvcore.hvm.xen import attach_xen
    from hvcore.public import xen as XEN

    subprocess.run(["make", "-s", "-C", str(ROOT / "guests" / "pvh")], check=True)
    hypercalls.load_families()

    def broken(v, *args):
        raise ZeroDivisionError("deliberate")

    monkeypatch.setitem(hypercalls.TABLE, XEN.HYPERVISOR_console_io, broken)
    dom = build_hvm_domain(1, "bug", 16, None, lambda data: None)
    try:
        attach_xen(dom, rings=True)
        boot_pvh(dom, str(ROOT / "guests" / "pvh" / "build" / "pvh32.elf"), "")
        assert run_hvm_domain(dom) == "crash"
        assert "hypervisor bug: ZeroDivisionError: deliberate" in dom.crash_report
        assert "Traceback" not in dom.crash_report
    finally:
        dom.destroy()
