"""The sandboxed notebook process: limits, crashes and isolation, against the real engine."""

from __future__ import annotations

import os

import pytest
import torch

from autograder.sandbox.client import Sandbox
from autograder.sandbox.errors import CallTimeout, ChildDied, MissingName, StudentError
from autograder.sandbox.limits import Limits
from tests.conftest import SUITES

ROOT = os.geteuid() == 0


@pytest.fixture
def notebook(sandbox):
    process = sandbox.open_notebook("probe")
    yield process
    process.close()


def test_cells_keep_going_after_errors_like_nbgrader(notebook):
    assert notebook.run_cell(0, "x = 1/0").status == "error"
    assert notebook.run_cell(1, "def double(t):\n    return t * 2").status == "ok"
    result = notebook.call_name("double", torch.tensor([1, 2]))
    assert torch.equal(result, torch.tensor([2, 4]))


def test_magics_and_shell_escapes_are_skipped(notebook):
    assert notebook.run_cell(0, "%matplotlib inline\n!pip install nothing\nvalue = 3").status == "ok"
    assert notebook.run_cell(1, "def value_of():\n    return value").status == "ok"
    assert notebook.call_name("value_of") == 3


def test_a_cell_past_its_time_is_interrupted_and_later_cells_run(sandbox):
    limits = Limits(cell_seconds=1.0)
    box = Sandbox(limits=limits, plan=sandbox.plan)
    with box:
        process = box.open_notebook("loop")
        report = process.run_cell(0, "while True:\n    pass")
        assert report.status == "timeout"
        assert "1 s time limit" in report.message
        assert process.run_cell(1, "ok = True").status == "ok"
        process.close()


