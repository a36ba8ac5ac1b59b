"""Every budget on what a notebook sends back is enforced before the work it bounds.

The attacks are notebook cells (``write_variant``) graded by the real engine in the real
sandbox.  A hostile notebook can rewrite the encoder in its own process (it imports
``autograder.sandbox.codec`` like any module), so most attacks replace ``codec.dumps`` or
the encoder's own copy of views and send bytes of their choosing: the grader's side must
hold whatever arrives.  Memory is the grader's own peak resident size (``VmHWM``, reset
through ``/proc/self/clear_refs`` before each attack).
"""

from __future__ import annotations

import contextlib
import re

import time
from pathlib import Path

import pytest
import torch

from autograder.course import APPENDIX_A
from autograder.grading.judge import meta
from autograder.grading.results import Status
from autograder.grading.runner import grade_submission
from autograder.sandbox import codec
from autograder.sandbox.client import Sandbox
from autograder.sandbox.errors import ChildDied, ProtocolViolation
from autograder.sandbox.limits import Limits
from tests.conftest import SUITES, write_variant

STEM = "02_tensors"
MiB = 1 << 20

# Replies are built in the notebook process by a hostile codec.dumps, armed by the function
# under attack so that only its own reply is hostile.
HOSTILE_DUMPS = """
import io, json, struct, torch
import autograder.sandbox.codec as _codec
if "_honest_dumps" not in globals():
    _honest_dumps = _codec.dumps
_armed = []
def _hostile_dumps(tree):
    if not _armed:
        return _honest_dumps(tree)
    return _armed.pop()
_codec.dumps = _hostile_dumps
# What a tensor says about itself; extra keys (an older description) are ignored by the grader.
_CLAIMS = {"type": "torch.Tensor", "grad_fn": None, "dtype": "float32", "shape": [2], "device": "cpu",
           "requires_grad": False, "is_leaf": True}
def _blob(text, tensors=None):
    raw = text if isinstance(text, bytes) else json.dumps(text).encode()
    tail = b""
    if tensors is not None:
        buffer = io.BytesIO()
        torch.save(tensors, buffer)
        tail = buffer.getvalue()
    return struct.pack(">I", len(raw)) + raw + tail
"""

# The sender's own copy of views switched off: a view then crosses with only its storage.
NO_SENDER_COPY = "import autograder.sandbox.codec as _codec\n_codec._compact = lambda tensor: True\n"

@contextlib.contextmanager
def refused(reason: str):
    """The reply is refused with ``reason`` in the instructor's detail (the student sees a fixed sentence)."""
    with pytest.raises(ProtocolViolation) as caught:
        yield
    assert re.search(reason, caught.value.detail), caught.value.detail
    assert "cannot read" in str(caught.value)



def _peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def _grade(sandbox, submission: Path, seed: int):
    return grade_submission(submission=submission, student=submission.name, assignment=APPENDIX_A.subset([STEM]),
                            suites_dir=SUITES, sandbox=sandbox, seed=seed).notebook(STEM)


def _measured(sandbox, submission: Path, seed: int):
    """Grade ``submission``; return its result, the seconds it took and the grader's peak growth in bytes."""
    _peak_rss_reset()
    baseline = _peak_rss()
    started = time.monotonic()
    result = _grade(sandbox, submission, seed)
    return result, time.monotonic() - started, _peak_rss() - baseline


@pytest.fixture(scope="module")
def honest_seconds(sandbox, tmp_path_factory) -> float:
    """How long the reference notebook takes to grade (second run: everything imported and warm)."""
    reference = write_variant(tmp_path_factory.mktemp("reference"), STEM, {}).parent
    _grade(sandbox, reference, 5)
    started = time.monotonic()
    _grade(sandbox, reference, 5)
    return time.monotonic() - started


def _gram_checks(result):
    return [check for check in result.checks if check.function == "gram"]


def _assert_bounded(result, seconds: float, growth: int, honest_seconds: float) -> None:
    assert growth < 100 * MiB, f"the grader grew by {growth / MiB:.0f} MiB"
    assert seconds < 1.5 * honest_seconds + 10, f"{seconds:.1f} s against {honest_seconds:.1f} s for the reference"


# ---------------------------------------------------------------- attacks through the grading engine


