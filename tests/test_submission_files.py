"""A file in a submission can fail only its own notebook, through every front door.

The attacks are data (``tests/hostile/files.py``): a FIFO, a socket or a device named as a
notebook, symlinks that loop, dangle or lead out of the submission (to /dev/zero, to the
reference solution, to a classmate's notebook), JSON nested 20,000 levels deep, a file over
the size cap, bytes that are not UTF-8.  Each must be refused at once with its reason, while
the student's other notebooks are graded as usual and nobody else notices: in a class run
with two workers, for a single student, in a pull request through ``autograder ci``, and
under ``autograder check``.

The front doors take the attacks in groups, one attack per notebook slot, with a solved
``01_setup`` in every submission as the control, so that each run grades one real notebook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A
from autograder.grading import schema
from autograder.notebooks import NotebookProblem, load_notebook, locate
from autograder.sandbox.isolation import Protections
from tests.conftest import SOLUTIONS, SUITES
from tests.hostile.files import FILE_ATTACKS, FileAttack, available, plant, release_fifos
from tests.test_ci_command import workspace  # noqa: F401 - the runner's workspace: a released base and the suites

CONTROL = "01_setup"  # solved in every attacked submission: it must keep its full marks
SLOTS = ("02_tensors", "03_autograd", "04_mlp", "05_device", "06_distributed")
CLASSMATE = "classmate"
# Through the front doors: one of each kind the file system can hand over (every attack is read directly below).
FRONT_DOOR = ("fifo", "socket", "device_node", "symlink_to_dev_zero", "symlink_loop", "symlink_to_solution",
              "symlink_to_classmate", "deep_list", "huge", "invalid_utf8")
ATTACKS = available()
THROUGH_DOORS = tuple(attack for attack in ATTACKS if attack.name in FRONT_DOOR)
GROUPS = tuple(THROUGH_DOORS[start:start + len(SLOTS)] for start in range(0, len(THROUGH_DOORS), len(SLOTS)))
RUN_SECONDS = 300  # far more than any of these runs needs; a run that blocks is stopped and fails its tests


def slot_of(attack: FileAttack) -> tuple[int, str]:
    """The group whose submission holds ``attack``, and the notebook it stands in for there."""
    for index, group in enumerate(GROUPS):
        if attack in group:
            return index, SLOTS[group.index(attack)]
    raise KeyError(attack.name)


def places(sibling: str = CLASSMATE) -> dict[str, Path | str]:
    return {"solutions": SOLUTIONS, "suites": SUITES, "sibling": sibling}


def attacked(folder: Path, group: tuple[FileAttack, ...]) -> Path:
    """A submission: the control notebook solved, each attack of ``group`` in a slot of its own.

    A classmate's folder (``../classmate``) with a solved ``02_tensors`` is made next to it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOLUTIONS / f"{CONTROL}.ipynb", folder)
    for attack, stem in zip(group, SLOTS):
        (folder / f"{stem}.ipynb").unlink(missing_ok=True)
        plant(attack, folder, notebook=f"{stem}.ipynb", places=places())
    classmate = folder.parent / CLASSMATE
    classmate.mkdir(exist_ok=True)
    for stem in (CONTROL, "02_tensors"):
        shutil.copy(SOLUTIONS / f"{stem}.ipynb", classmate)
    return folder


def autograder(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess | None:
    """Run the CLI; None when it did not finish within RUN_SECONDS (a blocked run)."""
    try:
        return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], capture_output=True, text=True,
                              timeout=RUN_SECONDS, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        return None


def assert_only_its_notebook_failed(result, attack: FileAttack, stem: str) -> None:
    notebook = result.notebook(stem)
    assert notebook.points == 0
    assert any(attack.reason in problem and problem.startswith(f"{stem}.ipynb") for problem in notebook.problems), \
        notebook.problems
    control = result.notebook(CONTROL)
    assert control.points == control.max_points == 10, control.problems


def missing_in_note(stderr: str) -> set[str] | None:
    """The protections a run's note says are missing (empty: no note)."""
    match = re.search(r"running without ([a-z_, ]+);", stderr)
    return set(match.group(1).split(", ")) if match else set()


def missing_from(protections: tuple[str, ...]) -> set[str]:
    return {name for name in Protections().to_dict() if name != "notes"} - set(protections)


# ------------------------------------------------------------------------------------------ the reader


