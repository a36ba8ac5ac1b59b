"""Grade submissions: load their notebooks, run the hidden suites against them, return results.

The data flow is one way::

    submission -> notebooks.load_notebook -> session.StudentNotebook (sandboxed child)
               -> pytest + plugin (trusted)  -> results.SubmissionResult

One pytest session grades any number of submissions: the suites are collected
once, then every check runs for the first submission, then for the next.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pytest
import torch

from autograder.course import REPO_ROOT, AssignmentSpec
from autograder.grading import fixtures
from autograder.grading.errors import GraderError
from autograder.grading.plugin import GradingPlugin, SuiteError
from autograder.grading.results import (CellResult, CellStatus, CheckResult, FailureKind, NotebookResult, Provenance,
                                        Status, SubmissionResult, Task, zero_result)
from autograder.grading.session import StudentNotebook, SubmissionBudget
from autograder.notebooks import LoadedNotebook, NotebookProblem, load_notebook, locate
from autograder.sandbox.client import Sandbox
from autograder.sandbox.errors import SandboxError, SandboxUnavailable


def suite_files(suites_dir: Path, assignment: AssignmentSpec) -> dict[str, Path]:
    """Map each notebook stem to its hidden suite file; complain about missing ones."""
    if not suites_dir.is_dir():
        raise GraderError(
            f"hidden suites directory {suites_dir} does not exist: pass --suites DIR "
            "(a student release has no hidden suites; use `autograder check` there)"
        )
    files = {}
    for spec in assignment.notebooks:
        path = suites_dir / f"test_{spec.stem}.py"
        if not path.is_file():
            raise GraderError(f"hidden suite {path} is missing for notebook {spec.stem}; "
                              "pass --notebook STEM to grade only some notebooks")
        files[spec.stem] = path
    return files




def grade_one(*, student: str, submission: Path, assignment: AssignmentSpec, suites_dir: Path,
              sandbox: Sandbox, seed: int | None) -> SubmissionResult:
    """Grade a submission; any failure around it becomes a zero with its reason, never a crash."""
    results: list[SubmissionResult] = []
    grade_stream([(student, submission)], assignment=assignment, suites_dir=suites_dir, sandbox=sandbox,
                 seed=seed, on_result=results.append)
    return results[0]


def grade_stream(tasks: Iterable[Task], *, assignment: AssignmentSpec, suites_dir: Path, sandbox: Sandbox,
                 seed: int | None, on_result: Callable[[SubmissionResult], None]) -> None:
    """Grade each submission as it arrives from ``tasks``, in one pytest session; report each result.

    A failure around one submission becomes a zero with its reason.  A fault of the
    grader (the suites, the configuration, a sandbox that cannot start) stops the run
    with :class:`GraderError` or :class:`SandboxUnavailable`.
    """
    _grade(iter(tasks), assignment=assignment, suites_dir=suites_dir, sandbox=sandbox, seed=seed,
           on_result=on_result, forgiving=True)


def grade_submission(*, submission: Path, student: str, assignment: AssignmentSpec, suites_dir: Path,
                     sandbox: Sandbox, seed: int | None = None) -> SubmissionResult:
    """Grade every notebook of ``assignment`` found in ``submission``; errors are raised, not scored."""
    results: list[SubmissionResult] = []
    _grade(iter([(student, submission)]), assignment=assignment, suites_dir=suites_dir, sandbox=sandbox,
           seed=seed, on_result=results.append, forgiving=False)
    return results[0]


def _grade(tasks: Iterator[Task], *, assignment: AssignmentSpec, suites_dir: Path, sandbox: Sandbox,
           seed: int | None, on_result: Callable[[SubmissionResult], None], forgiving: bool) -> None:
    files = suite_files(suites_dir, assignment)
    plugin = GradingPlugin(sessions={}, seed=0)
    loop = _SubmissionLoop(tasks, plugin=plugin, assignment=assignment, sandbox=sandbox, seed=seed,
                           on_result=on_result, forgiving=forgiving, provenance=provenance(suites_dir=suites_dir),
                           reference=reference_dir(suites_dir, assignment))
    _run_pytest(list(files.values()), suites_dir, [plugin, loop])
    if loop.failure is not None:
        raise loop.failure


class _SubmissionLoop:
    """pytest's run loop, once per submission: the same collected checks, a fresh notebook each time."""

    def __init__(self, tasks: Iterator[Task], *, plugin: GradingPlugin, assignment: AssignmentSpec,
                 sandbox: Sandbox, seed: int | None, on_result: Callable[[SubmissionResult], None],
                 forgiving: bool, provenance: Provenance, reference: Path | None = None) -> None:
        self.tasks = tasks
        self.reference = reference
        self.provenance = provenance
        self.plugin = plugin
        self.assignment = assignment
        self.sandbox = sandbox
        self.seed = seed
        self.on_result = on_result
        self.forgiving = forgiving
        self.failure: BaseException | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if session.testsfailed:
            self.failure = GraderError(f"{session.testsfailed} hidden suite(s) could not be collected: "
                                       "run `autograder validate` to see what is wrong with them")
            return True
        for student, submission in self.tasks:
            try:
                result = self._grade_one(session, student, submission)
            except (GraderError, SandboxUnavailable) as error:
                self.failure = error
                return True
            except SuiteError as error:
                self.failure = GraderError(f"the hidden suites could not run: {error}")
                return True
            except Exception as error:  # noqa: BLE001 - one submission must never stop the batch
                if not self.forgiving:
                    self.failure = error
                    return True
                result = _failed(student, self.assignment, error)
            self.on_result(result)
        return True

    def _grade_one(self, session: pytest.Session, student: str, submission: Path) -> SubmissionResult:
        started, started_at = time.monotonic(), time.time()
        seed = secrets.randbits(32) if self.seed is None else self.seed
        budget = SubmissionBudget(self.sandbox.limits.student_seconds)  # every cost of this student, bounded
        sessions, paths = _open_sessions(submission, self.assignment, self.sandbox, budget=budget)
        self.plugin.begin(sessions=sessions, seed=seed)
        items = session.items
        finished = False
        try:
            for index, item in enumerate(items):
                following = items[index + 1] if index + 1 < len(items) else None
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=following)
            finished = True
        finally:
            if not finished:  # leave no fixture of this submission set up for the next one
                with contextlib.suppress(Exception):
                    session._setupstate.teardown_exact(None)
            for notebook in sessions.values():
                notebook.close()
        if any(result.status is Status.GRADER_ERROR for result in self.plugin.results):
            self.plugin.results = self._confirm_on_reference(session, seed)
        notebooks = tuple(_notebook_result(spec.stem, spec.points, paths.get(spec.stem), sessions[spec.stem],
                                           [r for r in self.plugin.results if r.notebook == spec.stem])
                          for spec in self.assignment.notebooks)
        protections = self.sandbox.protections
        return SubmissionResult(
            student=student, assignment=self.assignment.name, notebooks=notebooks, seed=seed,
            seconds=time.monotonic() - started,
            protections=tuple(name for name, on in (protections.to_dict().items() if protections else ())
                              if on is True),
            provenance=replace(self.provenance, started_at=_utc(started_at), finished_at=_utc(time.time())),
        )


    def _confirm_on_reference(self, session: pytest.Session, seed: int) -> list[CheckResult]:
        """The student's results, each provisional grader error settled by the same check (same seed, so the
        same inputs) on the reference solution: a fault of the suite only if it fails there too.

        A check that broke on the student's value but passes on the reference is the student's failure:
        no value can leave a check out of the maximum.  The instructor keeps the traceback as a note.
        Without reference notebooks it is charged to the student too, and the note says so.
        """
        student, named = self.plugin.results, dict(self.plugin.unusable)
        errored = {result.id for result in student if result.status is Status.GRADER_ERROR}
        on_reference: dict[str, CheckResult] = {}
        if self.reference is not None:
            sessions, _ = _open_sessions(self.reference, self.assignment, self.sandbox)
            self.plugin.begin(sessions=sessions, seed=seed)
            again = [item for item in session.items
                     if f"{self.plugin.specs[item.nodeid].notebook}::{self.plugin.specs[item.nodeid].name}" in errored]
            try:
                for index, item in enumerate(again):  # in order, so that a notebook runs once for its checks
                    following = again[index + 1] if index + 1 < len(again) else None
                    item.config.hook.pytest_runtest_protocol(item=item, nextitem=following)
            finally:
                for notebook in sessions.values():
                    notebook.close()
            on_reference = {result.id: result for result in self.plugin.results}
        settled = []
        for result in student:
            reference = on_reference.get(result.id)
            if result.status is not Status.GRADER_ERROR or (reference is not None
                                                             and reference.status is not Status.PASSED):
                settled.append(result)
                continue
            why = ("it passed on the reference solution with the same inputs" if reference is not None else
                   "no reference notebooks were found to confirm it (put them in <suites>/reference/)")
            settled.append(replace(
                result, status=Status.FAILED, kind=FailureKind.UNUSABLE_VALUE, grader_error="",
                message=(named.get(result.id) or f"this check could not use what `{result.function}` returned or did")
                + ": compare it with what the notebook says the function returns (its type, dtype, shape and values)",
                instructor_note=f"the check's own code raised on this student's value; charged to the student "
                                f"because {why}. If the suite should have handled this value, fix it:\n"
                                + result.grader_error))
        return settled


