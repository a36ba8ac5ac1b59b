"""A notebook gets one CPU share, however many processes it starts: it cannot leave its session or raise its priority.

Speed itself is measured by ``benchmarks/cpu_fairness.py``, never asserted here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A, secret_paths
from autograder.grading.batch import grade_class
from autograder.grading.pool import GradingSetup
from autograder.sandbox import cgroups, cpu_share, seccomp
from autograder.sandbox.client import Sandbox, SandboxSettings
from autograder.sandbox.isolation import STRICT_PROTECTIONS, IsolationPlan
from autograder.sandbox.limits import Limits
from tests.conftest import SOLUTIONS, SUITES, write_variant
from tests.hostile.cpu import cpu_hog

ROOT = os.geteuid() == 0
KNOWN_ARCHITECTURE = seccomp.native_architecture() is not None
needs_filter = pytest.mark.skipif(not KNOWN_ARCHITECTURE, reason="no seccomp filter is known for this architecture")
LIMITS = Limits(cell_seconds=10.0, call_seconds=30.0, check_seconds=60.0)

# The notebook process itself leads its session already (setsid and setpgid would fail there anyway): the
# escapes are tried where they would work, in processes it starts.
ESCAPES = """
import os, subprocess, sys

REFUSED = 13
TRY_SETSID = "import os, sys\\ntry:\\n    os.setsid()\\nexcept PermissionError:\\n    sys.exit(13)"

def _in_a_forked_child(attempt):
    pid = os.fork()
    if pid == 0:
        try:
            attempt()
            os._exit(0)
        except PermissionError:
            os._exit(REFUSED)
        except BaseException:
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

def _error(attempt):
    try:
        attempt()
        return "allowed"
    except Exception as error:
        return type(error).__name__

def escapes():
    python = sys.executable
    return {
        "setsid_in_a_forked_child": _in_a_forked_child(os.setsid),
        "setpgid_in_a_forked_child": _in_a_forked_child(lambda: os.setpgid(0, 0)),
        "setsid_in_a_program_it_runs": subprocess.run([python, "-c", TRY_SETSID]).returncode,
        "subprocess_new_session": _error(lambda: subprocess.run([python, "-c", "pass"], start_new_session=True)),
        "subprocess_new_group": _error(lambda: subprocess.run([python, "-c", "pass"], process_group=0)),
        "nice_minus_5": _error(lambda: os.nice(-5)),
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "plain_subprocess": subprocess.run([python, "-c", "print(1)"], capture_output=True, text=True).stdout,
    }
"""


@pytest.fixture(scope="module")
def box():
    with Sandbox(limits=LIMITS, plan=IsolationPlan(mask_paths=secret_paths(suites_dir=SUITES))) as sandbox:
        yield sandbox


@needs_filter
def test_a_notebook_cannot_start_a_session_or_process_group_nor_lower_its_nice_value(box):
    process = box.open_notebook("escaper")
    try:
        assert process.run_cell(0, ESCAPES).status == "ok"
        tried = process.call_name("escapes")
    finally:
        process.close()
    assert tried == {
        "setsid_in_a_forked_child": 13, "setpgid_in_a_forked_child": 13,
        "setsid_in_a_program_it_runs": 13,  # the filter is inherited, across exec too
        "subprocess_new_session": "PermissionError", "subprocess_new_group": "PermissionError",
        "nice_minus_5": "PermissionError",
        "nice": cpu_share.NOTEBOOK_NICE,  # below the grader's priority, for good
        "plain_subprocess": "1\n",  # what notebooks do need still works
    }


def test_the_cpu_share_is_reported_with_how_or_why_not(box):
    notes = [note for note in box.protections.notes if note.startswith("CPU: ")]
    assert len(notes) == 1
    if box.protections.cpu_fair_share:
        assert "cpu.weight" in notes[0] or "autogroup" in notes[0]
    assert "cpu_fair_share" not in STRICT_PROTECTIONS  # documented in SECURITY.md: a slowdown, not a leak


def test_on_an_unknown_architecture_no_filter_is_installed_and_the_share_is_reported_missing():
    share = cpu_share.assess(cgroup_cpu=False, machine="riscv64")
    assert share.filter is None and share.fair is False
    assert "riscv64" in share.note
    pid = os.fork()
    if pid == 0:  # a notebook process confined with what was assessed: nice set, no filter
        try:
            cpu_share.confine(share)
            os.setsid()
            os._exit(0 if os.getpriority(os.PRIO_PROCESS, 0) == cpu_share.NOTEBOOK_NICE else 2)
        except BaseException:
            os._exit(1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    # A cgroup's cpu.weight holds without the filter.
    assert cpu_share.assess(cgroup_cpu=True, machine="riscv64").fair is True


def _marker() -> str:
    return "hog" + secrets.token_hex(5)


def _spinners(marker: str) -> dict[int, tuple[int, int]]:
    """pid -> (session id, nice value) of every process named ``marker``, as this machine's /proc shows them."""
    found = {}
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == marker:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                found[int(entry)] = (int(fields[3]), int(fields[16]))
        except (OSError, IndexError, ValueError):
            continue
    return found


