"""Snapshots: `hv save` / `hv restore` against a real host and real domain processes,
and the in-process capture/restore they are made of. A restored guest must go on to
print exactly what a run that was never saved prints.

The counter guests run with `hold=1`: after their last line they wait for a key on
the console. A test may then take its time (a loaded machine starts `hv` slowly) and
still find the domain there to save or list; it types the key when it wants the end."""
import time

import pytest

from conftest import kernel, run_hv
from test_toolstack_cli import _cfg, _domains, _ready, _wait_gone, host  # noqa: F401 - fixture

COUNT = 16


def _reference(abi: str) -> list[str]:
    """The counter's whole output in a run never saved (its lines do not depend on time)."""
    result = run_hv("run", kernel(abi, "counter"), "--cmdline",
                    f"count={COUNT} period_ms=1 hold=1", "--timeout", "60", input="k")
    assert result.code == 0, result.stderr
    return result.stdout.splitlines()


def _log(tmp, domid: int) -> list[str]:
    return (tmp / "state" / f"d{domid}.log").read_text().splitlines()


def _counter(tmp, name: str, abi: str):
    return _cfg(tmp, name, kernel(abi, "counter"),
                f'extra = "count={COUNT} period_ms=100 hold=1"\n')


@pytest.mark.parametrize("abi", ["pv64", "pv32"])
def test_saved_and_restored_guest_prints_what_an_unsaved_one_does(host, abi):
    hv, tmp = host
    want = _reference(abi)
    assert hv("create", _counter(tmp, "cnt", abi)).code == 0
    _ready(hv, tmp, 1, "counter: 4 ")
    snap = tmp / "cnt.snap"
    saved = hv("save", "cnt", snap)
    assert saved.code == 0, saved.stderr
    _wait_gone(hv, "cnt")                      # xl save: the domain is gone
    assert snap.read_bytes()[:8] == b"HVSNAP\r\n"
    before = _log(tmp, 1)
    assert "counter: PASS" not in before
    restored = hv("restore", snap)
    assert restored.code == 0, restored.stderr
    assert [(d["name"], d["id"]) for d in _domains(hv)] == [("cnt", 2)]   # a new domid
    _type(tmp, "cnt", "k", until=(2, "counter: PASS"))
    assert before + _log(tmp, 2) == want
    log = hv("dmesg").stdout
    assert "d1 (cnt) saved to" in log and "d2 (cnt) restored from" in log


def test_checkpoint_keeps_running_and_one_file_restores_twice(host):
    hv, tmp = host
    want = _reference("pv64")
    assert hv("create", _counter(tmp, "cnt", "pv64")).code == 0
    _ready(hv, tmp, 1, "counter: 3 ")
    snap = tmp / "cnt.snap"
    assert hv("save", "-c", "cnt", snap).code == 0
    _type(tmp, "cnt", "k", until=(1, "counter: PASS"))   # the original ran on, undisturbed
    assert _log(tmp, 1) == want
    _wait_gone(hv, "cnt")
    assert hv("restore", snap, "--name", "first").code == 0
    assert hv("restore", snap, "--name", "second").code == 0
    for domid, name in ((2, "first"), (3, "second")):
        _type(tmp, name, "k", until=(domid, "counter: PASS"))
    first, second = _log(tmp, 2), _log(tmp, 3)
    assert first == second and 0 < len(first) < len(want) and want[-len(first):] == first


def test_echo_saved_while_waiting_for_input_answers_after_restore(host):
    hv, tmp = host
    assert hv("create", _cfg(tmp, "echo", kernel("pv32", "echo"))).code == 0
    _ready(hv, tmp, 1, "echo: ready")
    _type(tmp, "echo", "before\n", until=(1, "echo: before"))
    snap = tmp / "echo.snap"
    assert hv("save", "echo", snap).code == 0
    _wait_gone(hv, "echo")
    assert hv("restore", snap).code == 0
    console = hv("console", "echo", input="after\nquit\n", timeout=30)
    assert "echo: after" in console.stdout and "echo: PASS" in console.stdout
    assert "echo: before" not in _log(tmp, 2)         # said once, before the save


def test_xenstore_home_and_watches_follow_the_new_domid(host):
    """The balloon driver's watch on memory/target, set before the save, fires in the
    restored domain; its home's paths and values name the new domid."""
    hv, tmp = host
    assert hv("create", _cfg(tmp, "bal", kernel("pv64", "balloon"))).code == 0
    _ready(hv, tmp, 1, "balloon: ready")
    snap = tmp / "bal.snap"
    assert hv("save", "bal", snap).code == 0
    _wait_gone(hv, "bal")
    assert hv("restore", snap).code == 0
    assert hv("xenstore", "read", "/local/domain/2/domid").stdout.strip() == "2"
    backend = hv("xenstore", "read", "/local/domain/2/console/backend").stdout.strip()
    assert backend.endswith("/console/2/0"), backend
    assert hv("mem-set", "bal", "16").code == 0
    _ready(hv, tmp, 2, "balloon: target 16384 KiB")
    assert hv("destroy", "bal").code == 0


