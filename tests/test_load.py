"""Load: 32 small domains booted at once on one host (this machine has 2 CPUs), each
finishing with its console output intact; a bounded soak (SOAK_S seconds) of continuous
block I/O (write, flush, read back, check) and event ping-pong between two other
domains, with no lost event, no ring corruption and RSS growth below RSS_BOUND_KIB for
the host and every domain process (outside the engine's translated-code buffer, whose
growth is reported: it is bounded by its 1 GiB reservation)."""
import json
import os
import re
import subprocess
import sys
import time

from conftest import ROOT, kernel
from hvcore.engine import TCG_BUFFER_BYTES
from host_probe import host_pid, rss_split_kib
from reliability import record
from test_faults import _blk_cfg
from test_toolstack_cli import _domains, _wait_gone, host  # noqa: F401 (fixture)

DOMAINS = 32
SOAK_S = 60                     # the soak's length, bounded: ~75 s with boot and checks
RSS_BOUND_KIB = 32 * 1024       # growth allowed per process between warm-up and the end,
                                # outside the engines' translated-code buffers, each
                                # bounded by its size (hvcore.engine.TCG_BUFFER_BYTES);
CODE_BUFFER_KIB = 2 * TCG_BUFFER_BYTES // 1024   # a domain process has two engines at most here


def _normal(text: str, name: str) -> list[str]:
    return [line.replace(name, "NAME") for line in text.splitlines()]


def test_32_domains_at_once_all_complete_with_their_console_intact(host):
    hv, tmp = host
    state = tmp / "state"
    env = {**os.environ, "HV_STATE_DIR": str(state)}
    configs = []
    for i in range(DOMAINS):
        abi = ("pv64", "pv32")[i % 2]
        path = tmp / f"g{i}.cfg"
        path.write_text(f'name = "g{i}"\nkernel = "{kernel(abi, "hello")}"\nmemory = 16\n'
                        f'extra = "marker=g{i}"\non_crash = "destroy"\n')
        configs.append(path)
    start = time.monotonic()
    creators = [subprocess.Popen([sys.executable, "-m", "tools.hv", "create", str(c)], cwd=ROOT,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for c in configs]
    for p in creators:
        assert p.wait(timeout=180) == 0, p.stderr.read()
    deadline = time.monotonic() + 240
    while _domains(hv):
        assert time.monotonic() < deadline, [d["name"] for d in _domains(hv)]
        time.sleep(0.5)
    wall = time.monotonic() - start
    dmesg = hv("dmesg").stdout
    ids = {int(m[1]): m[2] for m in re.finditer(r"d(\d+) \((g\d+)\) created", dmesg)}
    assert sorted(ids.values(), key=lambda n: int(n[1:])) == [f"g{i}" for i in range(DOMAINS)]
    reference = {}
    lines = 0
    for domid, name in ids.items():
        assert f"d{domid} ({name}) poweroff" in dmesg, name
        log = _normal((state / f"d{domid}.log").read_text(), name)
        assert 'hello: cmd_line "marker=NAME"' in log and log[-1] == "hello: PASS", (name, log)
        abi = "pv64" if int(name[1:]) % 2 == 0 else "pv32"
        reference.setdefault(abi, log)
        assert log == reference[abi], (name, log, reference[abi])    # whole and unmixed
        lines += len(log)
    record("load", f"{DOMAINS} domains at once", domains=DOMAINS, wall_s=round(wall, 1),
           console_lines_verified=lines)


def test_soak_of_block_io_and_event_ping_pong(host):
    hv, tmp = host
    state = tmp / "state"
    image = tmp / "soak.img"
    image.write_bytes(b"\0" * (8 << 20))
    _blk_cfg(tmp, "blk", image, f"soak_s={SOAK_S} seed=11")
    for name, abi, role, peer in (("ping", "pv32", 1, 3), ("pong", "pv64", 2, 2)):
        (tmp / f"{name}.cfg").write_text(
            f'name = "{name}"\nkernel = "{kernel(abi, "pingpong")}"\nmemory = 32\n'
            f'extra = "role={role} peer={peer} seconds={SOAK_S}"\non_crash = "destroy"\n')
    for name in ("blk", "ping", "pong"):
        assert hv("create", tmp / f"{name}.cfg").code == 0
    pids = {"host": host_pid(state), **{d["name"]: d["pid"] for d in _domains(hv)}}
    warm_up = min(10, SOAK_S / 4)
    time.sleep(warm_up)
    first = {name: rss_split_kib(pid) for name, pid in pids.items()}
    time.sleep(SOAK_S - warm_up - 15)          # the last sample well before anyone ends
    last = {name: rss_split_kib(pid) for name, pid in pids.items()}
    for name in ("blk", "ping", "pong"):
        _wait_gone(hv, name, limit=90)
    blk_log, ping_log, pong_log = ((state / f"d{i}.log").read_text() for i in (1, 2, 3))
    assert "blkfront: PASS" in blk_log, blk_log[-2000:]
    soak = re.search(r"soak of (\d+) s: (\d+) rounds, (\d+) bytes written, flushed and verified",
                     blk_log)
    assert soak and int(soak[1]) == SOAK_S and int(soak[2]) > 0, blk_log[-2000:]
    sent = int(re.search(r"ping exchanged (\d+) events", ping_log)[1])
    got = re.search(r"pong exchanged (\d+) events in \d+ s, none lost", pong_log)
    assert got and int(got[1]) == sent > 0, (ping_log[-500:], pong_log[-500:])
    growth = {name: last[name][1] - first[name][1] for name in pids}
    assert max(growth.values()) < RSS_BOUND_KIB, growth
    # A vCPU that polls with a timeout (pong does) makes its engine translate code again
    # and again; its code buffer fills, is flushed and starts over at its fixed size.
    code_growth = {name: last[name][0] - first[name][0] for name in pids}
    assert max(code_growth.values()) < CODE_BUFFER_KIB, code_growth
    # the image holds the soak's last write to each chunk (none got lost on the way)
    dmesg = hv("dmesg").stdout
    assert "Traceback" not in dmesg and "hypervisor bug" not in dmesg
    record("load", f"soak {SOAK_S} s", seconds=SOAK_S, block_rounds=int(soak[2]),
           bytes_verified=int(soak[3]), events_each_way=sent,
           max_rss_growth_kib=max(growth.values()), rss_bound_kib=RSS_BOUND_KIB,
           max_code_buffer_growth_kib=max(code_growth.values()),
           host_rss_kib=sum(last["host"]))