def test_a_cell_that_ignores_the_interrupt_is_killed_with_a_reason(sandbox):
    with Sandbox(limits=Limits(cell_seconds=0.5), plan=sandbox.plan) as box:
        process = box.open_notebook("stubborn")
        report = process.run_cell(0, "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                     "time.sleep(10**6)")
        assert report.status == "timeout"
        assert "process was stopped" in report.message
        assert not process.alive


def test_memory_bomb_gets_a_precise_reason(notebook):
    report = notebook.run_cell(6, "hog = bytearray(64 << 30)")
    assert report.status == "memory"
    assert report.message == "memory limit of 2 GiB exceeded while running cell 7"


def test_sys_exit_is_an_error_of_its_cell_only(notebook):
    assert notebook.run_cell(0, "import sys; sys.exit(3)").status == "exit"
    assert notebook.run_cell(1, "y = 2").status == "ok"


def test_os_exit_is_reported_as_the_process_ending(notebook):
    report = notebook.run_cell(2, "import os; os._exit(7)")
    assert report.status == "died"
    assert "exited with status 7 while running cell 3" in report.message  # a cell sees no hidden input
    with pytest.raises(ChildDied):
        notebook.call_name("anything")


def test_output_flood_is_truncated_with_a_marker(notebook):
    report = notebook.run_cell(0, "print('x' * (50 << 20))")
    assert report.status == "ok"
    assert len(report.output) < 70_000
    assert "output truncated" in report.output


def test_student_exceptions_come_back_as_data_with_student_frames_only(notebook):
    notebook.run_cell(4, "def broken(t):\n    return t.foo")
    with pytest.raises(StudentError) as caught:
        notebook.call_name("broken", torch.ones(1))
    assert caught.value.exc_type == "AttributeError"
    assert caught.value.where == ("cell 5, line 2, in broken",)


def test_missing_names_and_stubs_have_friendly_messages(notebook):
    with pytest.raises(MissingName, match="`gram` is not defined in probe.ipynb"):
        notebook.call_name("gram", torch.ones(1))
    notebook.run_cell(0, "def gram(t):\n    raise NotImplementedError()")
    with pytest.raises(StudentError, match="`gram` is not implemented yet"):
        notebook.call_name("gram", torch.ones(1))


def test_a_call_past_its_time_is_stopped(sandbox):
    with Sandbox(limits=Limits(call_seconds=0.5), plan=sandbox.plan) as box:
        process = box.open_notebook("slow")
        process.run_cell(0, "def slow():\n    while True:\n        pass\ndef size(s):\n    return len(s)")
        with pytest.raises(CallTimeout, match="did not finish within the 0.5 s limit"):
            process.call_name("slow")
        assert process.call_name("size", "abc") == 3  # the process survives a soft timeout
        process.close()


def test_only_data_crosses_back(notebook):
    notebook.run_cell(0, "import torch\nclass Sneaky(torch.Tensor):\n    pass\n"
                         "def make():\n    return torch.ones(2).as_subclass(Sneaky), torch.nn.Linear(2, 2)")
    tensor, module = notebook.call_name("make")
    assert type(tensor) is torch.Tensor
    assert tensor._autograder_meta.type_name.endswith("Sneaky")
    assert module.type_name == "torch.nn.modules.linear.Linear"  # a reference, not the object


def test_environment_is_scrubbed(notebook, monkeypatch):
    notebook.run_cell(0, "import os\ndef env():\n    return dict(os.environ)")
    environment = notebook.call_name("env")
    assert set(environment) <= {"HOME", "TMPDIR", "LANG", "PATH"}


@pytest.mark.skipif(not ROOT, reason="privilege drop and namespaces need root")
def test_student_code_is_unprivileged_and_cannot_see_secrets(notebook):
    suite = SUITES / "test_02_tensors.py"
    notebook.run_cell(0, f"""
import os, socket
def probe():
    facts = {{"uid": os.getuid()}}
    try:
        facts["suite"] = open({str(suite)!r}).read()[:50]
    except OSError as error:
        facts["suite"] = type(error).__name__
    facts["parent_visible"] = os.path.exists(f"/proc/{{os.getppid()}}/cmdline")
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1)
        facts["network"] = True
    except OSError:
        facts["network"] = False
    return facts
""")
    facts = notebook.call_name("probe")
    assert facts["uid"] != 0
    assert facts["suite"] in ("FileNotFoundError", "PermissionError")
    assert facts["parent_visible"] is False
    assert facts["network"] is False


def test_a_weaker_sandbox_than_required_refuses_to_start():
    from autograder.sandbox.errors import SandboxUnavailable
    from autograder.sandbox.isolation import IsolationPlan

    # No sandbox user stands in for a machine without root: only process-level protections.
    box = Sandbox(plan=IsolationPlan(user=None), require=("unprivileged_user", "hidden_files_masked"))
    with pytest.raises(SandboxUnavailable, match="cannot provide the required protections: "
                                                 "unprivileged_user, hidden_files_masked"):
        box.start()
    with Sandbox(plan=IsolationPlan(user=None)) as weak:
        # A fair CPU share depends on the kernel's scheduler (and on root: no sandbox user keeps it), not only on this.
        assert [name for name in weak.protections.missing() if name != "cpu_fair_share"] == [
            "unprivileged_user", "separate_users", "process_namespace", "private_scratch", "filesystem_allowlist",
            "hidden_files_masked", "private_tmp", "process_table_hidden", "network_isolated", "cgroup_limits"]


def test_a_notebook_holds_no_connection_to_the_warm_process_even_when_shared(sandbox):
    """A worker's joined connection works, and no notebook process can reach the warm process."""
    shared = sandbox.share()
    joined = Sandbox.joining(shared, limits=sandbox.limits, plan=sandbox.plan)
    try:
        assert joined.protections == sandbox.protections
        for owner in (sandbox, joined):
            process = owner.open_notebook("02_tensors")
            report = process.run_cell(0, (
                "import os, stat\n"
                "def sockets():\n"
                "    found = []\n"
                "    for fd in range(1024):\n"
                "        try:\n"
                "            if stat.S_ISSOCK(os.fstat(fd).st_mode):\n"
                "                found.append(fd)\n"
                "        except OSError:\n"
                "            pass\n"
                "    return found\n"))
            assert report.status == "ok", report.message
            assert len(process.call_name("sockets")) == 1  # its own line to the grader, nothing else
            process.close()
    finally:
        joined.close()
    process = sandbox.open_notebook("02_tensors")  # closing the joined connection left the owner working
    assert process.run_cell(0, "x = 1").status == "ok"
    process.close()


# ---------------------------------------------------------------- the codec on its own


def _round_trip(value, **budgets):
    from autograder.sandbox import codec

    blob = codec.dumps(codec.encode(value, ref_for=None))
    return codec.decode(codec.loads(blob, **budgets), resolve_ref=None)


def test_codec_reading_stops_at_the_deadline():
    import time

    from autograder.sandbox import codec

    blob = codec.dumps(codec.encode([torch.ones(3), "text"], ref_for=None))
    with pytest.raises(codec.DecodeTimeout):
        codec.loads(blob, deadline=time.monotonic() - 1)
    tree = codec.loads(blob)
    with pytest.raises(codec.DecodeTimeout):
        codec.decode(["l", [["p", index] for index in range(5000)]], resolve_ref=None,
                     deadline=time.monotonic() - 1)
    assert codec.decode(tree, resolve_ref=None)[1] == "text"


def test_codec_carries_requires_grad_as_data_and_the_grader_gets_no_graph():
    from autograder.sandbox import codec

    leaf = torch.ones(2, requires_grad=True)
    sent = codec.dumps(codec.encode([leaf, leaf * 3, torch.ones(2)], ref_for=None))
    child_side = codec.decode(codec.loads(sent), resolve_ref=None, restore_requires_grad=True)
    assert [t.requires_grad and t.is_leaf for t in child_side] == [True, True, False]
    grader_side = codec.decode(codec.loads(sent), resolve_ref=None)
    assert not any(t.requires_grad for t in grader_side)
    assert [codec.tensor_meta(t).requires_grad for t in grader_side] == [True, True, False]
    assert [codec.tensor_meta(t).grad_fn for t in grader_side] == [None, "MulBackward0", None]


def test_codec_sends_views_as_their_own_elements():
    big = torch.arange(1 << 16)
    expanded, corner, meta = _round_trip([torch.ones(1).expand(1000), big[10:12], torch.empty(10 ** 9, device="meta")])
    assert expanded.stride() == (1,) and expanded.untyped_storage().nbytes() == 4000
    assert corner.tolist() == [10, 11] and corner.untyped_storage().nbytes() == 16
    assert meta.device.type == "meta" and meta.shape == (10 ** 9,)  # no data: outside every budget


def test_codec_budgets_refuse_before_copying():
    from autograder.sandbox import codec

    with pytest.raises(codec.CodecError, match="elements, over the limit of 10"):
        _round_trip(torch.zeros(11), max_elements=10)
    with pytest.raises(codec.CodecError, match="bytes unpacked, over the limit of 40"):
        _round_trip(torch.zeros(11), max_tensor_bytes=40)
    assert _round_trip(torch.zeros(10), max_elements=10, max_tensor_bytes=40).shape == (10,)


def test_json_shape_is_judged_without_parsing():
    from autograder.sandbox.wire import json_shape_problem

    def problem(text: bytes, depth: int = 3, nodes: int = 10):
        return json_shape_problem(text, max_bytes=1000, max_depth=depth, max_nodes=nodes)

    assert problem(b'[["p", "[[[[{{{{"], ["p", "]]]]\\\\\\"]]"]]') is None  # brackets in strings are text
    assert problem(b"[[[1]]]") is None and "3 levels" in problem(b"[[[[1]]]]")
    assert "levels" in problem(b"[[[1]]") and "levels" in problem(b"[{]}")  # unbalanced: not JSON
    assert problem(b"[" + b"0," * 8 + b"0]") is None  # a list and nine numbers: ten values
    assert "values" in problem(b"[" + b"0," * 9 + b"0]")
    assert "bytes" in problem(b"[" + b" " * 1000 + b"]")


def test_a_notebook_past_its_cpu_time_is_stopped_with_that_reason(sandbox):
    """As PID 1 of its namespace the notebook ignores the soft limit's SIGXCPU; the reason must still be CPU time."""
    with Sandbox(limits=Limits(cpu_seconds=1, cell_seconds=60), plan=sandbox.plan) as box:
        process = box.open_notebook("spinner")
        report = process.run_cell(0, "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass",
                                  timeout=60)
        assert report.status == "died"
        assert "used more than its 1 s of CPU time" in report.message
