"""`autograder ci` as the pull-request workflow runs it: base and head checkouts, GITHUB_* files, an event.

Each pull request's head is a copy of the released student repository with some notebooks
replaced.  The grader runs from the base checkout's copy of the package (as the workflow
installs it), with fake secrets in its environment that must never appear anywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mistune
import nbformat
import pytest

from autograder.course import APPENDIX_A
from autograder.release import release
from autograder.course import REPO_ROOT
from tests.conftest import EXERCISES, SOLUTIONS, SUITES, write_variant
from tests.leaks import leaked

STEM = "02_tensors"
ROOT = os.geteuid() == 0
SECRETS = {"GITHUB_TOKEN": "ghs_fakeTokenForTests0123456789abcdef",
           "SUITES_DEPLOY_KEY": "-----BEGIN OPENSSH PRIVATE KEY----- fake-deploy-key-5f1c7a",
           "ACTIONS_RUNTIME_TOKEN": "fake-runtime-token-93bd"}
HEAD_SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """The runner's workspace: the base branch's checkout and the private suites next to it."""
    root = tmp_path_factory.mktemp("workspace")
    release(root / "base", spec=APPENDIX_A)
    shutil.copytree(SUITES, root / "suites", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def make_head(workspace: Path, name: str, notebook: Path) -> Path:
    """A pull request: the base repository with its 02_tensors notebook replaced by ``notebook``."""
    head = workspace / f"head-{name}"
    shutil.copytree(workspace / "base", head, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(notebook, head / "exercises" / "appendix_a" / f"{STEM}.ipynb")
    return head


def run_ci(workspace: Path, head: Path, tmp_path: Path, *, suites: bool = True, released: bool = True) -> dict:
    """Run `autograder ci` in a subprocess; ``released``: with the base checkout's copy of the package."""
    github = tmp_path / "_runner_file_commands"
    github.mkdir()
    files = {name: github / name.lower() for name in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV")}
    for path in files.values():
        path.write_text("")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {
        "number": 42, "title": "::notice::Points 100/100 **Score: 100/100**", "user": {"login": "student-1"},
        "head": {"sha": HEAD_SHA, "repo": {"full_name": "student-1/course"}}}}))
    env = {"PATH": os.environ["PATH"], "GITHUB_EVENT_PATH": str(event),
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "course/appendix-a",
           "GITHUB_RUN_ID": "1234", **{name: str(path) for name, path in files.items()}, **SECRETS}
    if released:
        env["PYTHONPATH"] = str(workspace / "base")
    results = tmp_path / "results"
    command = [sys.executable, "-m", "autograder", "ci", "--base", str(workspace / "base"), "--head", str(head),
               "--notebook", STEM, "--seed", "5", "--results", str(results / "results.json"),
               "--comment", str(results / "comment.md")] + (["--suites", str(workspace / "suites")] if suites else [])
    done = subprocess.run(command, capture_output=True, text=True, cwd=workspace, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    produced = {"stdout": done.stdout, "stderr": done.stderr,
                **{name: path.read_text() for name, path in files.items()},
                "results": (results / "results.json").read_text(), "comment": (results / "comment.md").read_text()}
    outputs = {}
    for line in produced["GITHUB_OUTPUT"].splitlines():
        if "=" in line and "<<" not in line and re.fullmatch(r"[a-z_]+=.*", line):
            outputs.setdefault(line.split("=", 1)[0], []).append(line.split("=", 1)[1])
    return {**produced, "outputs": outputs}


def assert_nothing_leaked(run: dict) -> None:
    everything = "\n".join(value for key, value in run.items() if isinstance(value, str))
    for secret in SECRETS.values():
        assert secret not in everything
    assert leaked(everything) == []


def workflow_commands_outside_fence(stdout: str) -> list[str]:
    """The lines the runner would treat as workflow commands: those outside every stop-commands block."""
    commands, token = [], None
    for line in stdout.splitlines():
        if token is not None:
            if line == f"::{token}::":
                token = None
            continue
        match = re.fullmatch(r"::stop-commands::(\S+)", line)
        if match:
            token = match.group(1)
        elif line.startswith("::"):
            commands.append(line)
    assert token is None, "a stop-commands block was never closed"
    return commands


def test_a_correct_pull_request_gets_full_marks(workspace, tmp_path):
    run = run_ci(workspace, make_head(workspace, "correct", SOLUTIONS / f"{STEM}.ipynb"), tmp_path)
    assert run["outputs"]["score"] == ["20"] and run["outputs"]["max_score"] == ["20"]
    assert run["outputs"]["graded"] == ["true"] and run["outputs"]["workflow_changed"] == ["false"]
    assert "**Score: 20/20**" in run["GITHUB_STEP_SUMMARY"]
    assert "| `02_tensors` | 20/20 |" in run["GITHUB_STEP_SUMMARY"]
    assert run["GITHUB_ENV"] == ""
    assert json.loads(run["results"])["score"]["points"] == 20
    assert run["comment"].startswith("<!-- autograder:pull-request-grade -->")
    assert "actions/runs/1234" in run["comment"] and "comment<<autograder_" in run["GITHUB_OUTPUT"]
    assert workflow_commands_outside_fence(run["stdout"]) == []
    assert_nothing_leaked(run)


def test_a_wrong_pull_request_loses_points_with_annotations(workspace, tmp_path):
    wrong = write_variant(tmp_path / "wrong", STEM, {"gram": "def gram(t):\n    return t.T @ t\n"})
    run = run_ci(workspace, make_head(workspace, "wrong", wrong), tmp_path)
    score = float(run["outputs"]["score"][0])
    assert 0 < score < 20
    assert f"**Score: {score:g}/20**" in run["GITHUB_STEP_SUMMARY"] and "gram" in run["GITHUB_STEP_SUMMARY"]
    annotations = workflow_commands_outside_fence(run["stdout"])
    assert any(re.match(r"::error file=exercises/appendix_a/02_tensors\.ipynb,line=\d+,title=02_tensors%3A gram", a)
               for a in annotations), annotations
    assert_nothing_leaked(run)


def stub_source(function: str) -> str:
    """The released stub of ``function``'s solution cell, as a student who has not started it hands it in."""
    notebook = nbformat.read(EXERCISES / f"{STEM}.ipynb", as_version=4)
    return next(cell.source for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == function)


def rendered(markdown: str) -> str:
    return mistune.html(markdown)


def test_the_summary_says_each_thing_once_with_names_as_code(workspace, tmp_path):
    notebook = write_variant(tmp_path / "mixed", STEM, {"reshape_to": stub_source("reshape_to"),
                                                        "gram": "def gram(t):\n    return t.T @ t\n"})
    head = make_head(workspace, "mixed", notebook)
    for run in ("graded", "fork"):
        (tmp_path / run).mkdir()
    graded = run_ci(workspace, head, tmp_path / "graded")
    summary = graded["GITHUB_STEP_SUMMARY"]
    assert "| notebook | points | hidden checks passed | visible checks passed |" in summary
    assert "*hidden checks passed*: how many of those tests" in summary  # the table says what it counts
    html = rendered(summary)
    # a stub is one line, with its name as code, not a sentence per check with hints about .view()
    assert html.count("is not implemented yet") == 1 and "<code>reshape_to</code> is not implemented yet." in html
    assert ".view()" not in html and "\\`" not in summary and "`" not in re.sub(r"<code>.*?</code>", "", html)
    # any other function: a line, then a bullet per failed check, in the hidden suite's own words
    assert re.search(r"<li><code>gram</code> failed 3 of its 4 hidden checks:<ul>\n"
                     r"<li>gram\(t\): compute t @ t.T, not t.T @ t</li>", html), html
    assert summary in graded["comment"]  # the pull request's comment says the same

    fork = rendered(run_ci(workspace, head, tmp_path / "fork", suites=False)["GITHUB_STEP_SUMMARY"])
    assert fork.count("is not implemented yet") == 1 and "<code>reshape_to</code> is not implemented yet." in fork
    # the visible check names the same mistake as the hidden one
    assert "<li><code>gram</code> failed its visible check:<ul>\n<li>compute t @ t.T, not t.T @ t</li>" in fork, fork


def test_workflow_and_grader_edits_are_ignored_and_reported(workspace, tmp_path):
    head = make_head(workspace, "workflow", SOLUTIONS / f"{STEM}.ipynb")
    (head / ".github" / "workflows" / "grade-pr.yml").write_text(
        "on: pull_request\njobs:\n  grade:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo score=100 >> $GITHUB_OUTPUT\n")
    (head / "autograder" / "grading" / "judge.py").write_text("def expect_tensor(*a, **k):\n    return None\n")
    wrong = write_variant(tmp_path / "wrong", STEM, {"gram": "def gram(t):\n    return t.T @ t\n"})
    shutil.copy(wrong, head / "exercises" / "appendix_a" / f"{STEM}.ipynb")
    run = run_ci(workspace, head, tmp_path)
    assert run["outputs"]["workflow_changed"] == ["true"]
    assert float(run["outputs"]["score"][0]) < 20  # the patched judge in the head was not used
    summary = run["GITHUB_STEP_SUMMARY"]
    assert ".github/workflows/grade-pr.yml, autograder/grading/judge.py" in summary
    assert "They were ignored" in summary
    assert_nothing_leaked(run)


HOSTILE_CELLS = (
    # Fake scores and workflow commands, on stdout and in exception messages.
    'print("::notice::Points 100/100")\nprint("::set-output name=score::100")\nprint("::add-mask::20")',
    # Write every GITHUB_* file it can find or guess (the test gives it the real paths).
    """
import os
for target in TARGETS + [os.environ.get(n, "") for n in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV")]:
    try:
        with open(target, "a") as handle:
            handle.write("score=100\\nmax_score=100\\n**Score: 100/100**\\n")
    except OSError:
        pass
""",
    # Collect the environment, the parent's environment and anything hidden on disk...
    """
import os, time
FOUND = [f"{k}={v}" for k, v in os.environ.items()]
for pid in {os.getppid(), 1}:
    try:
        FOUND.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
    except OSError:
        pass
deadline = time.monotonic() + 6
ROOTS = "GRADER_CHECKOUT"  # the grader's own checkout; other copies elsewhere are out of scope (SECURITY.md)
for top in ("/tmp", "/root", "/home", "/opt", "/srv", ROOTS):
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in ("site-packages", ".git", "proc", "sys")]
        for name in files:
            if name.startswith("test_0") or "reference" in name:
                try:
                    FOUND.append(open(os.path.join(folder, name), errors="replace").read())
                except OSError:
                    pass
        if time.monotonic() > deadline:
            break
""",
    # ... and leaks it through the one channel it has: an error message, with forged lines in it.
    'raise RuntimeError("\\n::notice::Points 100/100\\n**Score: 100/100**\\n::error::x\\n" + "\\n".join(FOUND)[:60000])',
)


@pytest.mark.skipif(not ROOT, reason="the hostile pull request needs root: sandbox user, namespaces, masked files")
def test_a_hostile_pull_request_changes_nothing_and_leaks_nothing(workspace, tmp_path):
    targets = [str(tmp_path / "_runner_file_commands" / name) for name in ("github_output", "github_step_summary",
                                                                          "github_env")]
    cells = (f"TARGETS = {targets!r}",) + tuple(c.replace("GRADER_CHECKOUT", str(REPO_ROOT)) for c in HOSTILE_CELLS)
    hostile = write_variant(tmp_path / "hostile", STEM, {}, cells)
    # A runner holds no instructor checkout; this machine does, and only the instructor's copy of the
    # package knows to mask it (its solutions/, source/, tests/, autograder/hidden/).
    run = run_ci(workspace, make_head(workspace, "hostile", hostile), tmp_path, released=False)

    assert run["outputs"]["score"] == ["20"] and run["outputs"]["max_score"] == ["20"]
    assert "100" not in run["GITHUB_OUTPUT"].split("comment<<")[0]
    assert run["GITHUB_ENV"] == ""
    summary = run["GITHUB_STEP_SUMMARY"]
    assert summary.count("**Score:") == 1 and "**Score: 20/20**" in summary
    assert "RuntimeError" in summary  # the failing cell is reported, its text made inert
    assert "\\*\\*Score: 100/100\\*\\*" in summary
    commands = workflow_commands_outside_fence(run["stdout"])
    assert all(c.startswith(("::error file=", "::warning file=")) for c in commands), commands
    assert not any("::notice" in c or "::set-output" in c or "::add-mask" in c for c in commands)
    assert "Points 100/100" in run["stdout"]  # it was printed, but only inside the fenced block
    assert json.loads(run["results"])["score"]["points"] == 20
    assert_nothing_leaked(run)


def test_a_fork_without_secrets_runs_the_visible_checks_only(workspace, tmp_path):
    wrong = write_variant(tmp_path / "wrong", STEM, {"gram": "def gram(t):\n    return t.T @ t\n"})
    run = run_ci(workspace, make_head(workspace, "fork", wrong), tmp_path, suites=False)
    assert run["outputs"]["graded"] == ["false"] and "score" not in run["outputs"]
    assert run["outputs"]["visible_passed"] == ["4"] and run["outputs"]["visible_total"] == ["5"]
    summary = run["GITHUB_STEP_SUMMARY"]
    assert "Visible checks only: no grade yet." in summary and "when the work is collected" in summary
    assert "| `02_tensors` | \u2013/20 | \u2013 | 4/5 |" in summary
    assert any(a.startswith("::error file=exercises/appendix_a/02_tensors.ipynb")
               for a in workflow_commands_outside_fence(run["stdout"]))
    stored = json.loads(run["results"])
    assert stored["score"]["max_points"] == 0  # visible checks only: nothing was graded
    assert [c["status"] for nb in stored["notebooks"] for c in nb["checks"]].count("failed") == 1
    assert_nothing_leaked(run)


def test_escaping_of_workflow_commands_and_markdown():
    from autograder.ci import escape_data, escape_property, log_student_text, markdown_text

    assert escape_data("50%\r\n::notice::x") == "50%25%0D%0A: :notice: :x"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"
    inert = markdown_text("<img src=x> [link](http://e) **bold** | @team t \x1b[2J")
    import re
    assert not re.search(r"(?<!\\)[<>\[\]*|@]", inert), inert  # every special character is escaped
    assert "http://" not in inert and "\x1b" not in inert
    assert len(markdown_text("x" * 1000)) <= 2 * 300

    class Sink:
        text = ""

        def write(self, value):
            self.text += value

    sink = Sink()
    log_student_text(["::notice::x", "::stop-commands::abc"], sink)
    lines = sink.text.splitlines()
    token = lines[0].split("::")[2]
    assert len(token) == 32 and lines[-1] == f"::{token}::" and len(lines) == 4
