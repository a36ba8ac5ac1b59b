"""Every command the documentation shows is run here, as written, end to end.

Each scenario lays out what the docs assume (a class in ``submissions/``, a course directory,
a pull request's checkout) in a temporary workspace, then runs whole shell blocks of the docs
through bash, line by line as a reader would paste them.  Only the lines in ``NOT_RUN`` are
skipped, each with its reason; a documented ``autograder`` command in a block that no scenario
runs fails ``test_every_documented_autograder_command_is_run``.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A, REPO_ROOT
from tests.conftest import EXERCISES, SOLUTIONS, SUITES
from tests.doc_blocks import block, python_block, shell_blocks
from tests.leaks import leaked

VENV_BIN = Path(sys.executable).parent
ROOT = os.geteuid() == 0

# Lines that no test runs, and why (reviewed; keep it short).
NOT_RUN = {
    "python3 -m venv .venv && .venv/bin/pip install -q 'torch==2.13.0' -e '.[dev]' && .venv/bin/python -m pytest":
        "the test command itself: .ci/run runs exactly this line",
    "python3 -m venv .venv && .venv/bin/pip install 'torch==2.13.0' --index-url https://download.pytorch.org/whl/cpu":
        "PyTorch's own index is not reachable from the test machines",
    "python3 -m venv .venv && .venv/bin/pip install 'torch==2.13.0' -e '.[nbgrader]' && . .venv/bin/activate":
        "a fresh install (the quickstart test installs one); the workspace links the tested venv instead",
    "python3 -m venv .venv && .venv/bin/pip install 'torch==2.13.0' -e '.[nbgrader]'":
        "a fresh install (the quickstart test installs one); the workspace links the tested venv instead",
    "python3 -m venv .venv": "the student's fresh install; the released repository links the tested venv instead",
    ".venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu":
        "PyTorch's own index is not reachable from the test machines",
    ".venv/bin/pip install -e '.[jupyter]'": "the student's fresh install; the tested venv has these packages",
    "python3 -m venv .venv && .venv/bin/pip install 'torch==2.13.0' -e '.[jupyter]' 'nbgrader>=0.9.6' && "
    ". .venv/bin/activate": "the student's fresh install; the tested venv has these packages",
    ".venv/bin/jupyter lab exercises/appendix_a/": "starts an interactive server",
}

# The blocks each scenario runs, by (file, first command).
QUICKSTART = ("README.md", "python3 -m venv .venv && .venv/bin/pip install 'torch==2.13.0' -e . && "
                           ".venv/bin/autograder demo")
INSTRUCTOR = [("README.md", "autograder build"),
              ("README.md", "autograder grade submissions.zip --out results/"),
              ("docs/instructor-guide.md", "autograder grade submissions/ --out results/"),
              ("docs/instructor-guide.md", "autograder report results/"),
              ("docs/instructor-guide.md", "autograder grade solutions/appendix_a/ --notebook 02_tensors --verbose"),
              ("docs/instructor-guide.md", "autograder grade submissions/ --out results/ --limit cell=60 "
                                           "--limit memory=1GiB --limit notebook=600")]
NBGRADER_RELEASE = ("docs/nbgrader.md", "python3 -m venv .venv && .venv/bin/pip install 'torch==2.13.0' "
                                        "-e '.[nbgrader]'")
NBGRADER_GRADE = ("docs/nbgrader.md", "nbgrader collect --update appendix_a")
NBGRADER_FORMGRADER = ("docs/nbgrader.md", "jupyter lab")
NBGRADER_STUDENT = ("docs/nbgrader.md", "nbgrader fetch_assignment appendix_a")
NBGRADER_SHARED_ACCOUNT = ("docs/nbgrader.md", "nbgrader submit appendix_a --student alice")
NBGRADER_README = ("README.md", "python3 -m venv .venv && .venv/bin/pip install 'torch==2.13.0' -e '.[nbgrader]' "
                                "&& . .venv/bin/activate")
NBGRADER_UPDATE = ("docs/nbgrader.md", "autograder build")
SHARDING = [("docs/sharding.md", "autograder grade submissions/ --out results/ --jobs 2 --gradebook "
                                 "sqlite:///gradebook.db"),
            ("docs/sharding.md", "nbgrader generate_assignment appendix_a --force --db sqlite:///gradebook-1.db")]
RELEASE = ("docs/ci.md", "autograder release ../appendix-a-course")
MUTATE = ("docs/instructor-guide.md", "autograder mutate --notebook 02_tensors")
SIMILARITY = ("docs/instructor-guide.md", "autograder similarity submissions/")  # run by tests/test_similarity.py
SCAFFOLD = ("docs/instructor-guide.md", 'autograder new 07_attention --title "Self-attention" --section A.9.3 '
                                        "--function attention_weights --points 10")  # run by tests/test_scaffold.py
STUDENT = [("autograder/templates/student/README.md", ".venv/bin/autograder env"),
           ("autograder/templates/student/README.md", ".venv/bin/autograder check exercises/")]
CI = [("docs/ci.md", "sudo autograder ci --base base --head head --suites suites/appendix_a --isolation strict "
                     "--results results/results.json --comment results/comment.md"),
      ("docs/ci.md", "sudo autograder ci --base base --head head --suites suites/appendix_a --results results.json "
                     "--comment comment.md")]
RUN_BY_A_SCENARIO = {QUICKSTART, *INSTRUCTOR, NBGRADER_RELEASE, NBGRADER_GRADE, NBGRADER_FORMGRADER, NBGRADER_STUDENT,
                     NBGRADER_SHARED_ACCOUNT, NBGRADER_README, NBGRADER_UPDATE, *SHARDING, RELEASE, SCAFFOLD, MUTATE,
                     SIMILARITY, *STUDENT,
                     *CI}


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GITHUB_", "PYTEST_"))}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", PIP_DISABLE_PIP_VERSION_CHECK="1",
               GIT_AUTHOR_NAME="Instructor", GIT_AUTHOR_EMAIL="instructor@example.org",
               GIT_COMMITTER_NAME="Instructor", GIT_COMMITTER_EMAIL="instructor@example.org", **extra)
    return env


def run_block(name: tuple[str, str], cwd: Path, *, env: dict[str, str] | None = None, expect: int = 0,
              replace: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the block ``name`` as a bash script in ``cwd``, without the NOT_RUN lines; check its exit status."""
    found = block(*name)
    lines = []
    for command in found.commands:
        command = command.replace("{{assignment}}", "appendix_a")
        if command in NOT_RUN:
            continue
        if command.startswith("sudo "):
            assert ROOT, "the caller skips blocks that need root"
            command = command[len("sudo "):]
        for old, new in (replace or {}).items():
            command = command.replace(old, new)
        lines.append(command)
    script = "set -euo pipefail\n" + "\n".join(lines) + "\n"
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env or environment(), capture_output=True,
                          text=True, timeout=timeout)
    errors = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location"))
    assert done.returncode == expect, (f"{name}: exit {done.returncode}, expected {expect}\n{script}\n"
                                       f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{errors[-5000:]}")
    return done


# The students of these scenarios hand in two notebooks only: the scenarios grade them many times,
# and what matters here is that the commands work as written (test_cli, test_curriculum and
# test_mutants grade every notebook).
HANDED_IN = ("01_setup", "02_tensors")
GRADED_POINTS = sum(APPENDIX_A.notebook(stem).points for stem in HANDED_IN)


def reference_submission(target: Path) -> Path:
    target.mkdir(parents=True)
    for stem in HANDED_IN:
        shutil.copy(SOLUTIONS / f"{stem}.ipynb", target)
    return target


def make_class(root: Path) -> Path:
    """``submissions/``: alice (the reference notebooks she handed in) and bob (blank stubs)."""
    reference_submission(root / "alice")
    shutil.copytree(EXERCISES, root / "bob")
    return root


def zip_class(class_dir: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(class_dir.rglob("*.ipynb")):
            archive.write(path, path.relative_to(class_dir))
    return target


def grades(path: Path) -> dict[str, dict[str, float | str]]:
    """Rows of our grades.csv or of `nbgrader export`, by student, with numbers as floats."""
    rows = {}
    for row in csv.DictReader(path.open(encoding="utf-8")):
        student = row.get("student") or row["student_id"]
        rows[student] = {key: _number(value) for key, value in row.items()}
    return rows


def _number(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


# ------------------------------------------------------------------------------------------ coverage


def test_every_documented_autograder_command_is_run():
    blocks = shell_blocks()
    uncovered = [f"{b.name[0]}: {command}" for b in blocks if b.name not in RUN_BY_A_SCENARIO
                 for command in b.commands if command not in NOT_RUN and b.autograder_commands]
    assert uncovered == [], "documented commands no test runs (add them to a scenario, or to NOT_RUN with a reason)"
    names = {b.name for b in blocks}
    assert RUN_BY_A_SCENARIO <= names, f"scenarios name blocks the docs no longer have: {RUN_BY_A_SCENARIO - names}"
    every_line = {command.replace("{{assignment}}", "appendix_a") for b in blocks for command in b.commands}
    assert set(NOT_RUN) <= every_line, f"NOT_RUN lists lines the docs no longer have: {set(NOT_RUN) - every_line}"


# ------------------------------------------------------------------------------------------ scenarios


@pytest.mark.slow
def test_quickstart_main_job_on_a_fresh_copy(tmp_path):
    """README's first command, as written, in a copy of the checkout (the files git tracks or would track)."""
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout
    clone = tmp_path / "clone"
    for relative in filter(None, tracked.decode().split("\0")):
        source = REPO_ROOT / relative
        if source.is_file():
            (clone / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / relative)
    env = environment()
    env["PATH"] = os.environ.get("PATH", "")  # the clone's own venv, not the tested one
    done = run_block(QUICKSTART, clone, env=env, timeout=900)
    table = done.stdout
    assert "reference" in table and "flawed" in table and "blank" in table
    reference = next(line for line in table.splitlines() if line.startswith("reference"))
    assert reference.split()[-1] == f"{APPENDIX_A.points}/{APPENDIX_A.points}", table
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_mutation_block(tmp_path):
    """`autograder mutate` as the instructor guide shows it, from an instructor's checkout."""
    (tmp_path / "solutions").symlink_to(SOLUTIONS.parent)
    done = run_block(MUTATE, tmp_path)
    assert "make_tensors" in done.stdout
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert [notebook["notebook"] for notebook in report["notebooks"]] == ["01_setup"]


def test_instructor_workflow(tmp_path):
    work = tmp_path
    reference_submission(work / "alice")
    make_class(work / "submissions")
    zip_class(work / "submissions", work / "submissions.zip")
    zip_class(work / "submissions", work / "canvas-download.zip")
    (work / "solutions").symlink_to(SOLUTIONS.parent)
    (work / "exercises").symlink_to(EXERCISES.parent)
    total = GRADED_POINTS

    done = run_block(INSTRUCTOR[0], work)  # build, validate, one student, a class
    assert "0 failed" in done.stdout
    assert json.loads((work / "results.json").read_text())["score"]["points"] == total
    assert grades(work / "results" / "grades.csv")["alice"]["total"] == total
    assert grades(work / "results" / "grades.csv")["bob"]["total"] == 0.0

    (work / "worksheet.csv").write_text(  # Moodle's grading worksheet of the assignment, as downloaded
        "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,Feedback comments\n"
        "Participant 101,Alice Archer,alice@example.edu,Submitted for grading,,30.00,Yes,\n"
        "Participant 102,Bob Brown,bob@example.edu,Submitted for grading,,30.00,Yes,\n", encoding="utf-8")
    done = run_block(INSTRUCTOR[1], work)  # zip, report, feedback, canvas export, moodle export with a roster
    assert (work / "results" / "report.html").is_file()
    assert (work / "results" / "feedback" / "alice.md").is_file()
    assert "alice" in (work / "canvas.csv").read_text()
    assert "alice has no Canvas user id" in done.stderr  # the zip was a class directory, not Canvas's download
    moodle = {row["Identifier"]: row for row in csv.DictReader((work / "moodle.csv").open(encoding="utf-8"))}
    assert moodle["Participant 101"]["Full name"] == "Alice Archer" and set(moodle) == {"Participant 101",
                                                                                          "Participant 102"}

    run_block(INSTRUCTOR[2], work)
    done = run_block(INSTRUCTOR[3], work)
    assert any(line.startswith("student,") for line in done.stdout.splitlines())  # the plain export on stdout
    assert (work / "grades-upload.csv").is_file()

    done = run_block(INSTRUCTOR[4], work)
    assert "20/20" in done.stdout and "0/20" in done.stdout
    assert "passed:" in done.stdout  # --verbose lists passed checks
    run_block(INSTRUCTOR[5], work)
    produced = "".join(path.read_text(errors="replace") for path in work.rglob("*")
                       if path.is_file() and path.suffix in {".json", ".csv", ".md", ".html"}
                       and "alice" not in path.parts[:-1] and "submissions" not in path.parts)
    assert leaked(produced) == []


def course_workspace(root: Path, stems: tuple[str, ...]) -> Path:
    (root / "source" / "appendix_a").mkdir(parents=True)
    for stem in stems:
        shutil.copy(REPO_ROOT / "source" / "appendix_a" / f"{stem}.ipynb", root / "source" / "appendix_a")
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root)
    (root / ".venv").symlink_to(VENV_BIN.parent)
    return root


def hand_in(course: Path, student: str, stems: tuple[str, ...]) -> None:
    """What the README's comment allows: notebooks copied into submitted/<student>/appendix_a/."""
    folder = course / "submitted" / student / "appendix_a"
    folder.mkdir(parents=True)
    for stem in stems:
        shutil.copy(SOLUTIONS / f"{stem}.ipynb", folder)


@pytest.mark.slow
def test_readme_nbgrader_course_block(tmp_path):
    stems = ("01_setup", "02_tensors")
    course = course_workspace(tmp_path / "course", stems)
    hand_in(course, "carol", stems)
    run_block(NBGRADER_README, course, env=environment(AUTOGRADER_EXCHANGE=str(tmp_path / "exchange")))
    assert not (course / "exercises").exists()  # nbgrader writes release/, never a tracked folder
    assert sorted(p.name for p in (course / "release" / "appendix_a").glob("*.ipynb")) == \
        [f"{stem}.ipynb" for stem in stems]
    assert grades(course / "grades.csv")["carol"]["score"] == 30.0
    assert (course / "feedback" / "carol" / "appendix_a" / "02_tensors.html").is_file()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def open_formgrader(course: Path, env: dict[str, str], scratch: Path) -> tuple[str, str, list[dict]]:
    """Start the documented server in ``course`` and open the formgrader at the documented address.

    Returns the address the formgrader landed on, its page and the assignments it lists. The
    server gets a token, a free port and no browser, as a reader's own Jupyter set-up would give
    it; it is stopped after the visit or after two minutes without an answer.
    """
    (command,) = block(*NBGRADER_FORMGRADER).commands
    config = scratch / "config"
    config.mkdir(parents=True)
    (config / "jupyter_server_config.py").write_text(  # allow_root: JupyterLab refuses root otherwise
        f"c.ServerApp.open_browser = False\nc.ServerApp.port_retries = 0\nc.ServerApp.allow_root = {ROOT}\n",
        encoding="utf-8")
    token, port = secrets.token_hex(16), free_port()
    env = {**env, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_DATA_DIR": str(scratch / "data"),
           "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"), "JUPYTER_TOKEN": token, "JUPYTER_PORT": str(port)}
    log_path = scratch / "server.log"
    base = f"http://localhost:{port}"
    browser = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor())
    with log_path.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(["bash", "-c", command], cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while True:  # the address the server prints: its token logs the browser in
                assert server.poll() is None, f"`{command}` exited {server.returncode}:\n{log_path.read_text()[-3000:]}"
                try:
                    browser.open(f"{base}/lab?token={token}", timeout=10).read()
                    break
                except urllib.error.HTTPError:
                    raise
                except OSError:
                    assert time.monotonic() < deadline, f"`{command}` did not answer:\n{log_path.read_text()[-3000:]}"
                    time.sleep(0.5)
            page = browser.open(f"{base}/formgrader", timeout=30)
            landed, html = page.url, page.read().decode("utf-8")
            assignments = json.loads(browser.open(f"{base}/formgrader/api/assignments", timeout=30).read())
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    return landed.removeprefix(base), html, assignments


def submission_time(folder: Path) -> str:
    return (folder / "timestamp.txt").read_text(encoding="utf-8").strip()


@pytest.mark.slow
def test_nbgrader_students_resubmissions_formgrader_and_a_notebook_added_mid_course(tmp_path):
    stems = ("01_setup", "02_tensors")
    course = course_workspace(tmp_path / "course", stems)
    exchange = tmp_path / "exchange"
    env = environment(AUTOGRADER_EXCHANGE=str(exchange))
    run_block(NBGRADER_RELEASE, course, env=env)

    # Two students through the exchange: one on their own account, alice on a shared account.
    config = python_block("docs/nbgrader.md", "Exchange.root").replace("/srv/nbgrader/exchange", str(exchange))
    own, shared = tmp_path / "student-own", tmp_path / "student-shared"
    for folder in (own, shared):
        folder.mkdir()
        (folder / "nbgrader_config.py").write_text(config)
    done = run_block(NBGRADER_STUDENT, own, env=environment())  # fetch, validate (stubs fail), submit
    assert "VALIDATION FAILED" in done.stdout + done.stderr
    subprocess.run(["bash", "-c", "nbgrader fetch_assignment appendix_a"], cwd=shared, env=environment(),
                   check=True, capture_output=True)
    shutil.copy(SOLUTIONS / "01_setup.ipynb", shared / "appendix_a")  # alice hands in 01 only, at first
    run_block(NBGRADER_SHARED_ACCOUNT, shared, env=environment())

    done = run_block(NBGRADER_GRADE, course, env=env)  # collect both, autograde, feedback, export
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    log = done.stdout + done.stderr
    assert f"claims to be submitted by alice but is owned by {user}; cheating attempt?" in log, log[-3000:]
    assert log.count("cheating attempt?") == 1, log[-3000:]  # the student on their own account is not flagged
    by_student = grades(course / "grades.csv")
    assert by_student["alice"]["score"] == APPENDIX_A.notebook("01_setup").points, by_student
    assert by_student[user]["score"] == 0.0, by_student

    # The documented configuration for a shared account, then alice finishes and submits again.
    with (course / "nbgrader_config.py").open("a", encoding="utf-8") as course_config:
        course_config.write("\n" + python_block("docs/nbgrader.md", "check_owner"))
    shutil.copy(SOLUTIONS / "02_tensors.ipynb", shared / "appendix_a")
    validated = subprocess.run([sys.executable, "-m", "nbgrader", "validate", "appendix_a/02_tensors.ipynb"],
                               cwd=shared, env=environment(), capture_output=True, text=True)
    assert "Success! Your notebook passes all the tests." in validated.stdout + validated.stderr
    run_block(NBGRADER_SHARED_ACCOUNT, shared, env=environment())
    inbound = sorted((exchange / "pytorch-appendix-a" / "inbound").glob("alice+appendix_a+*"), key=submission_time)
    first, newest = submission_time(inbound[0]), submission_time(inbound[-1])
    assert len(inbound) == 2 and newest > first

    alice = course / "submitted" / "alice" / "appendix_a"
    plain = subprocess.run([sys.executable, "-m", "nbgrader", "collect", "appendix_a"], cwd=course, env=env,
                           capture_output=True, text=True)  # what the docs warn about: the old copy stays
    assert "Submission already exists" in plain.stdout + plain.stderr and submission_time(alice) == first

    done = run_block(NBGRADER_GRADE, course, env=env)
    assert "cheating attempt?" not in done.stdout + done.stderr
    assert submission_time(alice) == newest  # collected, graded and fed back: the resubmission
    assert submission_time(course / "feedback" / "alice" / "appendix_a") == newest
    by_student = grades(course / "grades.csv")
    assert by_student["alice"]["score"] == GRADED_POINTS and newest.startswith(str(by_student["alice"]["timestamp"]))
    assert by_student[user]["score"] == 0.0, by_student

    landed, page, assignments = open_formgrader(course, env, tmp_path / "jupyter")
    assert landed == "/formgrader/manage_assignments" and "Manage Assignments" in page, landed
    assert [(a["name"], a["num_submissions"]) for a in assignments] == [("appendix_a", 2)], assignments

    # A notebook added after students submitted: nothing tracked is deleted, every grade is kept.
    shutil.copy(REPO_ROOT / "source" / "appendix_a" / "03_autograd.ipynb", course / "source" / "appendix_a")
    done = run_block(NBGRADER_UPDATE, course, env=env)
    assert "new notebooks: 03_autograd" in done.stdout
    subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", "after.csv"], cwd=course, env=env,
                   check=True, capture_output=True)
    after = grades(course / "after.csv")
    assert after["alice"]["score"] == 30.0 and after["alice"]["max_score"] == 50.0, after
    autograde = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "appendix_a", "--force"],
                               cwd=course, env=env, capture_output=True, text=True)
    assert autograde.returncode == 0 and "ERROR" not in autograde.stdout + autograde.stderr, autograde.stderr[-3000:]


