"""Class runs survive interruption: atomic results, SIGTERM keeps finished work, --resume finishes the rest."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SOLUTIONS, write_variant

ONLY = ["--notebook", "01_setup", "--seed", "3"]


def make_class(root: Path, students: int, *, slow: str | None = None) -> Path:
    for index in range(students):
        name = f"student{index:02d}"
        (root / name).mkdir(parents=True)
        shutil.copy(SOLUTIONS / "01_setup.ipynb", root / name)
    if slow:
        write_variant(root / slow, "01_setup", {}, extra_cells=("import time\ntime.sleep(3)",))
    return root


def cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_resume_keeps_finished_results_and_grades_the_rest(tmp_path):
    class_dir = make_class(tmp_path / "class", 3)
    out = tmp_path / "out"
    first = cli(str(class_dir), "--out", str(out), *ONLY)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    kept = (out / "student00.json").read_bytes()
    (out / "student01.json").unlink()
    (out / "student02.json").write_text("{ truncated")  # unreadable results are graded again
    second = cli(str(class_dir), "--out", str(out), "--resume", *ONLY)
    assert second.wait(timeout=300) == 0, second.stderr.read()
    assert (out / "student00.json").read_bytes() == kept
    assert json.loads((out / "student01.json").read_text())["score"]["points"] == 10
    assert json.loads((out / "student02.json").read_text())["score"]["points"] == 10
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows == ["student,01_setup,extra_credit,total"] + [f"student0{i},10,0,10" for i in range(3)]


def test_sigterm_stops_the_batch_and_keeps_every_finished_result(tmp_path):
    class_dir = make_class(tmp_path / "class", 2, slow="student99")
    out = tmp_path / "out"
    run = cli(str(class_dir), "--out", str(out), *ONLY)
    deadline = time.monotonic() + 120
    finished = (out / "student00.json", out / "student01.json")  # with two workers, in either order
    while not all(path.exists() for path in finished) and time.monotonic() < deadline:
        time.sleep(0.1)
    run.send_signal(signal.SIGTERM)  # student99 is still running its slow cell
    assert run.wait(timeout=60) == 130
    assert "--resume" in run.stderr.read()
    finished = sorted(p.name for p in out.iterdir())
    assert finished == ["student00.json", "student01.json"]  # complete files only, no temporaries
    for path in out.iterdir():
        json.loads(path.read_text())
    resumed = cli(str(class_dir), "--out", str(out), "--resume", *ONLY)
    assert resumed.wait(timeout=300) == 0
    assert json.loads((out / "student99.json").read_text())["score"]["points"] == 10


def _children(pid: int, marker: bytes) -> list[int]:
    """Child processes of ``pid`` whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and marker in command:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("when", ["starting", "grading"])
def test_a_worker_that_dies_costs_only_its_own_submission(tmp_path, when):
    """Workers run trusted code only, but if one is killed (OOM killer, operator) the class still finishes."""
    class_dir = tmp_path / "class"
    for name in ("ann", "bob", "cat"):
        write_variant(class_dir / name, "01_setup", {}, extra_cells=("import time\ntime.sleep(3)",))
    out = tmp_path / "out"
    run = cli(str(class_dir), "--out", str(out), "--jobs", "2", *ONLY)
    deadline = time.monotonic() + 120
    while len(workers := _children(run.pid, b"multiprocessing.spawn")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    if when == "grading":  # wait until both workers have a student's notebook running
        warm = _children(run.pid, b"autograder.sandbox.zygote")
        while (not warm or len(_children(warm[0], b"zygote")) < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
            warm = _children(run.pid, b"autograder.sandbox.zygote")
    os.kill(workers[0], signal.SIGKILL)
    assert run.wait(timeout=300) == 0, run.stderr.read()
    results = {name: json.loads((out / f"{name}.json").read_text()) for name in ("ann", "bob", "cat")}
    lost = [name for name, result in results.items() if result["score"]["points"] == 0]
    assert len(lost) == 1, results
    assert "grading worker stopped" in json.dumps(results[lost[0]])
    assert all(result["score"]["points"] == 10 for name, result in results.items() if name not in lost)


def test_the_coordinating_process_never_imports_torch_pytest_or_a_suite(tmp_path):
    class_dir = make_class(tmp_path / "class", 2)
    out = tmp_path / "out"
    probe = (
        "import sys\n"
        "from autograder import cli\n"
        f"code = cli.main(['grade', {str(class_dir)!r}, '--out', {str(out)!r}, '--jobs', '2', '--quiet', "
        "'--notebook', '01_setup'])\n"
        "heavy = sorted(name for name in sys.modules if name.split('.')[0] in ('torch', 'pytest', '_pytest')"
        " or 'hidden' in name)\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "0 []", done.stdout + done.stderr
    assert json.loads((out / "student01.json").read_text())["score"]["points"] == 10


def test_a_submission_at_its_limit_holds_up_only_its_own_worker(tmp_path):
    """While one worker waits out a looping cell, the other grades the rest of the class."""
    class_dir = make_class(tmp_path / "class", 4)
    write_variant(class_dir / "aaa_loops", "01_setup", {}, extra_cells=("while True:\n    pass",))
    out = tmp_path / "out"
    run = cli(str(class_dir), "--out", str(out), "--jobs", "2", "--limit", "cell=8", *ONLY)
    assert run.wait(timeout=300) == 0
    finished = [line.split("] ", 1)[1].split(":", 1)[0] for line in run.stderr.read().splitlines()
                if line.startswith("[")]
    assert finished[-1] == "aaa_loops", finished  # handed out first, finished last
    assert sorted(finished[:-1]) == [f"student0{i}" for i in range(4)]
    assert "time limit" in (out / "aaa_loops.json").read_text()


def test_a_grader_fault_in_a_worker_stops_the_class_run_with_its_message(tmp_path):
    """Missing or broken suites are the grader's fault: no student gets a zero for them."""
    class_dir = make_class(tmp_path / "class", 3)
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_01_setup.py").write_text("NOTEBOOK = '01_setup'\n\ndef test_unmarked(nb):\n    pass\n")
    out = tmp_path / "out"
    run = cli(str(class_dir), "--out", str(out), "--jobs", "2", "--suites", str(suites), *ONLY)
    assert run.wait(timeout=300) == 1
    errors = run.stderr.read()
    assert "@pytest.mark.grade" in errors, errors
    assert not list(out.glob("student*.json"))


def test_a_worker_that_died_while_idle_is_replaced_without_losing_anyone(tmp_path):
    from autograder.course import APPENDIX_A, default_suites_dir
    from autograder.grading.pool import GradingSetup, _Workers
    from autograder.sandbox.client import SandboxSettings

    class_dir = make_class(tmp_path / "class", 3)
    setup = GradingSetup(assignment=APPENDIX_A.subset(["01_setup"]), suites_dir=default_suites_dir("appendix_a"),
                         sandbox_settings=SandboxSettings(), seed=3)
    with setup.sandbox() as sandbox, _Workers(setup, sandbox, count=2) as workers:
        idle = workers._workers[0].process
        os.kill(idle.pid, signal.SIGKILL)
        idle.join()
        results = list(workers.grade([(path.name, path) for path in sorted(class_dir.iterdir())]))
    assert sorted((result.student, result.points) for result in results) == [
        ("student00", 10), ("student01", 10), ("student02", 10)]
