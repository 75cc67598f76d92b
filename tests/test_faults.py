"""Faults: guests that spin or flood their console next to guests that must finish;
on_poweroff/on_reboot/on_crash honoured; SIGKILL of a domain process and of the host in
the middle of block I/O (the host notices, reports and cleans up: no memfd, eventfd,
socket or state file left behind; every write acknowledged after a flush is in the
image file); two hosts side by side do not see each other, their sockets owner-only."""
import json
import os
import re
import signal
import struct
import time

import pytest

from conftest import kernel, run_hv
from host_probe import fd_kinds, host_pid
from reliability import record
from test_toolstack_cli import _cfg, _domains, _ready, _wait_gone, host  # noqa: F401

SECTOR, CHUNK = 512, 88 * 512          # blkfront's soak chunk: one 11-segment request
MUL = 0x9E3779B97F4A7C15


def chunk_bytes(chunk: int, seed: int) -> bytes:
    base = chunk * CHUNK
    return struct.pack(f"<{CHUNK // 8}Q", *((((base + o) ^ (seed << 40)) * MUL) & (2**64 - 1)
                                            for o in range(0, CHUNK, 8)))


def flushed_rounds(log_text: str) -> list[tuple[int, int, int]]:
    return [tuple(map(int, m)) for m in
            re.findall(r"round (\d+) flushed chunk (\d+) seed (\d+)", log_text)]


def check_flushed_on_image(image, rounds) -> int:
    """Every acknowledged round no later round can have overwritten is on the image;
    returns the bytes verified."""
    data = image.read_bytes()
    chunks = len(data) // CHUNK
    last = rounds[-1][0]
    verified = 0
    for r, chunk, seed in rounds:
        if r > last - chunks + 1:          # round last+1 may be half-written over its chunk
            assert data[chunk * CHUNK:(chunk + 1) * CHUNK] == chunk_bytes(chunk, seed), \
                f"round {r} (chunk {chunk}) flushed but not on the image"
            verified += CHUNK
    return verified


def _blk_cfg(tmp, name, image, extra):
    path = tmp / f"{name}.cfg"
    path.write_text(f'name = "{name}"\nkernel = "{kernel("pv64", "blkfront")}"\nmemory = 32\n'
                    f'disk = [ "{image},raw,xvda,rw" ]\nextra = "{extra}"\n'
                    'on_crash = "destroy"\n')
    return path


