"""The released repository's workflows, run as written, in the install layout they use.

A release is built, then each of its workflows is run step by step by ``tests/actions_runner.py``:
every ``run:`` step executes as written with bash, as root, with its ``env:`` and ``if:`` evaluated
from a pull request's event, secrets and variables.  Only what GitHub's runner provides is stood in
for: ``actions/checkout`` copies the release (base), a student's head and the hidden suites;
``actions/setup-python`` puts a fresh virtual environment on ``PATH`` whose dependencies (torch and
the rest) are those of the test environment, so that the workflow's own install steps install the
grader into it, non-editable, as they do on GitHub; ``upload-artifact`` copies files; and ``gh``, the
GitHub API client, is a recording stand-in (there is no GitHub here).  Real ``sudo`` runs the grading
step as the workflow says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A
from autograder.grading import schema
from autograder.release import release
from tests.actions_runner import Runner, WorkflowRun
from tests.conftest import SOLUTIONS, SUITES
from tests.leaks import leaked
from tests.venvs import fresh_venv

ROOT = os.geteuid() == 0
HEAD_SHA = "89abcdef0123456789abcdef0123456789abcdef"
SECRET_KEY = "-----BEGIN OPENSSH PRIVATE KEY----- fake-deploy-key-for-the-workflow-test"
TOKEN = "ghs_fakeWorkflowTestToken0123456789"
RUNTIME_TOKEN = "fake-actions-runtime-token-7a1e"
SOLVED = ("01_setup", "02_tensors")
SUITES_REPOSITORY = "course/appendix-a-suites"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ROOT, reason="the workflow's grading step runs the grader with sudo, as root"),
    pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is not installed (apt-get install sudo)"),
    pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed (apt-get install jq)"),
]

# The GitHub API client: records each call; answers the comment listing with the canned comments.
GH_STAND_IN = r"""#!/usr/bin/env python3
import json, os, subprocess, sys
args = sys.argv[1:]
assert args[0] == "api", args
call = {"args": args}
if "--input" in args:
    with open(args[args.index("--input") + 1], encoding="utf-8") as handle:
        call["input"] = json.load(handle)
