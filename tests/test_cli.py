"""The `autograder` command as users run it: results.json, class batches, exit codes, secrecy."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A
from autograder.grading import schema
from autograder.grading.results import Status
from tests.conftest import EXERCISES, SOLUTIONS, write_variant
from tests.leaks import leaked

SEED = ["--seed", "7"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("class")
    shutil.copytree(SOLUTIONS, root / "alice")
    shutil.copytree(EXERCISES, root / "bob")
    write_variant(root / "carol", "02_tensors", {"gram": "def gram(t):\n    return t.T @ t\n"})
    (root / "dave").mkdir()
    shutil.copy(SOLUTIONS / "01_setup.ipynb", root / "dave")
    (root / "dave" / "02_tensors.ipynb").write_text('{"cells": [')  # truncated JSON
    return root


@pytest.fixture(scope="module")
def graded_class(demo_class, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    done = run_cli("grade", str(demo_class), "--out", str(out), *SEED)
    return done, out


def test_a_class_gets_one_result_per_student_and_a_grades_csv(graded_class):
    done, out = graded_class
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.glob("*.json")) == ["alice.json", "bob.json", "carol.json", "dave.json"]
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert list(rows[0]) == ["student", *(notebook.stem for notebook in APPENDIX_A.notebooks), "extra_credit", "total"]
    by_student = {row["student"]: row for row in rows}
    assert by_student["alice"]["total"] == f"{APPENDIX_A.points}"
    assert by_student["bob"]["total"] == "0"
    assert 0 < float(by_student["carol"]["02_tensors"]) < 20
    assert by_student["dave"]["01_setup"] == "10" and by_student["dave"]["02_tensors"] == "0"


def test_broken_and_missing_notebooks_get_clear_reasons(graded_class):
    _, out = graded_class
    dave = schema.read(out / "dave.json")
    problems = "\n".join(problem for notebook in dave.notebooks for problem in notebook.problems)
    assert "02_tensors.ipynb is not valid JSON" in problems
    assert "03_autograd.ipynb was not found in the submission" in problems


def test_each_student_gets_a_results_file_of_the_documented_schema(graded_class):
    _, out = graded_class
    data = json.loads((out / "alice.json").read_text())
    assert data["schema"] == schema.SCHEMA and data["version"] == schema.VERSION
    assert data["score"] == {"points": APPENDIX_A.points, "max_points": APPENDIX_A.points, "extra_credit": 0}
    assert data["provenance"]["torch_version"] and set(data["provenance"]["suites"]) >= {
        f"test_{notebook.stem}.py" for notebook in APPENDIX_A.notebooks}
    assert data["provenance"]["devices"] == {"cuda": False, "mps": False}  # this machine, seen by the grader
    alice = schema.read(out / "alice.json")
    assert schema.to_dict(alice) == data  # lossless both ways
    extra = [check for notebook in alice.notebooks for check in notebook.checks if check.extra_credit]
    assert extra and all(check.status is Status.NOT_AVAILABLE for check in extra)
    assert sum(check.max_points for nb in alice.notebooks for check in nb.checks if not check.extra_credit) \
        == APPENDIX_A.points


def test_no_hidden_suite_line_appears_in_any_output(graded_class):
    done, out = graded_class
    produced = done.stdout + done.stderr + "".join(p.read_text() for p in out.iterdir())
    assert leaked(produced) == []


def test_single_student_json_gradescope_and_table(tmp_path):
    target, gradescope = tmp_path / "result.json", tmp_path / "results.json"
    done = run_cli("grade", str(SOLUTIONS / "02_tensors.ipynb"), "--notebook", "02_tensors", "--json", str(target),
                   "--gradescope", str(gradescope), *SEED)
    assert done.returncode == 0, done.stderr
    assert "20/20" in done.stdout
    assert schema.read(target).points == 20
    official = json.loads(gradescope.read_text())  # Gradescope's results.json, derived from the same result
    assert official["score"] == 20 and official["extra_data"]["max_score"] == 20
    for test in official["tests"]:
        assert set(test) >= {"name", "number", "score", "max_score", "status", "output", "visibility", "tags"}


def test_usage_errors_exit_non_zero_with_a_message(tmp_path):
    missing = run_cli("grade", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    no_suites = run_cli("grade", str(SOLUTIONS), "--suites", str(tmp_path))
    assert no_suites.returncode == 1 and "hidden suite" in no_suites.stderr
    bad_limit = run_cli("grade", str(SOLUTIONS), "--limit", "memory=lots")
    assert bad_limit.returncode == 2 and "--limit: limit memory_bytes='lots'" in bad_limit.stderr


def test_env_reports_ok_lines():
    done = run_cli("env")
    assert done.returncode == 0
    assert "[OK]   torch" in done.stdout and "Python" in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="strict isolation needs root")
def test_strict_isolation_is_available_as_root(tmp_path):
    done = run_cli("grade", str(SOLUTIONS / "01_setup.ipynb"), "--notebook", "01_setup", "--isolation", "strict",
                   "--verbose", *SEED)
    assert done.returncode == 0, done.stderr
    assert "unprivileged_user" in done.stdout and "hidden_files_masked" in done.stdout