@pytest.mark.slow
def test_sharding_blocks(tmp_path):
    course = course_workspace(tmp_path / "course", ("01_setup", "02_tensors"))
    env = environment(AUTOGRADER_EXCHANGE=str(tmp_path / "exchange"))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "appendix_a", "--force"], cwd=course,
                   env=env, check=True, capture_output=True)  # "the gradebook must already hold the assignment"
    make_class(course / "submissions")
    run_block(SHARDING[0], course, env=env)
    run_block(SHARDING[1], course, env=env)
    merged = grades(course / "results" / "grades.csv")
    assert merged["alice"]["total"] == GRADED_POINTS and merged["bob"]["total"] == 0.0


@pytest.mark.slow
@pytest.mark.skipif(not ROOT, reason="the documented `sudo autograder ci` grades with strict isolation (root)")
def test_release_student_workflow_and_ci(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    done = run_block(RELEASE, course)  # release ../appendix-a-course, then git init/add/commit there
    released = tmp_path / "appendix-a-course"
    assert (released / ".git").is_dir() and (released / "exercises" / "appendix_a").is_dir()

    (released / ".venv").symlink_to(VENV_BIN.parent)
    done = run_block(STUDENT[0], released)
    assert "[OK]" in done.stdout
    done = run_block(STUDENT[1], released, expect=1)  # stubs: not implemented yet
    assert "not implemented yet" in done.stdout

    work = tmp_path / "pr"
    shutil.copytree(released, work / "base", symlinks=True)
    shutil.copytree(released, work / "head", symlinks=True)
    for stem in HANDED_IN:
        shutil.copy(SOLUTIONS / f"{stem}.ipynb", work / "head" / "exercises" / "appendix_a")
    shutil.copytree(SUITES, work / "suites" / "appendix_a")
    (work / "results").mkdir()
    for name, results in ((CI[0], work / "results" / "results.json"), (CI[1], work / "results.json")):
        done = run_block(name, work)
        assert json.loads(results.read_text())["score"]["points"] == GRADED_POINTS
        assert leaked(done.stdout + done.stderr) == []