def test_a_huge_nested_reply_is_refused_before_it_is_parsed(sandbox, tmp_path, honest_seconds):
    attack = HOSTILE_DUMPS + (
        "_NESTED = _blob(b'[' + b'[],' * (8 << 20) + b'[]]')  # 24 MiB: eight million empty lists\n"
        "def gram(t):\n"
        "    _armed.append(_NESTED)\n"
        "    return t @ t.T\n")
    # Without its visible check cell, gram is called only by the grader: every armed reply goes there.
    submission = write_variant(tmp_path, STEM, {"gram": attack, "check_gram": ""}).parent
    result, seconds, growth = _measured(sandbox, submission, 3)
    gram = _gram_checks(result)
    assert gram and all(check.status is Status.FAILED for check in gram)
    assert all("cannot read" in check.message and "too large" in check.message for check in gram), \
        [check.message for check in gram]
    assert all(check.status is Status.PASSED for check in result.checks if check.function != "gram")
    _assert_bounded(result, seconds, growth, honest_seconds)


def test_an_expanded_tensor_is_refused_by_its_element_count(sandbox, tmp_path, honest_seconds):
    # One element of storage, 16 Mi elements of view: a few bytes on the wire.
    attack = NO_SENDER_COPY + (
        "def make_tensors():\n"
        "    big = torch.tensor([1]).expand(16 << 20).reshape(1 << 10, 1 << 7, 1 << 7)\n"
        "    return torch.tensor(1), torch.tensor([1, 2, 3]), torch.tensor([[1, 2], [3, 4]]), big\n")
    submission = write_variant(tmp_path, STEM, {"make_tensors": attack}).parent
    result, seconds, growth = _measured(sandbox, submission, 3)
    checks = [check for check in result.checks if check.function == "make_tensors"]
    assert checks and all(check.status is Status.FAILED for check in checks)
    assert all("cannot read" in check.message and "too large" in check.message for check in checks), \
        [check.message for check in checks]
    # the sizes are taken from the student's reply: the instructor's to read, not the student's
    assert all("elements" in check.instructor_note and "limit" in check.instructor_note for check in checks), \
        [check.instructor_note for check in checks]
    _assert_bounded(result, seconds, growth, honest_seconds)


def test_a_tensor_subclass_lying_about_its_type_and_dtype_is_judged_by_its_data(sandbox, tmp_path):
    # The defect: the four tensors are float32.  The lie: a subclass named torch.Tensor reporting int64.
    floats = ("def make_tensors():\n"
              "    return (torch.tensor(1.0), torch.tensor([1.0, 2.0, 3.0]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]),\n"
              "            torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]))\n")
    liar = ("class Liar(torch.Tensor):\n"
            "    dtype = property(lambda self: torch.int64)\n"
            "Liar.__module__, Liar.__qualname__, Liar.__name__ = 'torch', 'Tensor', 'Tensor'\n"
            "_make_floats = make_tensors\n"
            "def make_tensors():\n"
            "    return tuple(t.as_subclass(Liar) for t in _make_floats())\n")
    honest = _grade(sandbox, write_variant(tmp_path / "honest", STEM, {"make_tensors": floats}).parent, 4)
    hostile = _grade(sandbox, write_variant(tmp_path / "hostile", STEM, {"make_tensors": floats + liar}).parent, 4)
    dtype = {c.name: c for c in hostile.checks}["test_make_tensors_dtype"]
    assert dtype.status is Status.FAILED and "torch.float32" in dtype.message, dtype.message
    assert hostile.points == honest.points
    assert [c.status for c in hostile.checks] == [c.status for c in honest.checks]


# ---------------------------------------------------------------- each limit, just under and just over


@pytest.fixture
def notebook(sandbox):
    process = sandbox.open_notebook("budgets")
    yield process
    process.close()


def _run(process, source: str) -> None:
    report = process.run_cell(0, source)
    assert report.status == "ok", report.message


def _crafted(process, builder: str):
    """Call a function whose reply is the blob ``builder`` (an expression of the hostile cell) evaluates to."""
    _run(process, HOSTILE_DUMPS + f"def reply():\n    _armed.append({builder})\n    return 0\n")
    return process.call_name("reply")


def _tree_of_bytes(size: int) -> str:
    """A string value whose JSON tree is exactly ``size`` bytes: ["p", "xx...x"]."""
    return f"_blob(b'[\"p\",\"' + b'x' * ({size} - 8) + b'\"]')"


