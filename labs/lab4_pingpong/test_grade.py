"""`pytest labs/lab4_pingpong`: one test per check of the autograder (grade.py)."""
from labs.grading import pytest_checks

test_check = pytest_checks("lab4_pingpong")
