"""Every attack in tests/hostile gains nothing, harms nothing, leaks nothing, and loses no one else's grade."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A, REPO_ROOT, secret_paths
from autograder.grading.results import Status
from autograder.grading.runner import grade_submission
from autograder.reporters.gradescope import to_gradescope
from autograder.reporters.text import details
from autograder.sandbox.client import Sandbox
from autograder.sandbox.isolation import IsolationPlan
from autograder.sandbox.limits import Limits
from tests.conftest import SOLUTIONS, SUITES, write_variant
from tests.hostile import ATTACKS
from tests.leaks import leaked

STEM = "02_tensors"
SECRET = "grader-secret-token-5b1e0c"
ROOT = os.geteuid() == 0
# Run in a fresh notebook after each attack: its scratch space is empty of what came before, and usable.
SCRATCH_PROBE = """
import glob, os
def scratch():
    left = sorted(glob.glob("filler-*") + glob.glob("/tmp/filler-*") + glob.glob("/dev/shm/filler-*"))
    try:
        with open("probe.bin", "wb") as handle:
            handle.write(bytes(64 << 20))
        os.remove("probe.bin")
        writable = True
    except OSError as error:
        writable = str(error)
    return {"writable": writable, "left_over": left[:5]}
"""


@pytest.fixture(scope="module")
def suite_copies():
    """World-readable copies of the suites and solutions outside the grader's checkout, as an admin might leave."""
    if not ROOT:
        yield None
        return
    parent = next((Path(p) for p in ("/srv", "/opt", "/mnt", "/var/lib") if os.path.isdir(p)), None)
    if parent is None:
        yield None
        return
    copy = Path(tempfile.mkdtemp(prefix="autograder-copy-", dir=parent))
    try:
        shutil.copytree(SUITES, copy / "suites")
        shutil.copytree(SOLUTIONS, copy / "solutions")
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield copy
    finally:
        shutil.rmtree(copy, ignore_errors=True)


@pytest.fixture(scope="module")
def quick_sandbox(tmp_path_factory):
    """Short limits so loops and sleeps cost seconds, not minutes."""
    limits = Limits(cell_seconds=3.0, call_seconds=15.0, check_seconds=30.0, memory_bytes=1 << 30)
    plan = IsolationPlan(mask_paths=secret_paths(suites_dir=SUITES))
    with Sandbox(limits=limits, plan=plan) as box:
        yield box


def fingerprint(*roots: Path) -> dict[str, str]:
    digests = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def grade(sandbox: Sandbox, submission: Path):
    result = grade_submission(submission=submission, student=submission.name,
                              assignment=APPENDIX_A.subset([STEM]), suites_dir=SUITES, sandbox=sandbox, seed=11)
    return result, result.notebook(STEM)


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.name for attack in ATTACKS])
def test_attack_gains_nothing_harms_nothing_and_leaks_nothing(attack, quick_sandbox, suite_copies, tmp_path,
                                                              monkeypatch, capfd):
    if attack.needs_root and not ROOT:
        pytest.skip("this guarantee needs root: a separate user, namespaces and masked files (see SECURITY.md)")
    monkeypatch.setenv("AUTOGRADER_SECRET_TOKEN", SECRET)
    grader_dir = tmp_path / "grader"
    grader_dir.mkdir()
    (grader_dir / "gradebook.db").write_bytes(b"SQLite format 3\x00 pretend gradebook")
    monkeypatch.chdir(grader_dir)
    other = tmp_path / "other-student"
    shutil.copytree(SOLUTIONS, other)
    protected = (REPO_ROOT / "autograder", SOLUTIONS, grader_dir, other)
    before = fingerprint(*protected)

    _, honest = grade(quick_sandbox, write_variant(tmp_path / "honest", STEM, attack.honest).parent)
    capfd.readouterr()
    result, hostile = grade(quick_sandbox, write_variant(tmp_path / "hostile", STEM, attack.honest, attack.cells).parent)
    printed = capfd.readouterr()

    assert hostile.points == honest.points, [c.message for c in hostile.checks if c.status is Status.FAILED]
    assert {c.name for c in hostile.checks if c.points == 0} == {c.name for c in honest.checks if c.points == 0}
    if attack.reason:
        assert any(attack.reason in problem for problem in hostile.problems), hostile.problems
    produced = "\n".join([json.dumps(to_gradescope(result)), *details(result, verbose=True),
                          printed.out, printed.err])
    assert leaked(produced) == []
    assert SECRET not in produced
    assert fingerprint(*protected) == before

    _, after = grade(quick_sandbox, other)
    assert after.points == after.max_points == 20, [c.message for c in after.checks if c.points == 0]
    probe = quick_sandbox.open_notebook("probe")
    try:
        assert probe.run_cell(0, SCRATCH_PROBE).status == "ok"
        assert probe.call_name("scratch") == {"writable": True, "left_over": []}
    finally:
        probe.close()
