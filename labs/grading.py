"""The labs' autograders: checks worth points, run against a student's folder.

Each lab has `labs/LAB/grade.py` with CHECKS, a list of `Check`s. A check gets a
`Work` (the folder being graded, builds and runs of the real `hv`) and raises
`Fail` with one line saying what was wrong. `hv grade LAB` and `pytest labs/LAB` both
come here; `--src DIR` (or LAB_SRC) grades another folder, e.g. the lab's solution/.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

LABS = Path(__file__).resolve().parent
ROOT = LABS.parent


class Fail(Exception):
    """A check did not pass (its message says why, in one line)."""


@dataclass
class Check:
    name: str
    points: int
    run: Callable[["Work"], None]


@dataclass
class Outcome:
    name: str
    points: int
    earned: int
    message: str = ""


@dataclass
class Work:
    """One grading run: the lab, the folder with the student's files, what was built."""
    lab: str
    src: Path
    built: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)

    @property
    def lab_dir(self) -> Path:
        return LABS / self.lab

    def find(self, name: str) -> Path:
        """A lab file: the student's copy (in src) or the lab's given one (given/)."""
        for folder in (self.src, self.lab_dir / "given"):
            if (folder / name).is_file():
                return folder / name
        raise Fail(f"{name}: missing (expected in {self.src})")

    def build(self, name: str, files: list[str], abi: str) -> Path:
        """Build a lab kernel (labs/lab.mk) once per grading run; Fail with the compiler's
        first error if it does not build."""
        key = (name, abi)
        if key not in self.built:
            self.built[key] = self._make(name, [self.find(f) for f in files], abi)
        if isinstance(self.built[key], Fail):
            raise self.built[key]
        return self.built[key]

    def _make(self, name: str, sources: list[Path], abi: str) -> Path | Fail:
        subprocess.run(["make", "-s", "-C", str(ROOT / "guests"), "libs"], check=True)
        out = self.src / "build" / abi
        cmd = ["make", "-s", "-f", str(LABS / "lab.mk"), f"NAME={name}", f"ABI={abi}",
               f"OUT={out}", "SRCS=" + " ".join(map(str, sources)),
               "INCS=" + " ".join(sorted({str(s.parent) for s in sources}
                                         | {str(self.lab_dir / "given")}))]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            errors = [line for line in proc.stderr.splitlines() if "error" in line]
            return Fail(f"{name} ({abi}) does not build: "
                        f"{(errors or proc.stderr.splitlines() or ['?'])[0].strip()}")
        return out / f"{name}.elf"

    def hv_run(self, *args: str, env: dict | None = None, timeout: float = 60) -> dict:
        """`hv run ARGS --json` (the real CLI); its JSON result plus "stderr"."""
        argv = [sys.executable, "-m", "tools.hv", "run", *map(str, args), "--json",
                "--timeout", str(timeout)]
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout + 30, stdin=subprocess.DEVNULL,
                              env={**os.environ, **(env or {})})
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise Fail(f"hv run gave no result (exit {proc.returncode}):"
                       f" {proc.stderr.strip().splitlines()[-1:]}")
        result["stderr"] = proc.stderr
        return result

    def hv(self, *args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Any other `hv` command (hv up, create, down ...)."""
        return subprocess.run([sys.executable, "-m", "tools.hv", *map(str, args)], cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def expect_line(text: str, wanted: str, what: str) -> None:
    if wanted not in text:
        raise Fail(f"{what}: no line with {wanted!r} in the console")


def lab_names() -> list[str]:
    return sorted(p.parent.name for p in LABS.glob("*/grade.py"))


def checks(lab: str) -> list[Check]:
    if lab not in lab_names():
        raise KeyError(lab)
    return importlib.import_module(f"labs.{lab}.grade").CHECKS


def grade(lab: str, src: Path | None = None) -> list[Outcome]:
    work = Work(lab, (src or LABS / lab).resolve())
    return [run_check(c, work) for c in checks(lab)]


def run_check(check: Check, work: Work) -> Outcome:
    try:
        check.run(work)
    except Fail as err:
        return Outcome(check.name, check.points, 0, str(err))
    return Outcome(check.name, check.points, check.points)


def report(lab: str, outcomes: list[Outcome]) -> str:
    lines = [f"{lab}:"]
    for o in outcomes:
        why = f"  ({o.message})" if o.message else ""
        lines.append(f"  {o.earned:>3}/{o.points:<3} {o.name}{why}")
    earned, total = sum(o.earned for o in outcomes), sum(o.points for o in outcomes)
    lines.append(f"  score: {earned}/{total}")
    return "\n".join(lines)


_WORK: dict[tuple[str, str], Work] = {}


def pytest_checks(lab: str):
    """A parametrized pytest test over the lab's checks (for `pytest labs/LAB`): one test
    per check, named with its points; builds are shared between them."""
    import pytest
    cases = checks(lab)

    @pytest.mark.parametrize("check", cases, ids=[f"{c.name} [{c.points} pts]" for c in cases])
    def test_check(check: Check) -> None:
        src = Path(os.environ.get("LAB_SRC", LABS / lab)).resolve()
        work = _WORK.setdefault((lab, str(src)), Work(lab, src))
        outcome = run_check(check, work)
        assert outcome.earned == outcome.points, f"0/{check.points}: {outcome.message}"
    return test_check
