"""`pytest labs/lab5_debugging`: one test per check of the autograder (grade.py)."""
from labs.grading import pytest_checks

test_check = pytest_checks("lab5_debugging")
