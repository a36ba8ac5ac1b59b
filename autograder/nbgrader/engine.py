"""Grade one notebook of an nbgrader submission with the hidden suites, in a shared sandbox.

nbgrader converts one notebook at a time, so this module grades one notebook file
(``APPENDIX_A.subset([stem])``) with :func:`autograder.grading.runner.grade_submission`.
The :class:`~autograder.sandbox.client.Sandbox` (a warm process that has imported torch)
is started on first use and shared by every notebook graded in this process; it is
closed when the process exits.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

from autograder.course import AssignmentSpec, assignment, default_suites_dir
from autograder.grading.results import SubmissionResult
from autograder.grading.runner import grade_submission, zero_result
from autograder.sandbox.client import Sandbox, SandboxSettings
from autograder.sandbox.errors import SandboxError, SandboxUnavailable



_lock = threading.Lock()
_shared: tuple[SandboxSettings, Sandbox] | None = None
_registered = False


def shared_sandbox(settings: SandboxSettings) -> Sandbox:
    """The process-wide sandbox for ``settings``, started on first use and closed at exit."""
    global _shared, _registered
    with _lock:
        if _shared is not None and _shared[0] != settings:
            _shared[1].close()
            _shared = None
        if _shared is None:
            sandbox = settings.sandbox()
            sandbox.start()
            _shared = (settings, sandbox)
            if not _registered:
                atexit.register(close_shared_sandbox)
                _registered = True
        return _shared[1]


def close_shared_sandbox() -> None:
    global _shared
    with _lock:
        if _shared is not None:
            _shared[1].close()
            _shared = None


def notebook_spec(assignment_id: str, notebook_id: str) -> AssignmentSpec:
    """The curriculum restricted to one notebook; KeyError names what is unknown."""
    return assignment(assignment_id).subset([notebook_id])


def grade_notebook(*, content: bytes, assignment_id: str, notebook_id: str, student: str, suites_dir: Path | None,
                   settings: SandboxSettings, seed: int | None = None) -> SubmissionResult:
    """Grade the notebook file ``content`` (saved as ``<notebook_id>.ipynb``) against its hidden suite.

    A failure of the sandbox becomes a score of 0 with its reason; a sandbox that stopped
    answering is replaced once before giving up.
    """
    spec = notebook_spec(assignment_id, notebook_id)
    suites = (suites_dir or default_suites_dir(assignment_id)).resolve()
    scratch = Path(tempfile.mkdtemp(prefix="autograder-nbgrader-"))
    try:
        (scratch / f"{notebook_id}.ipynb").write_bytes(content)
        for attempt in range(2):
            try:
                sandbox = shared_sandbox(settings)
                return grade_submission(submission=scratch, student=student, assignment=spec,
                                        suites_dir=suites, sandbox=sandbox, seed=seed)
            except SandboxUnavailable as error:
                close_shared_sandbox()
                if attempt == 1:
                    reason = f"grading failed: {error}"
            except SandboxError as error:
                reason = f"grading failed: {error}"
                break
        return zero_result(student=student, assignment=spec, reason=reason)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
