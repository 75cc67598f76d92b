"""Lab 1 autograder: the student's lab_op (lab_hypercall.py) against the grader's own
kernel (given/check.c) on both ABIs, and the student's kernel (kernel.c)."""
from __future__ import annotations

import re

from labs.grading import Check, Fail, Work

TEXT = b"hvcore lab one"
SPAN = bytes((i * 7 + 3) & 0xFF for i in range(2 * 4096))[4096 - 1000:4096 + 2000]
EXPECTED = {"hello": 0x1AB, "sum": sum(TEXT), "sum_span": sum(SPAN), "sum_empty": 0,
            "efault": -14, "einval": -22, "nosys": -38, "count": 7, "count_again": 8}


def _answers(work: Work, abi: str) -> dict[str, int]:
    """What the grader's kernel printed, check: NAME VALUE, run once per ABI."""
    if abi not in work.results:
        elf = work.build("check", ["check.c"], abi)
        module = work.find("lab_hypercall.py")
        result = work.hv_run(elf, "--hypercalls", module, timeout=30)
        if result["exit_code"] != 0:
            raise Fail(f"the grader's kernel ({abi}) ended with {result['exit_reason']}:"
                       f" {result['stderr'].strip().splitlines()[-1:]}")
        work.results[abi] = {m[1]: int(m[2]) for m in
                             re.finditer(r"check: (\w+) (-?\d+)", result["console_tail"])}
    return work.results[abi]


def _expect(*names: str, abi: str = "pv64"):
    def run(work: Work) -> None:
        got = _answers(work, abi)
        for name in names:
            if got.get(name) != EXPECTED[name]:
                raise Fail(f"{name}: lab_op gave {got.get(name)}, expected {EXPECTED[name]}")
    return run


def _both_abis(work: Work) -> None:
    for name in EXPECTED:
        _expect(name, abi="pv32")(work)


def _builds(work: Work) -> None:
    work.build("check", ["check.c"], "pv64")
    work.build("lab", ["kernel.c"], "pv64")


def _your_kernel(work: Work) -> None:
    elf = work.build("lab", ["kernel.c"], "pv64")
    result = work.hv_run(elf, "--hypercalls", work.find("lab_hypercall.py"), timeout=30)
    tail = result["console_tail"]
    for wanted in ("lab: hello 0x1ab", f"lab: sum {sum(b'hello, hypervisor')}"):
        if wanted not in tail:
            raise Fail(f"your kernel did not print {wanted!r}")


CHECKS = [
    Check("kernels build", 10, _builds),
    Check("LABOP_hello returns the magic", 10, _expect("hello")),
    Check("LABOP_sum of a short string", 15, _expect("sum", "sum_empty")),
    Check("LABOP_sum across a page boundary", 10, _expect("sum_span")),
    Check("unmapped buffer gives -EFAULT", 10, _expect("efault")),
    Check("too long gives -EINVAL", 10, _expect("einval")),
    Check("unknown command gives -ENOSYS", 10, _expect("nosys")),
    Check("LABOP_count counts the domain's calls", 10, _expect("count", "count_again")),
    Check("a 32-bit guest gets the same answers", 5, _both_abis),
    Check("your kernel calls lab_op", 10, _your_kernel),
]