def load_within(seconds: float, path: Path, root: Path):
    """``load_notebook`` in a thread: (what it raised or returned, whether it finished in time)."""
    outcome: list = []

    def load() -> None:
        try:
            outcome.append(load_notebook(path, stem=path.stem, root=root))
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion
            outcome.append(error)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(seconds)
    return (outcome[0] if outcome else None), not thread.is_alive()


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.name for attack in ATTACKS])
def test_each_file_attack_is_refused_at_once_with_its_reason(attack, tmp_path):
    student = tmp_path / "student"
    attacked(student, (attack,))
    started = time.monotonic()
    try:
        outcome, finished = load_within(20, student / "02_tensors.ipynb", student)
    finally:
        release_fifos(tmp_path)
    assert finished, f"reading {attack.name} blocked"
    assert time.monotonic() - started < 15
    assert isinstance(outcome, NotebookProblem), repr(outcome)
    assert outcome.refusal is attack.refusal
    assert str(outcome).startswith("02_tensors.ipynb ") and attack.reason in str(outcome)


def test_a_file_that_is_no_notebook_is_never_opened_to_guess_one(tmp_path):
    """A notebook that lost its name is guessed from the functions other files define; a FIFO, a loop and
    a deeply nested file there are passed over, not read."""
    student = tmp_path / "student"
    by_name = {attack.name: attack for attack in FILE_ATTACKS}
    for index, name in enumerate(("fifo", "symlink_loop", "deep_list", "socket")):
        plant(by_name[name], student, notebook=f"Untitled{index}.ipynb", places=places())
    shutil.copy(SOLUTIONS / "02_tensors.ipynb", student / "Untitled9.ipynb")
    found: list = []
    thread = threading.Thread(target=lambda: found.append(locate(student, APPENDIX_A.notebook("02_tensors"),
                                                                 others=APPENDIX_A)), daemon=True)
    thread.start()
    thread.join(20)
    release_fifos(tmp_path)
    assert found == [student / "Untitled9.ipynb"]


def test_autograder_check_reports_each_refused_file_and_goes_on(tmp_path):
    from autograder.check import check_notebooks

    by_name = {attack.name: attack for attack in FILE_ATTACKS}
    exercises = tmp_path / "exercises"
    chosen = ("fifo", "symlink_loop", "deep_list")
    for attack, stem in zip(chosen, ("01_setup", "02_tensors", "03_autograd")):
        plant(by_name[attack], exercises, notebook=f"{stem}.ipynb", places=places())
    started = time.monotonic()
    try:
        checks = check_notebooks(exercises, APPENDIX_A.subset(["01_setup", "02_tensors", "03_autograd"]), timeout=30)
    finally:
        release_fifos(tmp_path)
    assert time.monotonic() - started < 25
    for check, attack in zip(checks, chosen):
        assert any(by_name[attack].reason in problem for problem in check.problems), check.problems
        assert not check.ok


# ------------------------------------------------------------------------------------------ a class run


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("class-run")
    class_dir = root / "class"
    for index, group in enumerate(GROUPS):
        attacked(class_dir / f"attacker{index}", group)  # also makes class/classmate, an honest student
    out = root / "out"
    try:
        done = autograder("grade", class_dir, "--out", out, "--jobs", "2", "--seed", "3")
    finally:
        release_fifos(class_dir)
    results = {path.stem: schema.from_dict(json.loads(path.read_text()))
               for path in out.glob("*.json")} if out.is_dir() else {}
    return done, out, results