def test_a_tree_at_its_byte_limit_is_read_and_one_byte_more_is_refused(notebook):
    assert _crafted(notebook, _tree_of_bytes(codec.MAX_TREE_BYTES)) == "x" * (codec.MAX_TREE_BYTES - 8)
    with refused(f"over the limit of {codec.MAX_TREE_BYTES}"):
        _crafted(notebook, _tree_of_bytes(codec.MAX_TREE_BYTES + 1))


def _nested(levels: int) -> str:
    return f"_blob(b'[\"l\",[' * {levels} + b'[\"p\",1]' + b']]' * {levels})"


def test_a_value_at_its_depth_limit_is_read_and_one_level_more_is_refused(notebook):
    value = _crafted(notebook, _nested(codec.MAX_DEPTH))
    for _ in range(codec.MAX_DEPTH):
        value = value[0]
    assert value == 1
    with refused("too deeply nested"):
        _crafted(notebook, _nested(codec.MAX_DEPTH + 1))
    with refused("nested more than"):  # refused before json.loads
        _crafted(notebook, "_blob(b'[' * 500_000 + b']' * 500_000)")


def test_a_value_at_its_node_limit_is_read_and_a_flood_of_values_is_refused_unparsed(notebook):
    items = codec.MAX_NODES - 1  # the list itself is one part
    value = _crafted(notebook, f"_blob(b'[\"l\",[' + b','.join([b'[\"p\",0]'] * {items}) + b']]')")
    assert value == [0] * items
    with refused("too large"):
        _crafted(notebook, f"_blob(b'[\"l\",[' + b','.join([b'[\"p\",0]'] * {items + 1}) + b']]')")
    with refused("values"):  # a million bare numbers: counted, never parsed
        _crafted(notebook, "_blob(b'[\"l\",[' + b','.join([b'0'] * 2_000_000) + b']]')")


def test_tensors_at_their_element_limit_are_read_and_one_element_more_is_refused(notebook):
    _run(notebook, "import torch\ndef flags(n):\n    return torch.zeros(n, dtype=torch.bool)\n")
    assert notebook.call_name("flags", codec.MAX_REPLY_ELEMENTS).numel() == codec.MAX_REPLY_ELEMENTS
    with refused("elements, over the limit"):
        notebook.call_name("flags", codec.MAX_REPLY_ELEMENTS + 1)


@pytest.fixture(scope="module")
def small_replies(sandbox):
    with Sandbox(limits=Limits(reply_bytes=MiB), plan=sandbox.plan) as box:
        yield box