with open(os.environ["GH_STAND_IN_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(call) + "\n")
if "--method" not in args:
    canned = open(os.environ["GH_STAND_IN_COMMENTS"], encoding="utf-8").read()
    if "--jq" in args:
        canned = subprocess.run(["jq", "-r", args[args.index("--jq") + 1]], input=canned, text=True,
                                capture_output=True, check=True).stdout
    sys.stdout.write(canned)
"""


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "repo"
    release(out, spec=APPENDIX_A)
    return out


@pytest.fixture(scope="module")
def stand_in_python(tmp_path_factory) -> Path:
    """The setup-python stand-in: a fresh venv without the grader, its dependencies (pip included) borrowed."""
    return fresh_venv(tmp_path_factory.mktemp("setup-python") / "venv")


def student_head(root: Path, released: Path) -> Path:
    head = root / "student-head"
    shutil.copytree(released, head)
    for stem in SOLVED:
        shutil.copy(SOLUTIONS / f"{stem}.ipynb", head / "exercises" / "appendix_a" / f"{stem}.ipynb")
    return head


def run_workflow(root: Path, released: Path, python_bin: Path, *, with_suites: bool,
                 existing_comment: int | None = None) -> tuple[WorkflowRun, list[dict]]:
    head = student_head(root, released)
    bin_dir = root / "stand-ins"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(GH_STAND_IN)
    (bin_dir / "gh").chmod(0o755)
    comments = [{"id": 99, "user": {"login": "someone"}, "body": "nice work"}]
    if existing_comment is not None:
        comments.append({"id": existing_comment, "user": {"login": "github-actions[bot]"},
                         "body": "<!-- autograder:pull-request-grade -->\nold grade"})
    (root / "comments.json").write_text(json.dumps(comments))

    def checkout(given) -> Path:
        if given.get("repository"):
            assert given["repository"] == SUITES_REPOSITORY and given["ssh-key"] == SECRET_KEY, given
            return SUITES.parent  # the suites repository holds appendix_a/
        if given.get("ref"):
            assert given["ref"] == HEAD_SHA, given
            return head
        return released

    event = {"pull_request": {"number": 7, "title": "my solutions", "user": {"login": "student-7"},
                              "head": {"sha": HEAD_SHA, "repo": {"full_name": "student-7/appendix-a"}}}}
    contexts = {"github": {"event": event, "token": TOKEN, "repository": "course/appendix-a",
                           "event_name": "pull_request_target", "run_id": "4242",
                           "server_url": "https://github.com"},
                "secrets": {"SUITES_DEPLOY_KEY": SECRET_KEY} if with_suites else {},
                "vars": {"SUITES_REPOSITORY": SUITES_REPOSITORY} if with_suites else {}}
    base_env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(root),
                "LANG": "C.UTF-8", "GITHUB_REPOSITORY": "course/appendix-a", "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_RUN_ID": "4242", "ACTIONS_RUNTIME_TOKEN": RUNTIME_TOKEN,
                "GH_STAND_IN_LOG": str(root / "gh-calls.jsonl"), "GH_STAND_IN_COMMENTS": str(root / "comments.json")}
    runner = Runner(workflow=released / ".github" / "workflows" / "grade-pr.yml", root=root / "runner",
                    contexts=contexts, checkout=checkout, python_bin=python_bin, extra_path=(bin_dir,),
                    base_env=base_env)
    run = runner.run(event_name="pull_request_target")
    calls_file = root / "gh-calls.jsonl"
    calls = [json.loads(line) for line in calls_file.read_text().splitlines()] if calls_file.exists() else []
    return run, calls


def assert_succeeded(run: WorkflowRun) -> None:
    failed = [step for step in run.steps if step.ran and step.returncode != 0]
    assert not failed, "\n".join(f"{s.job}/{s.name} exited {s.returncode}:\n{s.stdout}\n{s.stderr}" for s in failed)
    assert run.job_results == {"grade": "success", "report": "success"}, run.job_results


def assert_nothing_secret_published(run: WorkflowRun, calls: list[dict]) -> None:
    published = "\n".join([run.log(), run.summary, json.dumps(run.job_outputs), json.dumps(calls)] +
                          [path.read_text(errors="replace") for path in run.artifacts.rglob("*") if path.is_file()])
    for secret in (SECRET_KEY, TOKEN, RUNTIME_TOKEN):
        assert secret not in published
    assert leaked(published) == []


def test_the_released_workflow_grades_a_pull_request_with_the_hidden_suites(released, stand_in_python, tmp_path):
    run, calls = run_workflow(tmp_path, released, stand_in_python, with_suites=True)
    assert_succeeded(run)
    assert run.step("Check out the hidden suites (private, read-only key)").ran
    # The grader came from the base checkout, installed (not editable) into the job's Python.
    installed = subprocess.run([str(stand_in_python / "python"), "-c", "import autograder; print(autograder.__file__)"],
                               capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert "site-packages" in installed and str(released) not in installed

    outputs = run.job_outputs["grade"]
    expected = sum(APPENDIX_A.notebook(stem).points for stem in SOLVED)
    assert outputs["graded"] == "true"
    assert outputs["score"] == str(expected) and outputs["max_score"] == str(APPENDIX_A.points), outputs
    assert f"**Score: {expected}/{APPENDIX_A.points}**" in run.summary
    assert outputs["comment"].startswith("<!-- autograder:pull-request-grade -->")
    assert "actions/runs/4242" in outputs["comment"]

    artifact = run.artifacts / "results" / "results.json"
    result = schema.read(artifact)
    assert result.points == expected and result.student == "student-7"
    assert json.loads(artifact.read_text())["instructor"] == {"grader_errors": [], "notes": []}  # a student view

    posts = [call for call in calls if "POST" in call["args"]]
    assert len(posts) == 1 and posts[0]["args"][-3].endswith("issues/7/comments")
    assert posts[0]["input"] == {"body": outputs["comment"]}
    assert_nothing_secret_published(run, calls)


def test_without_the_suites_secret_only_visible_checks_run_and_the_comment_is_updated(released, stand_in_python,
                                                                                      tmp_path):
    run, calls = run_workflow(tmp_path, released, stand_in_python, with_suites=False, existing_comment=555)
    assert_succeeded(run)
    assert not run.step("Check out the hidden suites (private, read-only key)").ran
    outputs = run.job_outputs["grade"]
    assert outputs["graded"] == "false" and outputs["score"] == ""
    assert "Hidden tests did not run here" in run.summary
    assert "Hidden tests did not run here" in outputs["comment"]
    patches = [call for call in calls if "PATCH" in call["args"]]
    assert len(patches) == 1 and patches[0]["args"][-3].endswith("issues/comments/555")
    assert patches[0]["input"] == {"body": outputs["comment"]}
    assert not [call for call in calls if "POST" in call["args"]]
    assert_nothing_secret_published(run, calls)


def test_every_released_workflow_is_run_by_a_test(released):
    workflows = sorted(path.name for path in (released / ".github" / "workflows").iterdir())
    assert workflows == ["grade-pr.yml"], ("a new released workflow needs a test here that runs it as written: "
                                           f"{workflows}")
