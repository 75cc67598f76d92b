"""Lab 2 autograder: the given driver (given/main.c) with the student's handlers.c, on
both ABIs; one check per part it prints."""
from __future__ import annotations

from labs.grading import Check, Fail, Work

FILES = ["main.c", "handlers.c"]


def _console(work: Work, abi: str) -> str:
    if abi not in work.results:
        elf = work.build("traps", FILES, abi)
        result = work.hv_run(elf, "--no-progress", "10", timeout=30)
        work.results[abi] = result["console_tail"] + f"\n[{result['exit_reason']}]"
    return work.results[abi]


def _part(line: str, abi: str = "pv64"):
    def run(work: Work) -> None:
        text = _console(work, abi)
        if f"traps: {line} OK" not in text:
            failed = [l for l in text.splitlines() if "FAIL" in l]
            raise Fail(failed[0] if failed else f"no 'traps: {line} OK' ({abi})")
    return run


def _everything_32(work: Work) -> None:
    text = _console(work, "pv32")
    if "traps: PASS" not in text:
        raise Fail("the 32-bit kernel did not PASS: "
                   + next((l for l in text.splitlines() if "FAIL" in l), "no FAIL line"))


def _builds(work: Work) -> None:
    work.build("traps", FILES, "pv64")


CHECKS = [
    Check("builds", 10, _builds),
    Check("int3 counted and resumed", 15, _part("int3")),
    Check("ud2 skipped", 15, _part("ud2")),
    Check("divide error fixed up", 10, _part("divide")),
    Check("demand-zero paging", 25, _part("demand paging")),
    Check("one fault per demand page", 5, _part("fault count")),
    Check("exception table fixup", 10, _part("exception fixup")),
    Check("all of it on a 32-bit guest", 10, _everything_32),
]
