"""on_crash/on_poweroff = "preserve" with the real `hv create/list/console/dmesg/destroy`:
the domain stays listed as xl shows it until destroyed; its process is gone."""
import json
import os
import time

from conftest import kernel
from test_toolstack_cli import _cfg, host  # noqa: F401 - the host fixture


def _row(hv, name):
    return next((d for d in json.loads(hv("list", "-l").stdout) if d["name"] == name), None)


def _wait_state(hv, name, state, limit=30.0):
    deadline = time.monotonic() + limit
    while (_row(hv, name) or {}).get("state") != state:
        assert time.monotonic() < deadline, f"{name}: {_row(hv, name)}"
        time.sleep(0.1)
    return _row(hv, name)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_crashed_domain_is_preserved_until_destroyed(host):
    hv, tmp = host
    cfg = _cfg(tmp, "wreck", kernel("pv64", "crash_unmapped"), 'on_crash = "preserve"\n')
    assert hv("create", cfg).code == 0
    row = _wait_state(hv, "wreck", "c")
    assert not _pid_alive(row["pid"])                       # its process has gone
    table = hv("list").stdout
    assert any(line.split()[0] == "wreck" and line.split()[4] == "----c-"
               for line in table.splitlines())
    frozen = row["time"]
    time.sleep(0.3)
    assert _row(hv, "wreck")["time"] == frozen              # the clock stopped with it
    assert "crashed" in hv("dmesg").stdout                  # its crash report
    console = hv("console", "wreck", timeout=20)
    assert console.code == 0 and "crash_unmapped" in console.stdout
    assert hv("xenstore", "read", "/local/domain/1/name").stdout.strip() == "wreck"
    refused = hv("pause", "wreck")
    assert refused.code == 2 and "not running" in refused.stderr
    dup = hv("create", cfg)
    assert dup.code == 2 and "already exists" in dup.stderr
    assert hv("destroy", "wreck").code == 0
    assert _row(hv, "wreck") is None
    assert hv("xenstore", "read", "/local/domain/1/name").code == 2
    assert hv("create", cfg).code == 0                      # the name is free again


def test_powered_off_domain_is_preserved_and_shutdown_w_returns(host):
    hv, tmp = host
    cfg = _cfg(tmp, "calm", kernel("pv32", "shutdown"), 'on_poweroff = "preserve"\nvcpus = 2\n')
    assert hv("create", cfg).code == 0
    log = tmp / "state" / "d1.log"
    deadline = time.monotonic() + 20
    while "watching control/shutdown" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert _row(hv, "calm")["vcpus"] == 2
    assert hv("shutdown", "-w", "calm", timeout=30).code == 0   # returns once shut down
    row = _row(hv, "calm")
    assert row["state"] == "s" and not _pid_alive(row["pid"])
    assert "watching control/shutdown" in hv("console", "calm", timeout=20).stdout
    again = hv("shutdown", "calm")
    assert again.code == 2 and "not running" in again.stderr
    assert hv("destroy", "calm").code == 0 and _row(hv, "calm") is None


def test_down_clears_preserved_domains(host):
    hv, tmp = host
    cfg = _cfg(tmp, "kept", kernel("pv64", "hello"), 'on_poweroff = "preserve"\n')
    assert hv("create", cfg).code == 0
    _wait_state(hv, "kept", "s")
    started = time.monotonic()
    assert hv("down").code == 0
    assert time.monotonic() - started < 4
