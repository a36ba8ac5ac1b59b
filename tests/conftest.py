"""Shared fixtures: one real sandbox per test session, and helpers to build submissions."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import nbformat
import pytest

from autograder.course import APPENDIX_A, REPO_ROOT, default_suites_dir, secret_paths
from autograder.grading.results import SubmissionResult
from autograder.grading.runner import grade_submission
from autograder.sandbox.client import Sandbox
from autograder.sandbox.isolation import IsolationPlan

SOLUTIONS = REPO_ROOT / "solutions" / "appendix_a"
EXERCISES = REPO_ROOT / "exercises" / "appendix_a"
SUITES = default_suites_dir("appendix_a")


@pytest.fixture(scope="session")
def seed() -> int:
    """Random per run (the hidden suites must hold for any inputs); fix it with AUTOGRADER_TEST_SEED."""
    return int(os.environ.get("AUTOGRADER_TEST_SEED", secrets.randbits(31)))


@pytest.fixture(scope="session")
def sandbox():
    plan = IsolationPlan(mask_paths=secret_paths(suites_dir=SUITES))
    with Sandbox(plan=plan) as box:
        yield box


@pytest.fixture
def grade(sandbox, seed):
    def run(submission: Path, *stems: str, student: str = "student") -> SubmissionResult:
        return grade_submission(submission=submission, student=student,
                                assignment=APPENDIX_A.subset(list(stems)), suites_dir=SUITES,
                                sandbox=sandbox, seed=seed)
    return run


def write_variant(directory: Path, stem: str, cells: dict[str, str], extra_cells: tuple[str, ...] = ()) -> Path:
    """The reference notebook ``stem`` with solution cells replaced by grade_id, saved under ``directory``."""
    notebook = nbformat.read(SOLUTIONS / f"{stem}.ipynb", as_version=4)
    unknown = set(cells)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in cells:
            cell.source = cells[grade_id]
            unknown.discard(grade_id)
    if unknown:
        raise KeyError(f"{stem} has no cells with grade_id {sorted(unknown)}")
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.ipynb"
    nbformat.write(notebook, path)
    return path

