"""Notebooks are isolated from each other and from the machine: users, PID namespaces, scratch, file allow-list.

Several submissions go through one sandbox (or one class run) here, an attacker
next to honest students; the honest ones keep full marks and nothing of the
attacker outlives the run.  These guarantees need root (see SECURITY.md).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A, REPO_ROOT, secret_paths
from autograder.grading.batch import grade_class
from autograder.grading.pool import GradingSetup
from autograder.grading.runner import grade_submission
from autograder.sandbox.client import Sandbox, SandboxSettings
from autograder.sandbox.isolation import UID_BASE, IsolationPlan
from autograder.sandbox.limits import Limits
from tests.conftest import SOLUTIONS, SUITES, write_variant
from tests.hostile import FILL_SCRATCH, self_repairing

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="users, namespaces and the file allow-list need root")

STRICT = ("unprivileged_user", "separate_users", "process_namespace", "private_scratch", "filesystem_allowlist",
          "hidden_files_masked", "network_isolated")
LIMITS = Limits(cell_seconds=10.0, call_seconds=30.0, check_seconds=60.0)


def _marker() -> str:
    return "ag" + secrets.token_hex(6)  # a process name (at most 15 characters) no one else uses


def detached(marker: str, body: str, *, seconds: int) -> str:
    """A cell that leaves a detached process (double fork, setsid where allowed) named ``marker`` running ``body``."""
    return f"""
import ctypes, glob, os, signal, time
def _loop(until):
    ctypes.CDLL(None).prctl(15, {marker.encode()!r}, 0, 0, 0)
    while time.time() < until:
{body}
        time.sleep(0.02)
    os._exit(0)
if os.fork() == 0:
    try:
        os.setsid()
    except PermissionError:  # refused to notebooks (a session is a scheduler group): the double fork still detaches
        pass
    if os.fork() == 0:
        _loop(time.time() + {seconds})
    os._exit(0)
