"""Lab 5 autograder: the fixed kernel runs to its end with the right numbers on both
ABIs, and ANSWERS.txt names the function that did the damage."""
from __future__ import annotations

import re

from labs.grading import Check, Fail, Work

SCORES = [(i * 37 + 11) % 100 for i in range(8)]
NORMAL = [s * 100 // max(SCORES) for s in SCORES]
CULPRIT = "normalize_scores"


def _run(work: Work, abi: str) -> dict:
    if abi not in work.results:
        elf = work.build("debug", ["buggy.c"], abi)
        work.results[abi] = work.hv_run(elf, "--no-progress", "10", timeout=30)
    return work.results[abi]


def _no_crash(abi: str):
    def run(work: Work) -> None:
        result = _run(work, abi)
        if result["exit_reason"] != "poweroff" or "debug: PASS" not in result["console_tail"]:
            raise Fail(f"the {abi} kernel ended with {result['exit_reason']}, not a clean PASS")
    return run


def _numbers(work: Work) -> None:
    tail = _run(work, "pv64")["console_tail"]
    for wanted in (f"debug: total {sum(NORMAL)}", f"debug: best {max(NORMAL)}"):
        if wanted not in tail:
            raise Fail(f"no {wanted!r}: the fix changed what the kernel computes")


def _answer(work: Work) -> None:
    found = re.search(r"^function:\s*(\w+)", work.find("ANSWERS.txt").read_text(), re.M)
    if not found or found.group(1) != CULPRIT:
        raise Fail("ANSWERS.txt does not name the function that overwrote the pointer")


CHECKS = [
    Check("builds", 10, lambda work: work.build("debug", ["buggy.c"], "pv64")),
    Check("no crash (64-bit)", 30, _no_crash("pv64")),
    Check("same numbers as intended", 20, _numbers),
    Check("no crash (32-bit)", 10, _no_crash("pv32")),
    Check("ANSWERS.txt names the culprit", 30, _answer),
]