def _type(tmp, dom: str, text: str, until: tuple[int, str]) -> None:
    """Type on a domain's console and detach once its log shows `until` (a console
    client stays attached until the domain ends: it is stopped here instead)."""
    import os
    import subprocess
    import sys
    from conftest import ROOT
    proc = subprocess.Popen([sys.executable, "-m", "tools.hv", "console", str(dom)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env={**os.environ, "HV_STATE_DIR": str(tmp / "state")})
    try:
        proc.stdin.write(text.encode())
        proc.stdin.flush()
        _ready(None, tmp, *until)
    finally:
        proc.kill()
        proc.wait()


def test_bad_snapshot_files_are_refused_with_one_line(host):
    hv, tmp = host
    assert hv("create", _counter(tmp, "cnt", "pv64")).code == 0
    _ready(hv, tmp, 1, "counter: 1 ")
    good = tmp / "good.snap"
    assert hv("save", "cnt", good).code == 0
    data = good.read_bytes()
    middle = len(data) // 2
    bad = {"text": (b"name = 'not a snapshot'\n", "bad magic"),
           "truncated": (data[:middle], "truncated"),
           "version": (data[:8] + (99).to_bytes(4, "little") + data[12:], "version 99"),
           "corrupted": (data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:],
                         "corrupted")}
    for name, (content, words) in bad.items():
        path = tmp / f"{name}.snap"
        path.write_bytes(content)
        result = hv("restore", path)
        assert result.code == 2, (name, result)
        assert words in result.stderr and result.stderr.strip().count("\n") == 0, (name, result)
        assert "Traceback" not in result.stderr
    missing = hv("restore", tmp / "none.snap")
    assert missing.code == 2 and "No such file" in missing.stderr
    assert hv("save", "nobody", tmp / "x.snap").code == 2
    assert [d["name"] for d in _domains(hv)] == []      # nothing was started


def test_capture_and_restore_in_one_process():
    """The API replay builds on: no files, no host; two domains from one snapshot."""
    from hvcore.hypercalls import load_families
    from hvcore.scheduler import run_domain
    from hvcore.snapshot import DomainSnapshot, capture
    from hvcore.snapshot.pv import new_domain
    from loaders.elf import load_kernel
    from loaders.pv_builder import build_pv_domain
    load_families()
    out, copy = bytearray(), bytearray()
    dom = build_pv_domain(load_kernel(kernel("pv64", "counter")), 32,
                          f"count={COUNT} period_ms=20", 1, "c", console_write=out.extend)
    run_domain(dom, deadline=time.monotonic() + 0.15)
    snap = DomainSnapshot.from_bytes(capture(dom).to_bytes())
    again = new_domain(snap, 7, "c2", copy.extend)
    assert run_domain(dom) == "poweroff" and run_domain(again) == "poweroff"
    assert copy and out.endswith(copy) and b"counter: PASS" in copy


def test_save_of_a_deterministic_domain_is_refused_at_once(tmp_path, guests):
    """hv run --deterministic domains take requests only at their clock's points
    (hvcore/replay/): the host says no in one line instead of waiting for an answer."""
    import time
    from hvcore.host.domain_process import spawn_domain
    from hvcore.host.supervisor import Host
    from hvcore.snapshot.host import save_domain
    from hvcore.toolstack import load_config
    state = tmp_path / "state"
    state.mkdir()
    cfg = tmp_path / "det.cfg"
    cfg.write_text(f'name = "det"\nkernel = "{kernel("pv64", "echo")}"\nmemory = 32\n')
    host = Host(state)
    try:
        dp = spawn_domain(kernel("pv64", "echo"), 1, "det", 32, "", replay=["--deterministic"])
        g = host.adopt(dp, load_config(str(cfg), []), open(state / "d1.log", "ab"))
        started = time.monotonic()
        reply = save_domain(host, g, str(tmp_path / "det.snap"), keep_running=False)
        assert time.monotonic() - started < 2
        assert not reply["ok"] and "runs deterministically" in reply["error"], reply
        assert "\n" not in reply["error"] and not (tmp_path / "det.snap").exists()
        assert g.dp.proc.poll() is None                 # left running
    finally:
        host._shutdown_all()
        host.listener.close()
        host.xs_listener.close()