def test_a_class_run_with_hostile_files_finishes_and_writes_every_grade(class_run):
    done, out, results = class_run
    assert done is not None, "the class run did not finish"
    assert done.returncode == 0, done.stderr
    rows = (out / "grades.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == sorted([CLASSMATE] + [f"attacker{i}" for i in range(len(GROUPS))])


@pytest.mark.parametrize("attack", THROUGH_DOORS, ids=[attack.name for attack in THROUGH_DOORS])
def test_in_a_class_run_a_file_fails_only_its_own_notebook(class_run, attack):
    _, _, results = class_run
    group, stem = slot_of(attack)
    assert f"attacker{group}" in results, "no result for the attacker"
    assert_only_its_notebook_failed(results[f"attacker{group}"], attack, stem)


def test_in_a_class_run_classmates_are_unaffected(class_run):
    _, _, results = class_run
    classmate = results[CLASSMATE]
    assert classmate.notebook(CONTROL).points == 10 and classmate.notebook("02_tensors").points == 20


def test_the_protections_note_is_the_sandboxs_not_a_students(class_run):
    done, _, results = class_run
    assert done is not None and CLASSMATE in results
    assert missing_in_note(done.stderr) == missing_from(results[CLASSMATE].protections), done.stderr


# ------------------------------------------------------------------------------------------ one student


@pytest.fixture(scope="module")
def single_runs(tmp_path_factory):
    runs: dict[int, tuple] = {}

    def run(group: int):
        if group not in runs:
            root = tmp_path_factory.mktemp(f"single-{group}")
            student = attacked(root / "alice", GROUPS[group])
            try:
                done = autograder("grade", student, "--json", root / "alice.json", "--seed", "3")
            finally:
                release_fifos(root)
            path = root / "alice.json"
            runs[group] = (done, schema.from_dict(json.loads(path.read_text())) if path.exists() else None)
        return runs[group]
    return run


@pytest.mark.parametrize("attack", THROUGH_DOORS, ids=[attack.name for attack in THROUGH_DOORS])
def test_for_one_student_a_file_fails_only_its_own_notebook(single_runs, attack):
    group, stem = slot_of(attack)
    done, result = single_runs(group)
    assert done is not None, "grading the student did not finish"
    assert done.returncode == 0, done.stderr
    assert_only_its_notebook_failed(result, attack, stem)


def test_for_one_student_the_protections_note_is_the_sandboxs(single_runs, class_run):
    done, _ = single_runs(0)
    _, _, results = class_run
    assert done is not None and CLASSMATE in results
    assert missing_in_note(done.stderr) == missing_from(results[CLASSMATE].protections), done.stderr


# ------------------------------------------------------------------------------------------ a pull request


def run_ci(workspace: Path, head: Path, *notebooks: str) -> dict:
    """``autograder ci`` as the workflow runs it (see tests/test_ci_command.py); what it wrote, or None for each
    file it did not write."""
    github = head.parent / f"{head.name}-runner"
    github.mkdir()
    files = {name: github / name.lower() for name in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT")}
    for path in files.values():
        path.write_text("")
    event = github / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "user": {"login": "student-1"}}}))
    env = {"PATH": os.environ["PATH"], "GITHUB_EVENT_PATH": str(event), "PYTHONPATH": str(workspace / "base"),
           **{name: str(path) for name, path in files.items()}}
    results = github / "results.json"
    done = autograder("ci", "--base", workspace / "base", "--head", head, "--suites", workspace / "suites",
                      "--seed", "5", "--results", results, "--comment", github / "comment.md",
                      *[arg for stem in notebooks for arg in ("--notebook", stem)], cwd=workspace, env=env)
    return {"done": done, **{name: path.read_text() for name, path in files.items()},
            "result": schema.from_dict(json.loads(results.read_text())) if results.exists() else None}


def make_head(workspace: Path, name: str) -> Path:
    head = workspace / name
    shutil.copytree(workspace / "base", head, ignore=shutil.ignore_patterns("__pycache__"))
    return head


@pytest.fixture(scope="module")
def ci_runs(workspace):
    runs: dict[int, dict] = {}

    def run(group: int) -> dict:
        if group not in runs:
            head = make_head(workspace, f"head-{group}")
            attacked(head / "exercises" / "appendix_a", GROUPS[group])
            if group == 0:  # a grading file turned into a FIFO: comparing it with the base must not block
                (head / "pyproject.toml").unlink()
                os.mkfifo(head / "pyproject.toml")
            try:
                runs[group] = run_ci(workspace, head)
            finally:
                release_fifos(head)
        return runs[group]
    return run


def assert_ci_wrote_everything(run: dict) -> None:
    done = run["done"]
    assert done is not None, "autograder ci did not finish"
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert run["result"] is not None and "## Autograder" in run["GITHUB_STEP_SUMMARY"]
    assert re.search(r"^score=\d", run["GITHUB_OUTPUT"], flags=re.M), run["GITHUB_OUTPUT"]


@pytest.mark.parametrize("attack", THROUGH_DOORS, ids=[attack.name for attack in THROUGH_DOORS])
def test_through_ci_a_file_fails_only_its_own_notebook(ci_runs, attack):
    group, stem = slot_of(attack)
    run = ci_runs(group)
    assert_ci_wrote_everything(run)
    assert_only_its_notebook_failed(run["result"], attack, stem)
    assert f"`{stem}`" in run["GITHUB_STEP_SUMMARY"]


def test_through_ci_a_fifo_for_a_grading_file_is_reported_as_a_change(ci_runs):
    run = ci_runs(0)
    assert_ci_wrote_everything(run)
    assert "pyproject.toml" in run["GITHUB_STEP_SUMMARY"]


def test_through_ci_an_exercises_folder_linked_out_of_the_pull_request_is_refused(workspace):
    """``exercises/appendix_a`` as a symlink to a folder of solved notebooks (the suites' reference
    notebooks, say) must not be graded as the student's work."""
    elsewhere = workspace / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(SOLUTIONS / f"{CONTROL}.ipynb", elsewhere)
    head = make_head(workspace, "head-linked")
    shutil.rmtree(head / "exercises" / "appendix_a")
    (head / "exercises" / "appendix_a").symlink_to(elsewhere)
    run = run_ci(workspace, head, CONTROL)
    assert_ci_wrote_everything(run)
    notebook = run["result"].notebook(CONTROL)
    assert notebook.points == 0
    assert any("symbolic link out of the pull request" in problem for problem in notebook.problems), notebook.problems