def reference_dir(suites_dir: Path, assignment: AssignmentSpec) -> Path | None:
    """Where the reference notebooks that settle grader errors are: ``<suites>/reference/``, else the
    checkout's ``solutions/<assignment>/``; ``None`` when neither exists."""
    for candidate in (suites_dir / "reference", REPO_ROOT / "solutions" / assignment.name):
        if candidate.is_dir():
            return candidate
    return None


def _failed(student: str, assignment: AssignmentSpec, error: Exception) -> SubmissionResult:
    if isinstance(error, SandboxError):
        return zero_result(student=student, assignment=assignment, reason=f"grading failed: {error}")
    return zero_result(student=student, assignment=assignment,
                       reason=f"grading failed on this submission ({type(error).__name__}); "
                              "the rest of the class is not affected")


def _open_sessions(submission: Path, assignment: AssignmentSpec, sandbox: Sandbox,
                   budget: SubmissionBudget | None = None) -> tuple[dict[str, StudentNotebook], dict[str, str]]:
    sessions: dict[str, StudentNotebook] = {}
    paths: dict[str, str] = {}
    root = submission if submission.is_dir() else submission.parent
    for spec in assignment.notebooks:
        path = locate(submission, spec, others=assignment)
        loaded: LoadedNotebook | None = None
        problem = ""
        if path is None:
            problem = f"{spec.filename} was not found in the submission"
        else:
            paths[spec.stem] = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
            try:
                loaded = load_notebook(path, stem=spec.stem, root=root)
            except NotebookProblem as error:
                problem = str(error)
            except Exception as error:  # noqa: BLE001 - a file can fail its own notebook, never the submission
                problem = f"{path.name} could not be read ({type(error).__name__}): submit the notebook file again"
        sessions[spec.stem] = StudentNotebook(stem=spec.stem, sandbox=sandbox, notebook=loaded, problem=problem,
                                              budget=budget, functions=spec.functions, returns=spec.returns)
    return sessions, paths


