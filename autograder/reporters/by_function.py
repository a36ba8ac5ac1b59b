"""Check results grouped by the student function they test, as every student-facing summary tells them.

Student feedback, the nbgrader comments and the pull-request summary all speak of functions: a
function that is still a stub is one line ("`gram` is not implemented yet"), however many checks
it has; any other function is a line with one entry per failed check, each message once.  What
counts as "not implemented" is decided here, from the results model (:class:`Status` and
:class:`FailureKind`), never from message texts.

The groups hold the checks as they came: :class:`~autograder.grading.results.CheckResult` or the
reporters' :class:`~autograder.reporters.classdata.CheckRecord` (whose ``status`` is the value of a
:class:`Status`).  Function names (from the course outline and the hidden suites' markers) are
rendered as code; messages, which may quote a student's code or values, stay literal text
(:mod:`.encoding`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection, Generic, Iterable, Protocol, TypeVar

from autograder.grading.results import FailureKind, Status
from autograder.output_encoding import markdown_code, markdown_text

__all__ = ["FunctionChecks", "by_function", "markdown_lines"]


class Judged(Protocol):
    function: str
    status: str   # a Status, or its value
    kind: FailureKind | None
    message: str
    description: str


C = TypeVar("C", bound=Judged)


@dataclass(frozen=True)
class FunctionChecks(Generic[C]):
    """The checks of one student function, in the order they ran."""

    function: str
    checks: tuple[C, ...]

    @property
    def counted(self) -> tuple[C, ...]:
        """The checks that passed or failed (not those unavailable here or broken by a grader error)."""
        return tuple(check for check in self.checks if check.status in (Status.PASSED, Status.FAILED))

    @property
    def failed(self) -> tuple[C, ...]:
        return tuple(check for check in self.checks if check.status == Status.FAILED)

    @property
    def not_implemented(self) -> bool:
        """Whether every check that counted failed because the function still raises NotImplementedError."""
        counted = self.counted
        return bool(counted) and all(check.status == Status.FAILED and check.kind == FailureKind.NOT_IMPLEMENTED
                                     for check in counted)

    def messages(self, *, shown: Collection[str] = ()) -> list[str]:
        """What went wrong, each message once, in order; without those in ``shown`` (the notebook's
        problems, already told once), and nothing for a function that is not implemented."""
        if self.not_implemented:
            return []
        told = dict.fromkeys(check.message or check.description for check in self.failed)
        return [message for message in told if message and message not in shown]

    def headline(self, *, code: Callable[[str], str], checks: str = "hidden check") -> str:
        """One sentence on the function: "`gram` is not implemented yet", or how many of its checks failed."""
        name = code(self.function)
        if self.not_implemented:
            return f"{name} is not implemented yet"
        failed, counted = len(self.failed), len(self.counted)
        if counted == 1:
            return f"{name} failed its {checks}" if failed else f"{name} passed its {checks}"
        return f"{name} failed {failed} of its {counted} {checks}s"


def by_function(checks: Iterable[C]) -> list[FunctionChecks[C]]:
    """``checks`` grouped by function, functions in the order of their first check."""
    groups: dict[str, list[C]] = {}
    for check in checks:
        groups.setdefault(check.function, []).append(check)
    return [FunctionChecks(function, tuple(group)) for function, group in groups.items()]


def markdown_lines(group: FunctionChecks, *, shown: Collection[str] = (), checks: str = "hidden check",
                   text: Callable[[str], str] = markdown_text) -> list[str]:
    """``group`` as Markdown: its headline, then a bullet per message (``text`` escapes each one).

    A stub is its headline alone; a function whose failures ``shown`` already explains (a notebook
    problem) or that failed nothing is no line at all.  Callers indent or prefix the lines as their
    layout wants: the headline is the first line, the bullets follow as ``"  - ..."``.
    """
    if group.not_implemented:
        return [group.headline(code=markdown_code, checks=checks) + "."]
    messages = group.messages(shown=shown)
    if not messages:
        return []
    return [group.headline(code=markdown_code, checks=checks) + ":"] + [f"  - {text(message)}" for message in messages]