@needs_filter
def test_a_cpu_hog_stays_one_session_costs_its_classmates_nothing_and_leaves_nothing(tmp_path):
    marker = _marker()
    class_dir = tmp_path / "class"
    hog = cpu_hog(spin_seconds=4, hold_seconds=4, processes=64, name=marker)
    write_variant(class_dir / "a_hog", "02_tensors", {}, (hog,))
    for name in ("b_classmate", "c_classmate"):
        (class_dir / name).mkdir(parents=True)
        shutil.copy(SOLUTIONS / "02_tensors.ipynb", class_dir / name)
    settings = SandboxSettings(limits=LIMITS, plan=IsolationPlan(mask_paths=secret_paths(suites_dir=SUITES)),
                               require=STRICT_PROTECTIONS if ROOT else ())
    setup = GradingSetup(assignment=APPENDIX_A.subset(["02_tensors"]), suites_dir=SUITES,
                         sandbox_settings=settings, seed=5)
    seen: dict[int, tuple[int, int]] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            seen.update(_spinners(marker))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = {result.student: result for result in grade_class(class_dir=class_dir, setup=setup, jobs=3)}
    finally:
        done.set()
        watcher.join()
    for name in ("a_hog", "b_classmate", "c_classmate"):  # the hog's own functions are the solution's
        notebook = results[name].notebook("02_tensors")
        assert notebook.points == notebook.max_points == 20, [c.message for c in notebook.checks if c.points == 0]
    assert len(seen) > 1, "the hog's processes were never seen running"
    sessions = {session for session, _ in seen.values()}
    assert len(sessions) == 1, f"the hog's processes sat in {len(sessions)} sessions (scheduler groups)"
    assert {nice for _, nice in seen.values()} == {cpu_share.NOTEBOOK_NICE}
    assert _spinners(marker) == {}


# ----------------------------------------------------------------------------- cgroups
# No writable cgroup v2 controllers exist on the machines these tests run on, so this part is checked by its
# file writes: a temporary directory stands in for the cgroup file system, and a stand-in for mkdir adds the
# interface files the kernel would make (the cpu ones only where the parent enabled the cpu controller).


@pytest.fixture
def cgroup_fs(tmp_path, monkeypatch):
    real_mkdir = os.mkdir

    def kernel_mkdir(path, mode=0o777, *, dir_fd=None):
        real_mkdir(path, mode, dir_fd=dir_fd)
        where = Path(f"/proc/self/fd/{dir_fd}") / path if dir_fd is not None else Path(path)
        files = ["cgroup.controllers", "cgroup.subtree_control", "cgroup.procs", "cgroup.kill",
                 "memory.max", "memory.swap.max", "pids.max"]
        if "+cpu" in (where.parent / "cgroup.subtree_control").read_text().split():
            files.append("cpu.weight")
        for name in files:
            (where / name).write_text("")

    monkeypatch.setattr(os, "mkdir", kernel_mkdir)

    def make(offered: str) -> Path:
        base = tmp_path / "grader.scope"
        real_mkdir(base)
        (base / "cgroup.controllers").write_text(offered)
        (base / "cgroup.subtree_control").write_text("")
        return base
    return make


def test_each_notebook_cgroup_gets_an_equal_cpu_weight_next_to_its_memory_and_process_limits(cgroup_fs):
    base = cgroup_fs("cpuset cpu io memory pids")
    parent, note = cgroups.open_parent(base=base)
    assert parent is not None and parent.cpu is True
    assert "CPU" in note
    parent.create("nb-1", memory_bytes=1 << 30, processes=128)
    parent.create("nb-2", memory_bytes=1 << 30, processes=128)
    for name in ("nb-1", "nb-2"):
        notebook = base / parent.name / name
        assert (notebook / "memory.max").read_text() == str(1 << 30)
        assert (notebook / "pids.max").read_text() == "128"
        assert (notebook / "cpu.weight").read_text() == "100"
    parent.close()


def test_without_the_cpu_controller_memory_and_process_limits_still_hold(cgroup_fs):
    base = cgroup_fs("memory pids")
    parent, note = cgroups.open_parent(base=base)
    assert parent is not None and parent.cpu is False
    assert "CPU" not in note
    parent.create("nb-1", memory_bytes=1 << 30, processes=128)
    notebook = base / parent.name / "nb-1"
    assert (notebook / "pids.max").read_text() == "128" and not (notebook / "cpu.weight").exists()
    assert cpu_share.assess(cgroup_cpu=parent.cpu, machine="riscv64").fair is False
    parent.close()
