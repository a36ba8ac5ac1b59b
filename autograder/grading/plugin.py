"""The pytest plugin that turns hidden suites into scored checks.

Registered by :mod:`autograder.grading.runner` for a pytest session that
grades one submission after another (:meth:`GradingPlugin.begin` starts each).
It provides the ``nb`` and ``rng`` fixtures, the ``grade`` marker, and collects
one :class:`CheckResult` per test.  Nothing it records contains a hidden
test's source, traceback or expected values.
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass, field

import pytest
import torch

from autograder.grading.judge import ExtraCreditUnavailable
from autograder.grading.results import CheckResult, FailureKind, Status
from autograder.grading.session import StudentNotebook
from autograder.sandbox.errors import (CallTimeout, ChildDied, MissingName, NotebookUnavailable, ProtocolViolation,
                                       SandboxError, SandboxUnavailable, StudentError)
from autograder.sandbox.vocabulary import unusable

MARKER_HELP = ("grade(points, *, fn, extra_credit=False, returns=False): points of this hidden check, "
               "the student function it is about, whether it is extra credit, and whether it is the check "
               "that holds the function's results to their exact declared return type")


PLUGIN_KEY = pytest.StashKey["GradingPlugin"]()


class SuiteError(Exception):
    """A hidden suite is malformed; the message says which file and what to fix."""


@dataclass
class CheckSpec:
    notebook: str
    name: str
    function: str
    description: str
    points: float
    extra_credit: bool
    judges_returns: bool = False  # holds results to the exact declared return type


@dataclass
class GradingPlugin:
    sessions: dict[str, StudentNotebook]
    seed: int
    results: list[CheckResult] = field(default_factory=list)
    specs: dict[str, CheckSpec] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)  # check id -> what the student's value was, in words

    def begin(self, *, sessions: dict[str, StudentNotebook], seed: int) -> None:
        """Start on the next submission: its notebooks, its seed, no results yet."""
        self.sessions = sessions
        self.seed = seed
        self.results = []
        self.unusable = {}

    # ------------------------------------------------------------ configuration

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", MARKER_HELP)
        config.stash[PLUGIN_KEY] = self

    def session_for(self, module: object) -> StudentNotebook:
        stem = notebook_of(module)
        if stem not in self.sessions:
            raise SuiteError(f"{getattr(module, '__file__', module)}: NOTEBOOK = {stem!r} is not a notebook "
                             "of this assignment")
        return self.sessions[stem]

    def generator_for(self, check_name: str) -> torch.Generator:
        digest = hashlib.sha256(f"{self.seed}:{check_name}".encode()).digest()
        return torch.Generator().manual_seed(int.from_bytes(digest[:8], "big") & ((1 << 63) - 1))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.specs[item.nodeid] = check_spec(item)

    # ------------------------------------------------------------ outcomes

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        # Running the notebook's cells is not part of any check's time budget.
        session = item.funcargs.get("nb") if hasattr(item, "funcargs") else None
        if isinstance(session, StudentNotebook):
            session.start_check(judges_returns=self.specs[item.nodeid].judges_returns)
        yield

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
        """Record the check's result; answer with a report that carries no traceback.

        pytest's own report would render the failure (parsing the suite's source
        every time), only for nobody to see it: its output is never shown.
        """
        report = _bare_report(item, call)
        spec = self.specs[item.nodeid]
        if call.when == "call" or (call.when == "setup" and report.failed):
            status, message, kind, trace, note = self._judge(call)
            if status is Status.GRADER_ERROR:  # settled by the runner; this names the value, if it comes to that
                session = item.funcargs.get("nb") if hasattr(item, "funcargs") else None
                returned = getattr(session, "last_return", None)
                if returned is not None:
                    self.unusable[f"{spec.notebook}::{spec.name}"] = (f"`{returned[0]}` returned {unusable(returned[1])}, which this "
                                                  "check cannot use")
            self.results.append(CheckResult(
                notebook=spec.notebook, name=spec.name, function=spec.function, description=spec.description,
                max_points=spec.points, extra_credit=spec.extra_credit, status=status, message=message,
                hint=_clip(str(getattr(call.excinfo.value, "hint", "") or "")) if call.excinfo else "",
                kind=kind, grader_error=trace, instructor_note=note,
            ))
        return report

    def _judge(self, call: pytest.CallInfo) -> tuple[Status, str, FailureKind | None, str, str]:
        """(status, student message, failure kind, instructor-only traceback, instructor-only note)."""
        if call.excinfo is None:
            return Status.PASSED, "", None, "", ""
        error = call.excinfo.value
        if isinstance(error, SuiteError):
            raise error
        if isinstance(error, ExtraCreditUnavailable):
            return Status.NOT_AVAILABLE, str(error), FailureKind.NOT_AVAILABLE, "", ""
        if isinstance(error, SandboxError) and not isinstance(error, SandboxUnavailable):
            # Its text is the grader's own (see sandbox/vocabulary.py); what the notebook said is the instructor's.
            note = error.instructor_text() if isinstance(error, StudentError) else getattr(error, "detail", "")
            return Status.FAILED, _clip(str(error)), _kind_of(error), "", _clip(note, 4000)
        if isinstance(error, AssertionError):  # CheckFailed, or a bare assert on the student's data
            return (Status.FAILED, _clip(str(error) or "this check found a wrong answer"), FailureKind.WRONG_ANSWER,
                    "", "")
        # The check's own code failed. Provisionally a grader error; the runner runs the same check on the
        # reference solution and charges the student if it passes there (see runner.confirm_on_reference).
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return Status.GRADER_ERROR, GRADER_ERROR_MESSAGE, FailureKind.GRADER, trace[-20_000:], ""


GRADER_ERROR_MESSAGE = ("this check could not run because of a fault in the grader, not in your work: it is left "
                        "out of your score and of the maximum, and your instructor has been told")


def _kind_of(error: SandboxError) -> FailureKind:
    if isinstance(error, StudentError):
        return FailureKind.NOT_IMPLEMENTED if error.exc_type == "NotImplementedError" else FailureKind.STUDENT_ERROR
    for kind, types in ((FailureKind.MISSING, MissingName), (FailureKind.TIMEOUT, CallTimeout),
                        (FailureKind.CRASH, ChildDied), (FailureKind.UNREADABLE_ANSWER, ProtocolViolation),
                        (FailureKind.NOTEBOOK, NotebookUnavailable)):
        if isinstance(error, types):
            return kind
    return FailureKind.STUDENT_ERROR


def _bare_report(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    if call.excinfo is None:
        outcome, longrepr = "passed", None
    elif isinstance(call.excinfo.value, pytest.skip.Exception):
        path, line, _ = item.location
        outcome, longrepr = "skipped", (path, (line or 0) + 1, str(call.excinfo.value))
    else:
        outcome, longrepr = "failed", f"{call.excinfo.typename} (traceback withheld)"
    return pytest.TestReport(item.nodeid, item.location, {name: 1 for name in item.keywords}, outcome, longrepr,
                             call.when, duration=call.duration, start=call.start, stop=call.stop)


def notebook_of(module: object) -> str:
    stem = getattr(module, "NOTEBOOK", None)
    if not isinstance(stem, str):
        raise SuiteError(f"{getattr(module, '__file__', module)}: define NOTEBOOK = '<notebook stem>' at the top")
    return stem


def check_spec(item: pytest.Item) -> CheckSpec:
    where = f"{item.path.name}::{item.name}"
    marker = item.get_closest_marker("grade")
    if marker is None:
        raise SuiteError(f"{where}: every hidden check needs @pytest.mark.grade(points, fn='name')")
    if len(marker.args) != 1 or "fn" not in marker.kwargs:
        raise SuiteError(f"{where}: use @pytest.mark.grade(points, fn='name'), got args={marker.args} "
                         f"kwargs={marker.kwargs}")
    unknown = set(marker.kwargs) - {"fn", "extra_credit", "returns"}
    if unknown:
        raise SuiteError(f"{where}: @pytest.mark.grade takes fn=, extra_credit= and returns=; unknown "
                         f"{', '.join(sorted(unknown))}")
    for flag in ("extra_credit", "returns"):
        if not isinstance(marker.kwargs.get(flag, False), bool):
            raise SuiteError(f"{where}: {flag}= must be True or False, got {marker.kwargs[flag]!r}")
    points = marker.args[0]
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
        raise SuiteError(f"{where}: grade points must be a positive number, got {points!r}")
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()
    return CheckSpec(
        notebook=notebook_of(item.module),
        name=item.name,
        function=str(marker.kwargs["fn"]),
        description=doc[0] if doc else item.name,
        points=float(points),
        extra_credit=bool(marker.kwargs.get("extra_credit", False)),
        judges_returns=bool(marker.kwargs.get("returns", False)),
    )


def _clip(text: str, limit: int = 1500) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"