def test_unpacked_bytes_are_bounded_by_the_reply_limit_even_for_a_view(small_replies):
    process = small_replies.open_notebook("views")
    try:
        _run(process, NO_SENDER_COPY + "import torch\n"
                      "def plain(n):\n    return torch.zeros(n)\n"
                      "def view(n):\n    return torch.zeros(1).expand(n)\n")
        under = (MiB - (64 << 10)) // 4  # room for the tree and the archive's own records
        assert process.call_name("plain", under).numel() == under
        assert process.call_name("view", MiB // 4).numel() == MiB // 4  # exactly the limit, unpacked
        with refused("bytes unpacked, over the limit"):
            process.call_name("view", MiB // 4 + 1)
    finally:
        process.close()


def test_a_view_is_sent_as_its_own_elements_and_arrives_contiguous(notebook):
    _run(notebook, "import torch\nbig = torch.arange(1 << 20)\n"
                   "def corner():\n    return big[:4], big.reshape(1024, 1024).T[:2, :3]\n")
    first, corner = notebook.call_name("corner")
    assert first.tolist() == [0, 1, 2, 3] and first.untyped_storage().nbytes() == 32
    assert corner.is_contiguous() and corner.tolist() == [[0, 1024, 2048], [1, 1025, 2049]]


def test_a_compressed_archive_member_is_refused_before_torch_load(notebook):
    # A zip bomb: 128 MiB of zeros deflated to a few hundred kilobytes, announced as one storage.
    bomb = ("_bomb():\n"
            "    import zipfile\n"
            "    honest = io.BytesIO(); torch.save([torch.zeros(1 << 25)], honest)\n"
            "    source = zipfile.ZipFile(io.BytesIO(honest.getvalue()))\n"
            "    packed = io.BytesIO()\n"
            "    with zipfile.ZipFile(packed, 'w') as target:\n"
            "        for name in source.namelist():\n"
            "            method = zipfile.ZIP_DEFLATED if '/data/' in name else zipfile.ZIP_STORED\n"
            "            target.writestr(name, source.read(name), compress_type=method)\n"
            "    raw = json.dumps(['t', 0, _CLAIMS]).encode()\n"
            "    return struct.pack('>I', len(raw)) + raw + packed.getvalue()\n")
    _run(notebook, HOSTILE_DUMPS + "def " + bomb + "_BOMB = _bomb()\n")
    _peak_rss_reset()
    baseline = _peak_rss()
    with refused("compressed"):
        _crafted(notebook, "_BOMB")
    assert _peak_rss() - baseline < 64 * MiB


def test_a_tensor_stored_for_another_device_is_refused(notebook):
    # The location is a string in the archive: rewritten from "cpu" to "cuda" by the notebook.
    _run(notebook, HOSTILE_DUMPS + (
        "import zipfile\n"
        "def _relocated():\n"
        "    honest = io.BytesIO(); torch.save([torch.ones(2)], honest)\n"
        "    source = zipfile.ZipFile(io.BytesIO(honest.getvalue()))\n"
        "    moved = io.BytesIO()\n"
        "    with zipfile.ZipFile(moved, 'w') as target:\n"
        "        for name in source.namelist():\n"
        "            data = source.read(name)\n"
        "            if name.endswith('data.pkl'):\n"
        "                data = data.replace(b'X\\x03\\x00\\x00\\x00cpu', b'X\\x04\\x00\\x00\\x00cuda')\n"
        "            target.writestr(name, data)\n"
        "    raw = json.dumps(['t', 0, _CLAIMS]).encode()\n"
        "    return struct.pack('>I', len(raw)) + raw + moved.getvalue()\n"))
    with pytest.raises(ProtocolViolation):
        _crafted(notebook, "_relocated()")


def test_a_sparse_tensor_with_a_huge_dense_shape_is_refused(notebook):
    # One stored value, 1e10 elements once made dense: budgets count dense tensors only, so no other
    # layout is let through.
    sparse = ("torch.sparse_coo_tensor(torch.tensor([[0], [0]]), torch.tensor([1.0]), (100_000, 100_000))")
    with refused("not plain dense"):
        _crafted(notebook, f"_blob(['t', 0, _CLAIMS], [{sparse}])")


def test_a_header_nested_past_its_limit_stops_the_process_with_a_reason(notebook):
    _run(notebook, "import sys, struct\n"
                   "_kernel = sys.modules['autograder.sandbox.kernel']\n"
                   "def _deep_header(sock, header, payload=b''):\n"
                   "    head = b'[' * 400_000 + b']' * 400_000\n"
                   "    sock.sendall(struct.pack('!II', len(head), 0) + head)\n"
                   "def arm():\n"
                   "    _kernel.send_message = _deep_header\n"
                   "    return 0\n")
    with pytest.raises(ChildDied, match="size limit"):  # its own reply already goes out this way
        notebook.call_name("arm")


def test_what_a_tensor_was_is_read_from_its_data(notebook):
    _run(notebook, "import torch\n"
                   "class Liar(torch.Tensor):\n"
                   "    dtype = property(lambda self: torch.int64)\n"
                   "    shape = property(lambda self: torch.Size([7]))\n"
                   "def lie():\n"
                   "    return torch.ones(2, 3).as_subclass(Liar)\n"
                   "def graph(w):\n"
                   "    return w * 2, w.detach() * 2\n")
    value = notebook.call_name("lie")
    info = meta(value)
    assert (info.dtype, info.shape, info.device) == (torch.float32, (2, 3), "cpu")
    assert info.type_name.endswith("Liar")  # its word, kept for the message
    attached, detached = notebook.call_name("graph", torch.ones(2, requires_grad=True))
    assert meta(attached).requires_grad and meta(attached).grad_fn == "MulBackward0"
    assert not attached.requires_grad  # the grader's copy carries no graph
    assert not meta(detached).requires_grad and meta(detached).grad_fn is None


def test_an_honest_oversized_view_costs_the_notebook_not_the_grader(notebook):
    _run(notebook, "import torch\ndef wide():\n    return torch.ones(1, dtype=torch.float64).expand(16 << 20)\n")
    with pytest.raises(ProtocolViolation, match="cannot be sent to the grader") as caught:
        notebook.call_name("wide")
    assert re.search("over the .*limit", caught.value.detail), caught.value.detail
