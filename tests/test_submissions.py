"""Real-world submissions: renamed files, lost metadata, malformed notebooks, crashes mid-notebook."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from autograder.course import APPENDIX_A
from autograder.notebooks import NotebookProblem, load_notebook, locate
from tests.conftest import SOLUTIONS, write_variant


def test_a_notebook_without_nbgrader_metadata_and_with_another_name_still_grades(grade, tmp_path):
    notebook = nbformat.read(SOLUTIONS / "02_tensors.ipynb", as_version=4)
    for cell in notebook.cells:
        cell.metadata = {}
    nbformat.write(notebook, tmp_path / "Untitled (3).ipynb")
    shutil.copy(SOLUTIONS / "01_setup.ipynb", tmp_path / "Copy of 01_setup.ipynb")
    result = grade(tmp_path, "01_setup", "02_tensors")
    assert result.notebook("02_tensors").points == 20
    assert result.notebook("02_tensors").path == "Untitled (3).ipynb"
    assert result.notebook("01_setup").points == 10


def test_a_process_killed_mid_notebook_costs_only_what_it_interrupted(grade, tmp_path):
    write_variant(tmp_path, "02_tensors", {}, extra_cells=("import os\nos._exit(1)",))
    result = grade(tmp_path, "02_tensors").notebook("02_tensors")
    assert result.points == 20
    assert any("exited with status 1" in problem for problem in result.problems)


def test_an_infinite_loop_in_a_demo_cell_costs_nothing_else(sandbox, grade, tmp_path):
    write_variant(tmp_path, "01_setup", {}, extra_cells=("while True:\n    pass",))
    from autograder.grading.runner import grade_submission
    from autograder.sandbox.client import Sandbox
    from autograder.sandbox.limits import Limits
    from tests.conftest import SUITES

    with Sandbox(limits=Limits(cell_seconds=1), plan=sandbox.plan) as quick:
        result = grade_submission(submission=tmp_path, student="s", assignment=APPENDIX_A.subset(["01_setup"]),
                                  suites_dir=SUITES, sandbox=quick, seed=1).notebook("01_setup")
    assert result.points == 10
    assert any("time limit for a cell" in problem for problem in result.problems)


@pytest.mark.parametrize(("content", "message"), [
    (b'{"cells": [', "is not valid JSON"),
    (b"\xff\xfe\x00garbage", "is not UTF-8"),
    (b'{"a": 1}', "not a Jupyter notebook"),
])
def test_malformed_files_are_refused_with_advice(tmp_path, content, message):
    path = tmp_path / "02_tensors.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookProblem, match=message):
        load_notebook(path, stem="02_tensors", root=tmp_path)


def test_a_directory_and_an_outside_symlink_are_refused(tmp_path):
    (tmp_path / "sub" / "02_tensors.ipynb").mkdir(parents=True)
    with pytest.raises(NotebookProblem, match="is a directory"):
        load_notebook(tmp_path / "sub" / "02_tensors.ipynb", stem="02_tensors", root=tmp_path)
    outside = tmp_path / "outside.ipynb"
    shutil.copy(SOLUTIONS / "02_tensors.ipynb", outside)
    student = tmp_path / "student"
    student.mkdir()
    (student / "02_tensors.ipynb").symlink_to(outside)
    with pytest.raises(NotebookProblem, match="points outside the submission"):
        load_notebook(student / "02_tensors.ipynb", stem="02_tensors", root=student)


def test_an_nbformat_v3_notebook_is_converted(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "def gram(t):\n    return t @ t.T", "language": "python",
         "outputs": [], "metadata": {}}]}]}
    path = tmp_path / "02_tensors.ipynb"
    path.write_text(json.dumps(v3))
    loaded = load_notebook(path, stem="02_tensors", root=tmp_path)
    assert loaded.code_cells == ("def gram(t):\n    return t @ t.T",)


def test_checkpoints_are_ignored_when_locating(tmp_path):
    (tmp_path / ".ipynb_checkpoints").mkdir()
    shutil.copy(SOLUTIONS / "04_mlp.ipynb", tmp_path / ".ipynb_checkpoints" / "04_mlp-checkpoint.ipynb")
    assert locate(tmp_path, APPENDIX_A.notebook("04_mlp"), others=APPENDIX_A) is None


def test_a_slow_function_costs_only_its_own_checks(sandbox, tmp_path):
    from autograder.grading.runner import grade_submission
    from autograder.sandbox.client import Sandbox
    from autograder.sandbox.limits import Limits
    from tests.conftest import SUITES

    write_variant(tmp_path, "02_tensors", {"gram": "import time\ndef gram(t):\n    time.sleep(30)\n    return t @ t.T\n"})
    with Sandbox(limits=Limits(check_seconds=1.0), plan=sandbox.plan) as quick:
        result = grade_submission(submission=tmp_path, student="s", assignment=APPENDIX_A.subset(["02_tensors"]),
                                  suites_dir=SUITES, sandbox=quick, seed=1).notebook("02_tensors")
    gram_checks = [c for c in result.checks if c.function == "gram"]
    assert all(c.points == 0 for c in gram_checks)
    assert all("1 s" in c.message for c in gram_checks), [c.message for c in gram_checks]
    assert result.points == 20 - sum(c.max_points for c in gram_checks)


def test_huge_and_overlong_notebooks_are_refused_with_a_reason(tmp_path):
    big = tmp_path / "02_tensors.ipynb"
    with big.open("wb") as handle:
        handle.truncate(200 << 20)  # a 200 MB file (sparse, so the test stays fast)
    with pytest.raises(NotebookProblem, match="200 MiB, over the 50 MiB limit"):
        load_notebook(big, stem="02_tensors", root=tmp_path)
    many = nbformat.v4.new_notebook()
    many.cells = [nbformat.v4.new_code_cell("x = 1") for _ in range(20_000)]
    nbformat.write(many, big)
    with pytest.raises(NotebookProblem, match="20000 code cells, over the limit of 2000"):
        load_notebook(big, stem="02_tensors", root=tmp_path)


def test_one_pytest_session_grades_a_stream_of_submissions_independently(sandbox, tmp_path, seed):
    """A worker grades many submissions in one session: nothing of one carries into the next."""
    from autograder.grading.runner import grade_stream
    from tests.conftest import SUITES

    (tmp_path / "good").mkdir()
    shutil.copy(SOLUTIONS / "01_setup.ipynb", tmp_path / "good")
    (tmp_path / "blank").mkdir()
    write_variant(tmp_path / "patcher", "01_setup", {},
                  extra_cells=("import torch\ntorch.__version__ = '0.0.1'\nENVIRONMENT = None",))
    write_variant(tmp_path / "broken", "01_setup", {}, extra_cells=("import os\nos._exit(3)",))
    tasks = [("good", tmp_path / "good"), ("blank", tmp_path / "blank"), ("patcher", tmp_path / "patcher"),
             ("broken", tmp_path / "broken"), ("again", tmp_path / "good" / "01_setup.ipynb")]
    results = []
    grade_stream(tasks, assignment=APPENDIX_A.subset(["01_setup"]), suites_dir=SUITES, sandbox=sandbox, seed=seed,
                 on_result=results.append)
    scores = {result.student: result.points for result in results}
    assert [result.student for result in results] == [name for name, _ in tasks]
    assert scores["good"] == scores["again"] == 10, [(r.student, r.points, r.problems, r.notebooks[0].problems) for r in results]
    assert scores["blank"] == 0
    assert 0 < scores["patcher"] < 10 and 0 < scores["broken"] <= 10
    assert len(results[0].notebooks[0].checks) == len(results[-1].notebooks[0].checks) == 10
