"""Every lab's autograder gives full marks to its reference solution and fails the
unchanged starter, so labs never rot (labs/grading.py, labs/*/grade.py)."""
from __future__ import annotations

import pytest

from conftest import ROOT, run_hv

import sys
sys.path.insert(0, str(ROOT))
from labs import grading  # noqa: E402

LABS = grading.lab_names()


def test_the_labs_are_found():
    assert {"lab1_hypercall", "lab2_traps", "lab3_blkfront", "lab4_pingpong",
            "lab5_debugging"} <= set(LABS)
    assert len(LABS) >= 5


@pytest.mark.parametrize("lab", LABS)
def test_solution_gets_full_marks(guests, lab):
    outcomes = grading.grade(lab, grading.LABS / lab / "solution")
    assert all(o.earned == o.points for o in outcomes), grading.report(lab, outcomes)


@pytest.mark.parametrize("lab", LABS)
def test_unchanged_starter_fails(guests, lab):
    outcomes = grading.grade(lab)
    earned, total = sum(o.earned for o in outcomes), sum(o.points for o in outcomes)
    assert earned < total / 2, grading.report(lab, outcomes)


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_has_a_handout_and_a_solution_apart(lab):
    folder = grading.LABS / lab
    handout = (folder / "README.md").read_text()
    for part in ("## Goals", "## Background", "## Steps", "## Hand in"):
        assert part in handout, f"{lab}: handout lacks {part}"
    assert any((folder / "solution").iterdir())


def test_hv_grade_reports_points_and_exit_status(guests):
    r = run_hv("grade", "lab5_debugging", "--src", "labs/lab5_debugging/solution")
    assert r.code == 0 and "score: 100/100" in r.stdout
    r = run_hv("grade", "lab5_debugging")
    assert r.code == 1 and "0/30  ANSWERS.txt names the culprit" in r.stdout


@pytest.mark.parametrize("args", [["grade", "nosuchlab"], ["grade", "lab2_traps", "--src", "/nope"]])
def test_hv_grade_bad_input_is_one_line_exit_2(args):
    r = run_hv(*args)
    assert r.code == 2 and len(r.stderr.strip().splitlines()) == 1
