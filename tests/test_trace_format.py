"""The trace format on its own: records written by the writer come back from the
reader; a file cut in the middle of a record reads up to the cut; SPEC parsing."""
from __future__ import annotations

import pytest

from hvcore.trace import format as fmt
from hvcore.trace import spec as S
from hvcore.trace import writer
from hvcore.trace.reader import TraceFile


def write_sample(path) -> None:
    writer.create(str(path), {"t0_ns": 1000})
    w = writer.TraceWriter(str(path))
    w.add(fmt.json_record(fmt.DOMAIN, 3, 1000, {"name": "x", "vcpus": 2}))
    w.add(fmt.HYPERCALL_RECORD.pack(fmt.HYPERCALL, 1, 3, fmt.HYPERCALL_BODY.size, 2000,
                                    29, 1500, -22, 0xFFFF800000001000, 2, 3, 4, 5))
    w.add(fmt.code_record(3, 2500, 0, 0x1000, b"\x90", "nop", "main"))
    w.add(fmt.ids_record(fmt.INSN, 0, 3, 2500, b"\0\0\0\0" * 3))
    w.close()


def test_records_round_trip(tmp_path):
    path = tmp_path / "t"
    write_sample(path)
    trace = TraceFile(str(path))
    got = list(trace)
    assert trace.meta == {"t0_ns": 1000} and not trace.truncated
    assert [e.kind for e in got] == [fmt.DOMAIN, fmt.HYPERCALL] + [fmt.INSN] * 3
    assert trace.domains[3]["vcpus"] == 2
    call = got[1]
    assert (call.domid, call.vcpu, call.t_ns) == (3, 1, 2000)
    assert call.fields == (29, 1500, -22, 0xFFFF800000001000, 2, 3, 4, 5)
    assert got[2].code.text == "nop" and got[2].code.symbol == "main" and got[2].code.data == b"\x90"


def test_a_cut_record_is_left_out(tmp_path):
    path = tmp_path / "t"
    write_sample(path)
    data = path.read_bytes()
    path.write_bytes(data[:-5])           # the writer died inside the last record
    trace = TraceFile(str(path))
    assert [e.kind for e in trace] == [fmt.DOMAIN, fmt.HYPERCALL]
    assert trace.truncated


@pytest.mark.parametrize("text, domid, name, kinds", [
    ("all", 1, "a", set(S.CHEAP_KINDS)),
    ("insn:main,hypercall@2", 1, "a", {"insn"}),
    ("hypercall@a,trap@2", 1, "a", {"hypercall"}),
    ("sched@b", 1, "a", None),
])
def test_spec_items_per_domain(text, domid, name, kinds):
    spec = S.for_domain(S.parse(text), domid, name)
    assert (spec.kinds if spec else None) == kinds


def test_spec_filters_merge():
    spec = S.for_domain(S.parse("insn:0x1000-0x2000,insn:main,hypercall:sched_op,"
                                "hypercall:2,trap:pf,io:0x80"), 1, "a")
    assert spec.code_ranges["insn"] == [(0x1000, 0x2000)] and spec.code_symbols["insn"] == ["main"]
    assert spec.hypercalls == {29, 2} and spec.vectors == {14} and spec.io_ports == [(0x80, 0x81)]
    assert S.for_domain(S.parse("trap:pf,trap"), 1, "a").vectors is None   # unfiltered wins


def test_a_hypercall_record_packed_in_two_parts_is_the_same_record():
    # the traced run loop packs the vCPU's constant part once a slice (hvcore/trace/run_loop.py)
    from hvcore.trace import format as fmt
    fields = (fmt.HYPERCALL, 1, 7, fmt.HYPERCALL_BODY.size, 123456789, 17, 5000, -22,
              1, 2, 3, 4, 5)
    assert fmt.RECORD_PREFIX.pack(*fields[:4]) + fmt.HYPERCALL_TAIL.pack(*fields[4:]) == \
        fmt.HYPERCALL_RECORD.pack(*fields)
