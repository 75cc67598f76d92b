"""The `hv` toolstack against a real host process: create, list, console, destroy,
shutdown, dmesg, down; domains in their own processes; the host keeps going."""
import json
import os
import signal
import time

import pytest

from conftest import kernel, run_hv


@pytest.fixture
def host(tmp_path, guests):
    env = {"HV_STATE_DIR": str(tmp_path / "state")}
    hv = lambda *a, **kw: run_hv(*a, env=env, **kw)
    assert hv("up").code == 0
    yield hv, tmp_path
    hv("down")


def _cfg(tmp_path, name, kern, extra=""):
    path = tmp_path / f"{name}.cfg"
    path.write_text(f'name = "{name}"\nkernel = "{kern}"\nmemory = 32\n{extra}')
    return path


def _domains(hv):
    return json.loads(hv("list", "-l").stdout)


def _wait_gone(hv, name, limit=20.0):
    deadline = time.monotonic() + limit
    while any(d["name"] == name for d in _domains(hv)):
        assert time.monotonic() < deadline, f"{name} still listed"
        time.sleep(0.1)


def test_create_list_console_and_exit(host):
    hv, tmp = host
    state = tmp / "state"
    assert os.stat(state / "host.sock").st_mode & 0o077 == 0      # owner only
    created = hv("create", _cfg(tmp, "web", kernel("pv64", "echo")))
    assert created.code == 0, created.stderr
    rows = _domains(hv)
    assert [(r["name"], r["id"], r["mem"]) for r in rows] == [("web", 1, 32)]
    assert open(f"/proc/{rows[0]['pid']}/comm").read().strip() == "hv: d1 web"
    table = hv("list").stdout.splitlines()
    assert table[0].split() == ["Name", "ID", "Mem", "VCPUs", "State", "Time(s)"]
    console = hv("console", "web", input="over the host\nquit\n", timeout=30)
    assert "echo: over the host" in console.stdout and "echo: PASS" in console.stdout
    _wait_gone(hv, "web")
    log = hv("dmesg").stdout
    assert "d1 (web) created" in log and "d1 (web) poweroff" in log
    assert "echo: PASS" in (state / "d1.log").read_text()


def test_sigkill_of_one_domain_leaves_the_others_running(host):
    hv, tmp = host
    assert hv("create", _cfg(tmp, "victim", kernel("pv64", "loop"),
                             'extra = "iters=1000000000000"\n')).code == 0
    assert hv("create", _cfg(tmp, "survivor", kernel("pv32", "echo"))).code == 0
    victim = next(d for d in _domains(hv) if d["name"] == "victim")
    os.kill(victim["pid"], signal.SIGKILL)
    _wait_gone(hv, "victim")
    assert "d1 (victim) died" in hv("dmesg").stdout
    console = hv("console", "survivor", input="still here\nquit\n", timeout=30)
    assert "echo: still here" in console.stdout and "echo: PASS" in console.stdout


def test_destroy_and_duplicate_names(host):
    hv, tmp = host
    cfg = _cfg(tmp, "once", kernel("pv64", "loop"), 'extra = "iters=1000000000000"\n')
    assert hv("create", cfg).code == 0
    dup = hv("create", cfg)
    assert dup.code == 2 and "already exists" in dup.stderr
    assert hv("destroy", "once").code == 0
    _wait_gone(hv, "once")
    missing = hv("destroy", "nobody")
    assert missing.code == 2 and "nobody" in missing.stderr


def test_bad_config_starts_nothing(host):
    hv, tmp = host
    bad = tmp / "bad.cfg"
    bad.write_text(f'name = "bad"\nkernel = "{kernel("pv64", "hello")}"\nmemroy = 3\n')
    result = hv("create", bad)
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0 and "bad.cfg:3" in result.stderr
    assert _domains(hv) == []


def test_commands_without_a_host_say_so(tmp_path):
    result = run_hv("list", env={"HV_STATE_DIR": str(tmp_path / "none")})
    assert result.code == 2 and "no host is running" in result.stderr


