"""Lab 4 autograder: the given main.c with the student's pingpong.c, booted twice on a
host of its own (`hv up`, `hv create`): one domain offers a port through xenstore, the
other finds it and binds, and they bounce events; a 64-bit and a 32-bit kernel too."""
from __future__ import annotations

import json
import time

from labs.grading import Check, Fail, Work

FILES = ["main.c", "pingpong.c"]
ROUNDS = 50


def _config(folder, name: str, elf, role: int, peer: int):
    cfg = folder / f"{name}.cfg"
    cfg.write_text(f'name = "{name}"\nkernel = "{elf}"\nmemory = 16\n'
                   f'extra = "role={role} peer={peer} rounds={ROUNDS}"\non_crash = "destroy"\n')
    return cfg


def _pair(work: Work, abi_offer: str, abi_connect: str) -> tuple[str, str]:
    """Run the two domains on a private host; the two console logs."""
    key = (abi_offer, abi_connect)
    if key in work.results:
        return work.results[key]
    offer_elf, connect_elf = (work.build("lab4", FILES, abi) for abi in key)
    folder = offer_elf.parent.parent / f"pair-{abi_offer}-{abi_connect}"
    folder.mkdir(parents=True, exist_ok=True)
    env = {"HV_STATE_DIR": str(folder / "state")}
    if work.hv("up", env=env).returncode != 0:
        raise Fail("hv up failed")
    try:
        for name, elf, role, peer in (("offerer", offer_elf, 1, 2),
                                      ("connector", connect_elf, 2, 1)):
            made = work.hv("create", _config(folder, name, elf, role, peer), env=env)
            if made.returncode != 0:
                raise Fail(f"hv create {name}: {made.stderr.strip()}")
        deadline = time.monotonic() + 60
        while _listed(work, env) and time.monotonic() < deadline:
            time.sleep(0.2)
        logs = tuple((folder / "state" / f"d{i}.log").read_text(errors="replace")
                     for i in (1, 2))
    finally:
        work.hv("down", env=env)
    work.results[key] = logs
    return logs


def _listed(work: Work, env: dict) -> list:
    out = work.hv("list", "-l", env=env)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else []


def _expect(log: str, text: str, who: str) -> None:
    if text not in log:
        failed = [line for line in log.splitlines() if "FAIL" in line]
        raise Fail(failed[0] if failed else f"{who}: no {text!r} on its console")


def _builds(work: Work) -> None:
    work.build("lab4", FILES, "pv64")


def _offers(work: Work) -> None:
    _expect(_pair(work, "pv64", "pv64")[0], "lab4: offered port", "the offerer")


def _connects(work: Work) -> None:
    _expect(_pair(work, "pv64", "pv64")[1], "lab4: bound local port", "the connector")


def _exchanges(work: Work) -> None:
    offer, connect = _pair(work, "pv64", "pv64")
    _expect(offer, f"lab4: offerer exchanged {ROUNDS} events", "the offerer")
    _expect(connect, f"lab4: connector exchanged {ROUNDS} events", "the connector")


def _both_pass(work: Work) -> None:
    offer, connect = _pair(work, "pv64", "pv64")
    _expect(offer, "lab4: PASS", "the offerer")
    _expect(connect, "lab4: PASS", "the connector")


def _across_abis(work: Work) -> None:
    offer, connect = _pair(work, "pv32", "pv64")
    _expect(offer, "lab4: PASS", "the 32-bit offerer")
    _expect(connect, "lab4: PASS", "the 64-bit connector")


CHECKS = [
    Check("builds", 10, _builds),
    Check("offers a port through xenstore", 20, _offers),
    Check("finds the port and binds to it", 20, _connects),
    Check(f"{ROUNDS} events each way", 25, _exchanges),
    Check("both domains finish cleanly", 10, _both_pass),
    Check("a 32-bit offerer and a 64-bit connector", 15, _across_abis),
]