# pytest's own plugins that grading does without: reporting, capturing, debugging and
# caching (pytest's output is never shown), and third-party plugins that change test order.
_UNUSED_PLUGINS = ("cacheprovider", "stepwise", "assertion", "capture", "terminal", "debugging", "randomly",
                   "logging", "unraisableexception", "threadexception", "faulthandler", "warnings", "doctest",
                   "legacypath", "junitxml", "pastebin", "nose", "unittest", "setuponly", "setupplan", "subtests")


def _run_pytest(files: list[Path], suites_dir: Path, plugins: list[object]) -> None:
    """Run the hidden suites in this (trusted) process, with all of pytest's output swallowed.

    pytest's own report would show hidden source in tracebacks, so it is never printed;
    the plugin records what students may see.
    """
    with tempfile.TemporaryDirectory() as scratch:
        ini = Path(scratch) / "pytest.ini"
        ini.write_text("[pytest]\n")
        args = [*map(str, files), "-c", str(ini), "--rootdir", str(suites_dir), "--confcutdir", str(suites_dir),
                "--import-mode=prepend"]
        for unused in _UNUSED_PLUGINS:  # each would add its hooks to every check, for output nobody sees
            args += ["-p", f"no:{unused}"]
        sink = io.StringIO()
        dont_write = sys.dont_write_bytecode
        sys.dont_write_bytecode = True  # leave the suites directory untouched
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                code = pytest.main(args, plugins=[*plugins, fixtures])
        finally:
            sys.dont_write_bytecode = dont_write
    if code == pytest.ExitCode.INTERRUPTED:
        raise KeyboardInterrupt  # Ctrl-C or SIGTERM while the suites ran: stop the whole run
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        suite_lines = [line for line in sink.getvalue().splitlines() if "SuiteError" in line][:5]
        raise GraderError(f"the hidden suites could not run (pytest exit {int(code)})"
                          + ("".join(f"\n  {line}" for line in suite_lines) or
                             ": run `autograder validate` to see what is wrong with them"))


def _notebook_result(stem: str, max_points: float, path: str | None, session: StudentNotebook,
                     checks: list[CheckResult]) -> NotebookResult:
    cells = tuple(CellResult(index=report.index, status=CellStatus(report.status), message=report.message,
                             seconds=report.seconds, output=report.output) for report in session.cell_reports)
    problems = []
    if session._problem:
        problems.append(session._problem)
    problems += [cell.message for cell in cells if cell.status is not CellStatus.OK]
    problems += session.notes
    return NotebookResult(notebook=stem, max_points=max_points, path=path, checks=tuple(checks),
                          cells=cells, problems=tuple(problems), seconds=session.run_seconds,
                          restarts=tuple(session.notes))


def provenance(*, suites_dir: Path) -> Provenance:
    """Who grades: this grader's version, the suites' hashes, torch, and the devices this process sees."""
    import hashlib

    from autograder import __version__

    suites = tuple((path.name, hashlib.sha256(path.read_bytes()).hexdigest())
                   for path in sorted(suites_dir.glob("*.py")))
    mps = getattr(torch.backends, "mps", None)
    devices = (("cuda", bool(torch.cuda.is_available())), ("mps", bool(mps is not None and mps.is_available())))
    return Provenance(grader_version=__version__, suites=suites, torch_version=str(torch.__version__), devices=devices)


def _utc(moment: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(moment, tz=timezone.utc).isoformat(timespec="seconds")