def test_on_poweroff_restart_and_xenstore_cli(host):
    hv, tmp = host
    cfg = _cfg(tmp, "again", kernel("pv64", "hello"), 'on_poweroff = "restart"\n')
    assert hv("create", cfg).code == 0
    deadline = time.monotonic() + 20
    while "not restarting" not in (log := hv("dmesg").stdout):
        assert time.monotonic() < deadline, log
        time.sleep(0.2)
    assert log.count("(again) created") == 2        # once, then one restart, then no more
    assert "(again) restarting (poweroff)" in log
    # xenstore from the tools, as dom0
    assert hv("xenstore", "write", "/tool/key", "v1").code == 0
    assert hv("xenstore", "read", "/tool/key").stdout.strip() == "v1"
    assert '/tool/key = "v1"' in hv("xenstore", "ls", "/tool").stdout
    missing = hv("xenstore", "read", "/tool/none")
    assert missing.code == 2 and "ENOENT" in missing.stderr


def _ready(hv, tmp, domid, text, limit=20.0):
    deadline = time.monotonic() + limit
    log = tmp / "state" / f"d{domid}.log"
    while text not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"d{domid} never printed {text!r}"
        time.sleep(0.1)


def test_shutdown_and_reboot_through_control_shutdown(host):
    hv, tmp = host
    cfg = _cfg(tmp, "polite", kernel("pv64", "shutdown"), 'on_reboot = "destroy"\n')
    assert hv("create", cfg).code == 0
    _ready(hv, tmp, 1, "watching control/shutdown")
    assert hv("shutdown", "-w", "polite").code == 0          # returns once it is gone
    assert _domains(hv) == []
    assert "asked to poweroff" in (tmp / "state" / "d1.log").read_text()
    assert "d1 (polite) poweroff" in hv("dmesg").stdout
    # reboot: the guest shuts down with SHUTDOWN_reboot; on_reboot=destroy keeps it down
    assert hv("create", _cfg(tmp, "again", kernel("pv32", "shutdown"),
                             'on_reboot = "destroy"\n')).code == 0
    _ready(hv, tmp, 2, "watching control/shutdown")
    assert hv("reboot", "again").code == 0
    _wait_gone(hv, "again")
    assert "d2 (again) reboot" in hv("dmesg").stdout


def test_xenstore_watch_over_the_wire_protocol_socket(host):
    import subprocess
    import sys
    hv, tmp = host
    env = {**os.environ, "HV_STATE_DIR": str(tmp / "state")}
    assert os.stat(tmp / "state" / "xenstored.sock").st_mode & 0o077 == 0
    watcher = subprocess.Popen([sys.executable, "-m", "tools.hv", "xenstore", "watch",
                                "/tool/w", "--count", "3"], cwd=str(kernel("pv64", "hello").parents[3]),
                               env=env, stdout=subprocess.PIPE, text=True)
    first = watcher.stdout.readline().strip()         # a new watch fires at once
    assert first == "/tool/w"
    assert hv("xenstore", "write", "/tool/w/a", "1").code == 0
    assert hv("xenstore", "write", "/tool/w", "2").code == 0
    out, _ = watcher.communicate(timeout=20)
    assert out.split() == ["/tool/w/a", "/tool/w"]
    assert watcher.returncode == 0


def test_console_in_a_terminal_raw_mode_and_ctrl_bracket_detaches(host):
    """`hv console` on a real pseudo-terminal: raw mode (keys go through as typed),
    Ctrl-] detaches and leaves the domain running; a second attach sees its history."""
    import pty
    import select
    import sys
    hv, tmp = host
    assert hv("create", _cfg(tmp, "tty", kernel("pv64", "echo"))).code == 0
    _ready(hv, tmp, 1, "echo: ready")
    env = {**os.environ, "HV_STATE_DIR": str(tmp / "state")}
    pid, fd = pty.fork()
    if pid == 0:                                  # child: hv console on the pty
        os.chdir(str(kernel("pv64", "echo").parents[3]))
        os.execve(sys.executable, [sys.executable, "-m", "tools.hv", "console", "tty"], env)
    seen = b""

    def read_until(text: bytes, limit: float = 15.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + limit
        while text not in seen:
            assert time.monotonic() < deadline, seen
            if select.select([fd], [], [], 0.2)[0]:
                seen += os.read(fd, 4096)

    read_until(b"echo: ready")
    os.write(fd, b"typed in a tty\r")            # raw mode: CR reaches the guest as is
    read_until(b"echo: typed in a tty")
    os.write(fd, b"\x1d")                         # Ctrl-]
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert [d["name"] for d in _domains(hv)] == ["tty"]       # still running
    again = hv("console", "tty", input="quit\n", timeout=30)   # attach once more
    assert "echo: typed in a tty" in again.stdout and "echo: PASS" in again.stdout
