"""What the front doors promise: exit statuses, shared options, Validate's verdict, neutral "not available".

The documented commands themselves run in ``tests/test_doc_commands.py``; this file pins the
behaviour around them that no documented command shows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import __version__
from autograder.cli import build_parser
from autograder.grade_command import student_name
from autograder.grading.results import Status
from autograder.reporters.gradescope import to_gradescope
from tests.conftest import EXERCISES, SOLUTIONS, write_variant
from tests.results_factory import submission

VENV_BIN = Path(sys.executable).parent


def autograder(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


# ------------------------------------------------------------------------------------------ the command line


def test_version():
    done = autograder("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"autograder {__version__}"


@pytest.mark.parametrize("command", ["grade", "demo", "validate", "ci"])
def test_sandbox_options_are_shared(command):
    subparser = build_parser()._subparsers._group_actions[0].choices[command]
    options = {option for action in subparser._actions for option in action.option_strings}
    assert {"--assignment", "--suites", "--seed", "--limit", "--isolation", "--quiet", "--verbose"} <= options


def test_format_means_one_thing_in_every_command():
    commands = build_parser()._subparsers._group_actions[0].choices
    for name, subparser in commands.items():
        options = {option for action in subparser._actions for option in action.option_strings}
        if "--format" in options:  # one meaning everywhere: how results are printed
            action = next(a for a in subparser._actions if "--format" in a.option_strings)
            assert set(action.choices) == {"text", "json"}, name


def test_results_folders_are_named_as_inputs():
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in ("report", "export", "feedback"):
        positional = [action.dest for action in commands[name]._actions if not action.option_strings]
        assert positional == ["results"], name


def test_usage_errors_exit_2_and_say_what_to_do(tmp_path):
    unknown_notebook = autograder("grade", str(SOLUTIONS), "--notebook", "99_nothing")
    assert unknown_notebook.returncode == 2
    assert "99_nothing" in unknown_notebook.stderr and "Traceback" not in unknown_notebook.stderr
    bad_shard = autograder("grade", str(SOLUTIONS), "--shard", "3/2")
    assert bad_shard.returncode == 2 and "--shard" in bad_shard.stderr
    no_results = autograder("report", str(tmp_path))
    assert no_results.returncode == 2 and "autograder grade" in no_results.stderr
    unknown_assignment = autograder("build", "--assignment", "appendix_z")
    assert unknown_assignment.returncode == 2 and "appendix_z" in unknown_assignment.stderr


def test_an_internal_error_keeps_its_traceback_and_is_not_a_usage_error(tmp_path):
    # A results file in Gradescope's format (grader 0.1) is a usage error with what to do next ...
    (tmp_path / "alice.json").write_text(json.dumps({"tests": [], "score": 0}))
    done = autograder("export", str(tmp_path))
    assert done.returncode == 2 and "grade the class again" in done.stderr and "Traceback" not in done.stderr
    # ... but a bug in the grader is not: it exits 1 with its traceback (here: a grader module that fails).
    probe = ("import sys\nfrom autograder import cli\n"
             "def broken(args):\n    raise KeyError('internal')\n"
             "cli.COMMANDS['env'] = broken\nsys.exit(cli.main(['env']))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" in done.stderr and "KeyError: 'internal'" in done.stderr


def test_a_student_folder_named_after_the_assignment_is_named_after_its_parent(tmp_path):
    folder = tmp_path / "alice" / "appendix_a"
    shutil.copytree(SOLUTIONS, folder)
    assert student_name(folder, assignment="appendix_a") == "alice"
    assert student_name(folder / "02_tensors.ipynb", assignment="appendix_a") == "alice"
    assert student_name(tmp_path / "alice", assignment="appendix_a") == "alice"


# ------------------------------------------------------------------------------------------ Gradescope


def test_not_available_is_neither_passed_nor_failed_in_gradescope():
    results = to_gradescope(submission("ben"))
    extra = [test for test in results["tests"] if "extra-credit" in test["tags"]]
    assert extra and all("status" not in test for test in extra)  # Gradescope then shows no failure
    assert all(test["score"] == 0 and test["max_score"] == 0 for test in extra)
    assert all("Not available" in test["output"] for test in extra)
    assert all(test["extra_data"]["status"] == Status.NOT_AVAILABLE.value for test in extra)
    assert all(test["status"] == "passed" for test in results["tests"] if "extra-credit" not in test["tags"]
               and test["score"] == test["max_score"] and test["max_score"])


# ------------------------------------------------------------------------------------------ visible checks


def nbgrader_validate(path: Path) -> str:
    env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(path.parent)}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(path)], capture_output=True,
                          text=True, cwd=path.parent, env=env, timeout=300)
    return done.stdout + done.stderr


@pytest.mark.slow
def test_nbgrader_validate_fails_on_stubs_and_wrong_answers_and_passes_solutions(tmp_path):
    stub = tmp_path / "stub" / "02_tensors.ipynb"
    stub.parent.mkdir()
    shutil.copy(EXERCISES / "02_tensors.ipynb", stub)
    wrong = write_variant(tmp_path / "wrong", "02_tensors", {"gram": "def gram(t):\n    return t.T @ t\n"})
    right = tmp_path / "right" / "02_tensors.ipynb"
    right.parent.mkdir()
    shutil.copy(SOLUTIONS / "02_tensors.ipynb", right)

    stub_report = nbgrader_validate(stub)
    assert "VALIDATION FAILED ON 5 CELL(S)" in stub_report and "gram is not implemented yet" in stub_report
    wrong_report = nbgrader_validate(wrong)
    assert "VALIDATION FAILED ON 1 CELL(S)" in wrong_report
    assert "VisibleCheckError: compute t @ t.T, not t.T @ t" in wrong_report
    assert "Traceback" not in wrong_report and "visible.py" not in wrong_report  # one short line, no traceback
    assert "Success! Your notebook passes all the tests." in nbgrader_validate(right)


def test_a_failing_check_cell_is_not_a_broken_cell_when_graded(grade, tmp_path):
    wrong = write_variant(tmp_path / "wrong", "02_tensors", {"gram": "def gram(t):\n    return t.T @ t\n"})
    result = grade(wrong.parent, "02_tensors").notebook("02_tensors")
    assert 0 < result.points < result.max_points
    assert not any("VisibleCheckError" in problem for problem in result.problems), result.problems
    # the hidden checks name the mistake as the visible check does (autograder.mistakes)
    assert "gram(t): compute t @ t.T, not t.T @ t" in [check.message for check in result.checks]


def test_a_failing_check_cell_prints_its_verdict_then_raises_one_line():
    from autograder.visible import OUTCOMES, VisibleCheckError, checking

    with pytest.raises(VisibleCheckError) as raised:
        with checking("gram") as check:
            check.equal(1, 2)
    assert OUTCOMES[-1].status == "failed"
    assert raised.value._render_traceback_() == ["VisibleCheckError: gram returned 1, expected 2"]
    with pytest.raises(VisibleCheckError, match="not implemented yet"):
        with checking("gram"):
            raise NotImplementedError
    with checking("gram") as check:  # a pass raises nothing
        check.equal(1, 1)
    assert OUTCOMES[-1].status == "passed"


def test_the_exercise_notebooks_still_run_top_to_bottom_in_autograder_check(tmp_path):
    notebook = nbformat.read(EXERCISES / "01_setup.ipynb", as_version=4)
    assert any("checking(" in cell.source for cell in notebook.cells)
    done = autograder("check", str(EXERCISES / "01_setup.ipynb"), cwd=tmp_path)
    assert done.returncode == 1
    assert "not implemented yet" in done.stdout and "raised VisibleCheckError" not in done.stdout


# ------------------------------------------------------------------------------------------ results folders


def test_grading_one_student_into_a_folder_writes_grades_csv_like_a_class_run(tmp_path):
    student = tmp_path / "alice"
    student.mkdir()
    shutil.copy(SOLUTIONS / "01_setup.ipynb", student / "01_setup.ipynb")
    done = autograder("grade", str(student), "--notebook", "01_setup", "--out", str(tmp_path / "results"))
    assert done.returncode == 0, done.stderr
    rows = (tmp_path / "results" / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("student,01_setup,") and rows[1].startswith("alice,10,"), rows
    assert (tmp_path / "results" / "alice.json").is_file()


def test_ci_refuses_a_suites_directory_that_does_not_exist(tmp_path):
    done = autograder("ci", "--base", str(tmp_path), "--head", str(tmp_path), "--suites", str(tmp_path / "nowhere"),
                      "--results", str(tmp_path / "results.json"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "SUITES_PATH" in done.stderr and not (tmp_path / "results.json").exists()


def test_a_visible_check_names_a_known_mistake_as_the_hidden_checks_do():
    import torch

    from autograder.visible import OUTCOMES, VisibleCheckError, checking

    m = torch.tensor([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(VisibleCheckError, match=r"^compute t @ t\.T, not t\.T @ t$"):
        with checking("gram") as check:
            check.equal(m.T @ m, m @ m.T, args=(m,))
    with pytest.raises(VisibleCheckError, match=r"^gram returned shape \(3, 2\), expected \(2, 2\)$"):
        with checking("gram") as check:  # a wrong answer that is no known mistake: what is wrong with it
            check.equal(m.T, m @ m.T, args=(m,))
    with checking("gram") as check:
        check.equal(m @ m.T, m @ m.T, args=(m,))
    assert OUTCOMES[-1].status == "passed"
