"""`hv create --trace`: several domains of one host trace into one file; `@DOMAIN`
keeps an item for one of them."""
from __future__ import annotations

import time

from hvcore.trace import format as fmt
from hvcore.trace.reader import TraceFile

from conftest import kernel
from test_toolstack_cli import host  # noqa: F401  (the fixture: a host of our own)


def _cfg(tmp_path, name: str, abi: str) -> str:
    path = tmp_path / f"{name}.cfg"
    path.write_text(f'name = "{name}"\nkernel = "{kernel(abi, "hello")}"\nmemory = 32\n')
    return str(path)


def _ended(path, count: int, limit: float = 30.0) -> TraceFile:
    deadline = time.monotonic() + limit
    while True:
        trace = TraceFile(str(path))
        ends = [e for e in trace if e.kind == fmt.END]
        if len(ends) >= count:
            return trace
        assert time.monotonic() < deadline, f"{len(ends)} of {count} domains ended"
        time.sleep(0.2)


def test_domains_of_a_host_share_a_trace_file(host):
    hv, tmp = host
    out = tmp / "host.trace"
    for name, abi, spec in (("alpha", "pv64", "hypercall@alpha,sched@beta"),
                            ("beta", "pv32", "hypercall@alpha,sched@beta"),
                            ("gamma", "pv64", "hypercall@alpha")):
        r = hv("create", _cfg(tmp, name, abi), "--trace", spec, "--trace-out", out)
        assert r.code == 0, r.stderr
    trace = _ended(out, 2)
    kinds = {(trace.domains[e.domid]["name"], e.kind_name) for e in trace
             if e.kind not in (fmt.DOMAIN, fmt.END)}
    assert kinds == {("alpha", "hypercall"), ("beta", "sched")}     # gamma traced nothing
    assert {d["abi"] for d in trace.domains.values()} == {"x86_64", "x86_32"}
    summary = hv("trace", "summary", out)
    assert "'alpha' (x86_64" in summary.stdout and "'beta' (x86_32" in summary.stdout


def test_create_refuses_a_file_that_is_not_a_trace(host):
    hv, tmp = host
    bad = tmp / "notes.txt"
    bad.write_text("some notes\n")
    r = hv("create", _cfg(tmp, "delta", "pv64"), "--trace", "all", "--trace-out", bad)
    assert r.code == 2 and "not an hvcore trace file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert bad.read_text() == "some notes\n"