time.sleep(0.3)
"""


def processes_named(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == marker:
                found.append(int(entry))
        except OSError:
            continue
    return found


def processes_of_uids(uids: range) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid in uids:
                found.append(int(entry))
        except OSError:
            continue
    return found


def gone_soon(probe, seconds: float = 5.0) -> list:
    deadline = time.monotonic() + seconds
    while (left := probe()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture(scope="module")
def strict():
    plan = IsolationPlan(mask_paths=secret_paths(suites_dir=SUITES))
    with Sandbox(limits=LIMITS, plan=plan, require=STRICT) as box:
        yield box


@pytest.fixture
def outside_copy():
    """A world-readable copy of the suites and solutions outside the grader's checkout and outside /tmp."""
    parent = next((Path(p) for p in ("/srv", "/opt", "/mnt", "/var/lib") if os.path.isdir(p)), None)
    if parent is None:
        pytest.skip("no directory outside /tmp to place a copy in")
    copy = Path(tempfile.mkdtemp(prefix="autograder-copy-", dir=parent))
    try:
        shutil.copy(SUITES / "test_02_tensors.py", copy / "test_02_tensors.py")
        shutil.copy(SOLUTIONS / "02_tensors.ipynb", copy / "02_tensors.ipynb")
        for path in (copy, *copy.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield copy
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def test_strict_protections_are_all_active_as_root(strict):
    protections = strict.protections
    assert [name for name in STRICT if name in protections.missing()] == []
    assert any("rlimits" in note or "cgroup" in note for note in protections.notes)


def test_each_notebook_is_pid_1_of_its_own_namespace_with_a_user_and_scratch_of_its_own(strict):
    probe = """
import os
def facts():
    return {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
            "cwd": os.getcwd(), "processes": sorted(p for p in os.listdir("/proc") if p.isdigit()),
            "tmp_owner": os.stat("/tmp").st_uid, "tmp_mode": oct(os.stat("/tmp").st_mode & 0o777),
            "tmp": sorted(os.listdir("/tmp"))}
"""
    first, second = strict.open_notebook("a"), strict.open_notebook("b")
    try:
        for process in (first, second):
            assert process.run_cell(0, probe).status == "ok"
        one, two = first.call_name("facts"), second.call_name("facts")
    finally:
        first.close()
        second.close()
    for facts in (one, two):
        assert facts["pid"] == 1 and facts["processes"] == ["1"]
        assert facts["uid"] == facts["gid"] >= UID_BASE and facts["groups"] == []
        assert facts["tmp_owner"] == facts["uid"] and facts["tmp_mode"] == "0o700"
        # Empty, but for the way to the grader's package when its checkout lies under /tmp (a CI clone).
        assert facts["cwd"] == "/tmp" and facts["tmp"] in ([], [REPO_ROOT.relative_to("/tmp").parts[0]]
                                                           if REPO_ROOT.is_relative_to("/tmp") else [])
    assert one["uid"] != two["uid"]


def test_a_detached_killer_in_a_class_costs_the_honest_students_nothing_and_does_not_outlive_the_run(tmp_path):
    marker = _marker()
    class_dir = tmp_path / "class"
    write_variant(class_dir / "a_attacker", "02_tensors", {}, (self_repairing(name=marker, seconds=40),))
    for name in ("b_honest", "c_honest"):
        (class_dir / name).mkdir(parents=True)
        shutil.copy(SOLUTIONS / "02_tensors.ipynb", class_dir / name)
    settings = SandboxSettings(limits=LIMITS, plan=IsolationPlan(mask_paths=secret_paths(suites_dir=SUITES)),
                               require=STRICT)
    setup = GradingSetup(assignment=APPENDIX_A.subset(["02_tensors"]), suites_dir=SUITES,
                         sandbox_settings=settings, seed=5)
    results = {result.student: result for result in grade_class(class_dir=class_dir, setup=setup, jobs=2)}
    for name in ("b_honest", "c_honest"):
        notebook = results[name].notebook("02_tensors")
        assert notebook.points == notebook.max_points == 20, [c.message for c in notebook.checks if c.points == 0]
    assert gone_soon(lambda: processes_named(marker)) == []


def test_nothing_a_notebook_started_survives_its_sandbox():
    marker = _marker()
    with Sandbox(limits=LIMITS, plan=IsolationPlan(), require=STRICT) as box:
        process = box.open_notebook("leaver")
        assert process.run_cell(0, detached(marker, "        pass", seconds=600)).status == "ok"
        assert process.run_cell(1, "import os\ndef me():\n    return os.getuid()").status == "ok"
        uid = process.call_name("me")
        assert processes_named(marker)  # it is running
        process.close()  # ends its namespace: the detached process goes with it
        assert gone_soon(lambda: processes_named(marker)) == []
        process = box.open_notebook("leaver-again")
        assert process.run_cell(0, detached(marker, "        pass", seconds=600)).status == "ok"
    # the sandbox closed with the notebook still open
    assert gone_soon(lambda: processes_named(marker)) == []
    assert gone_soon(lambda: processes_of_uids(range(uid, uid + 1))) == []


def test_a_full_scratch_does_not_reach_the_next_notebook(strict, seed):
    attacker = strict.open_notebook("filler")
    report = attacker.run_cell(0, FILL_SCRATCH, timeout=60)
    assert report.status == "ok", report.message
    attacker.close()
    result = grade_submission(submission=SOLUTIONS, student="next", assignment=APPENDIX_A.subset(["04_mlp"]),
                              suites_dir=SUITES, sandbox=strict, seed=seed)
    notebook = result.notebook("04_mlp")
    assert notebook.points == notebook.max_points, [c.message for c in notebook.checks if c.points == 0]


def test_notebooks_cannot_read_change_or_signal_each_other(strict):
    token = secrets.token_hex(16)
    victim, attacker = strict.open_notebook("victim"), strict.open_notebook("attacker")
    try:
        assert victim.run_cell(0, f"""
import os, torch
torch.save({{"token": {token!r}}}, "weights.pth")
def where():
    return os.path.abspath("weights.pth")
def check():
    return torch.load("weights.pth")["token"], oct(os.stat(".").st_mode & 0o777)
""").status == "ok"
        path = victim.call_name("where")
        assert attacker.run_cell(0, """
import glob, os, signal
def attack(path, pid):
    done = {"read": None, "wrote": False, "chmod": False, "killed": False}
    candidates = [path] + glob.glob("/tmp/*/*.pth") + glob.glob("/proc/[0-9]*/cwd/*.pth")
    for candidate in candidates:
        if os.path.realpath(candidate) == os.path.realpath("weights.pth"):
            continue
        try:
            done["read"] = open(candidate, "rb").read()
        except OSError:
            pass
        try:
            open(candidate, "wb").write(b"tampered")
            done["wrote"] = True
        except OSError:
            pass
        try:
            os.chmod(os.path.dirname(candidate), 0o500)
            done["chmod"] = True
        except OSError:
            pass
    try:
        os.kill(pid, signal.SIGKILL)
        done["killed"] = True
    except OSError:
        pass
    return done
""").status == "ok"
        done = attacker.call_name("attack", path, victim.pid)
        assert done["wrote"] is False and done["chmod"] is False and done["killed"] is False
        assert token.encode() not in (done["read"] or b"")
        assert victim.call_name("check") == (token, "0o700")
    finally:
        victim.close()
        attacker.close()


def test_copies_of_the_suites_outside_the_allow_list_cannot_be_read(strict, outside_copy):
    process = strict.open_notebook("reader")
    try:
        assert process.run_cell(0, """
import os
def read(paths):
    found = {}
    for path in paths:
        try:
            found[path] = open(path, errors="replace").read()[:200] if os.path.isfile(path) else \
                "listed: " + ", ".join(sorted(os.listdir(path)))
        except OSError as error:
            found[path] = type(error).__name__
    return found
""").status == "ok"
        paths = [str(outside_copy / "test_02_tensors.py"), str(outside_copy / "02_tensors.ipynb"), str(outside_copy)]
        found = process.call_name("read", paths)
    finally:
        process.close()
    assert set(found.values()) <= {"FileNotFoundError", "PermissionError"}, found


def test_the_checkout_around_the_package_is_unreadable_even_without_masks():
    """As with a non-editable install, where nothing under the instructor's checkout is on the mask list."""
    with Sandbox(limits=LIMITS, plan=IsolationPlan(mask_paths=()), require=STRICT) as box:
        process = box.open_notebook("reader")
        assert process.run_cell(0, """
import os
def read(paths):
    found = {}
    for path in paths:
        try:
            found[path] = open(path, errors="replace").read()[:200]
        except OSError as error:
            found[path] = type(error).__name__
    return found
""").status == "ok"
        paths = [str(SOLUTIONS / "02_tensors.ipynb"), str(REPO_ROOT / "tests" / "conftest.py"),
                 str(SUITES / "test_02_tensors.py"), str(REPO_ROOT / "README.md")]
        found = process.call_name("read", paths)
        process.close()
    assert set(found.values()) <= {"FileNotFoundError", "PermissionError"}, found


def test_torch_distributed_runs_on_loopback_and_nothing_else_is_reachable(strict):
    process = strict.open_notebook("distributed")
    try:
        report = process.run_cell(0, """
import socket
import multiprocessing as mp
import torch
import torch.distributed as dist

dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29500", rank=0, world_size=1)
dist.destroy_process_group()

def rank_main(rank, world, queue):
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29511", rank=rank, world_size=world)
    total = torch.tensor([float(rank + 1)])
    dist.all_reduce(total)
    queue.put((rank, total.item()))
    dist.destroy_process_group()

def three_ranks():
    context = mp.get_context("fork")
    queue = context.Queue()
    ranks = [context.Process(target=rank_main, args=(rank, 3, queue)) for rank in range(3)]
    for rank in ranks:
        rank.start()
    sums = sorted(queue.get(timeout=60) for _ in ranks)
    for rank in ranks:
        rank.join(30)
    return sums, [rank.exitcode for rank in ranks]

def outside():
    try:
        socket.create_connection(("10.0.0.1", 80), timeout=1)
        return "connected"
    except OSError as error:
        return type(error).__name__
""", timeout=60)
        assert report.status == "ok", report.message
        assert process.call_name("three_ranks") == ([(0, 6.0), (1, 6.0), (2, 6.0)], [0, 0, 0])
        assert process.call_name("outside") != "connected"
    finally:
        process.close()