def _wait_log(path, pattern, limit=60.0):
    deadline = time.monotonic() + limit
    while not re.search(pattern, path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{path.name}: no {pattern!r}"
        time.sleep(0.1)


def _settle(probe, want, limit=10.0):
    deadline = time.monotonic() + limit
    while (got := probe()) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    return got


def test_spinner_and_console_flood_do_not_starve_the_others(host):
    hv, tmp = host
    state = tmp / "state"
    assert hv("create", _cfg(tmp, "spin", kernel("pv64", "loop"),
                             'extra = "iters=1000000000000"\n')).code == 0
    assert hv("create", _cfg(tmp, "flood", kernel("pv32", "bench_console"),
                             'extra = "bytes=4000000000"\n')).code == 0
    time.sleep(1)
    start = time.monotonic()
    for name, abi in (("a", "pv64"), ("b", "pv32")):
        assert hv("create", _cfg(tmp, name, kernel(abi, "hello"))).code == 0
    assert hv("create", _cfg(tmp, "c", kernel("pv64", "echo"))).code == 0
    _wait_gone(hv, "a", limit=60)
    _wait_gone(hv, "b", limit=60)
    console = hv("console", "c", input="between a spinner and a flood\nquit\n", timeout=60)
    finished = time.monotonic() - start
    assert "echo: between a spinner and a flood" in console.stdout
    for domid in (3, 4):
        assert "hello: PASS" in (state / f"d{domid}.log").read_text()
    assert sorted(d["name"] for d in _domains(hv)) == ["flood", "spin"]   # still at it
    flooded = (state / "d2.log").stat().st_size
    assert flooded > 100_000, flooded                                    # it really flooded
    assert hv("destroy", "spin").code == 0 and hv("destroy", "flood").code == 0
    record("faults", "spinner + console flood", others_finished_s=round(finished, 1),
           flood_bytes_logged=flooded)


@pytest.mark.parametrize("kern, settings, reason, restarts", [
    ("crash_unmapped", 'on_crash = "destroy"\n', "crash", 0),
    ("crash_unmapped", 'on_crash = "restart"\n', "crash", 1),
    ("hello", 'on_poweroff = "destroy"\n', "poweroff", 0),
    ("shutdown", 'on_reboot = "restart"\n', "reboot", 1),
])
def test_on_actions_are_honoured(host, kern, settings, reason, restarts):
    hv, tmp = host
    assert hv("create", _cfg(tmp, "act", kernel("pv64", kern), settings)).code == 0
    if kern == "shutdown":
        _ready(hv, tmp, 1, "watching control/shutdown")
        assert hv("reboot", "act").code == 0
        _ready(hv, tmp, 2, "watching control/shutdown")     # the restarted one
        assert hv("destroy", "act").code == 0
    _wait_gone(hv, "act", limit=60)
    log = hv("dmesg").stdout
    assert f"d1 (act) {reason}" in log, log
    assert log.count("(act) created") == 1 + restarts, log
    assert (f"(act) restarting ({reason})" in log) == bool(restarts), log
    record("faults", f"{settings.split()[0]}={settings.split()[2]}", reason=reason,
           restarts=restarts)


@pytest.mark.parametrize("on_crash", ["destroy", "restart"])
def test_hvm_guest_that_triple_faults_next_to_a_pv_guest(host, tmp_path_factory, on_crash):
    """A PC shuts down on a triple fault: on_crash="destroy" ends the domain with a
    report, "restart" resets it (the chipset's answer) and it faults again, for ever;
    a PV guest beside it finishes either way."""
    from test_hvm_delivery import boot_sector
    hv, tmp = host
    image = boot_sector(tmp_path_factory.mktemp("tf"), "triple32")
    cfg = tmp / "tf.cfg"
    cfg.write_text(f'name = "tf"\ntype = "hvm"\nmemory = 16\non_crash = "{on_crash}"\n'
                   f'disk = [ "{image},raw,hda,rw" ]\n')
    assert hv("create", cfg).code == 0
    assert hv("create", _cfg(tmp, "calm", kernel("pv64", "hello"))).code == 0
    _wait_gone(hv, "calm", limit=60)
    assert "hello: PASS" in (tmp / "state" / "d2.log").read_text()
    if on_crash == "destroy":
        _wait_gone(hv, "tf", limit=60)
        log = hv("dmesg").stdout
        assert "d1 (tf) crash" in log and "triple fault" in log, log[-2000:]
        resets = 0
    else:
        _wait_log(tmp / "state" / "d1.log", r"(?s)tf\n.*tf\n.*tf\n")
        assert [d["name"] for d in _domains(hv)] == ["tf"]
        resets = (tmp / "state" / "d1.log").read_text().count("tf\n") - 1
        assert hv("destroy", "tf").code == 0
    record("faults", f"hvm triple fault, on_crash={on_crash}", resets_seen=resets)


def test_sigkill_of_a_domain_in_the_middle_of_block_io_leaks_nothing(host):
    hv, tmp = host
    state = tmp / "state"
    image = tmp / "disk.img"
    image.write_bytes(b"\0" * (4 << 20))
    pid = host_pid(state)
    fds_before, files_before = fd_kinds(pid), sorted(os.listdir(state))
    assert hv("create", _blk_cfg(tmp, "blk", image, "soak_s=120 report=1 seed=7")).code == 0
    _wait_log(state / "d1.log", r"round 20 flushed")
    assert fd_kinds(pid)["memfd"] > fds_before["memfd"]        # the host holds its RAM
    victim = _domains(hv)[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    _wait_gone(hv, "blk")
    assert "d1 (blk) died" in hv("dmesg").stdout
    assert _settle(lambda: fd_kinds(pid), fds_before) == fds_before
    assert sorted(os.listdir(state)) == sorted(files_before + ["d1.log"])
    assert "vbd/1" not in hv("xenstore", "ls", "/local/domain/0/backend").stdout
    rounds = flushed_rounds((state / "d1.log").read_text())
    verified = check_flushed_on_image(image, rounds)
    assert not os.path.exists(f"/proc/{victim}")
    # the host goes on: a new domain with the same disk works
    assert hv("create", _blk_cfg(tmp, "again", image, "seed=3")).code == 0
    _wait_gone(hv, "again", limit=60)
    assert "blkfront: PASS" in (state / "d2.log").read_text()
    record("faults", "SIGKILL of a domain during block I/O", flushed_rounds=len(rounds),
           bytes_verified=verified, host_fds=sum(fds_before.values()))


def test_sigkill_of_the_host_in_the_middle_of_block_io_keeps_flushed_writes(tmp_path, guests):
    state = tmp_path / "state"
    env = {"HV_STATE_DIR": str(state)}
    hv = lambda *a, **kw: run_hv(*a, env=env, **kw)
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * (4 << 20))
    assert hv("up").code == 0
    try:
        assert hv("create", _blk_cfg(tmp_path, "blk", image, "soak_s=120 report=1 seed=9")).code == 0
        domain = _domains(hv)[0]["pid"]
        _wait_log(state / "d1.log", r"round 30 flushed")
        os.kill(host_pid(state), signal.SIGKILL)
        deadline = time.monotonic() + 20          # the domain notices its host is gone
        while os.path.exists(f"/proc/{domain}") and \
                open(f"/proc/{domain}/stat").read().split()[2] != "Z":
            assert time.monotonic() < deadline, "the domain outlived its host"
            time.sleep(0.1)
        rounds = flushed_rounds((state / "d1.log").read_text())
        verified = check_flushed_on_image(image, rounds)
        gone = hv("list")
        assert gone.code == 2 and "no host is running" in gone.stderr, gone.stderr
        assert hv("up").code == 0                 # a new host over the dead one's state dir
        assert _domains(hv) == []
    finally:
        hv("down")
    record("faults", "SIGKILL of the host during block I/O", flushed_rounds=len(rounds),
           bytes_verified=verified)


def test_two_hosts_side_by_side(tmp_path, guests):
    hosts = []
    for n in (1, 2):
        env = {"HV_STATE_DIR": str(tmp_path / f"state{n}")}
        hosts.append(lambda *a, env=env, **kw: run_hv(*a, env=env, **kw))
    one, two = hosts
    try:
        assert one("up").code == 0 and two("up").code == 0
        for hv, name in ((one, "left"), (two, "right")):
            assert hv("create", _cfg(tmp_path, name, kernel("pv64", "loop"),
                                     'extra = "iters=1000000000000"\n')).code == 0
        assert [d["name"] for d in json.loads(one("list", "-l").stdout)] == ["left"]
        assert [d["name"] for d in json.loads(two("list", "-l").stdout)] == ["right"]
        refused = two("destroy", "left")
        assert refused.code == 2 and "left" in refused.stderr
        assert one("xenstore", "read", "/local/domain/1/name").stdout.strip() == "left"
        assert two("xenstore", "read", "/local/domain/1/name").stdout.strip() == "right"
        for n in (1, 2):
            state = tmp_path / f"state{n}"
            assert os.stat(state).st_mode & 0o077 == 0
            for sock in ("host.sock", "xenstored.sock"):
                assert os.stat(state / sock).st_mode & 0o077 == 0, sock
        assert host_pid(tmp_path / "state1") != host_pid(tmp_path / "state2")
    finally:
        one("down")
        two("down")
