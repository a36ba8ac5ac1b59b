"""What can go wrong when the grader talks to a student's notebook process.

Each exception carries a sentence meant for the student's feedback: it says
what happened in their notebook, never anything about the hidden checks.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base class for failures around the sandboxed notebook process."""


class SandboxUnavailable(SandboxError):
    """The sandbox could not start, or cannot give the protections that were required."""


class StudentError(SandboxError):
    """The student's code raised an exception while the grader called it."""

    def __init__(self, *, function: str, exc_type: str, message: str, where: tuple[str, ...] = ()) -> None:
        self.function = function
        self.exc_type = exc_type
        self.message = message
        self.where = where
        super().__init__(self.describe())

    def describe(self) -> str:
        if self.exc_type == "NotImplementedError":
            return f"`{self.function}` is not implemented yet (it still raises NotImplementedError)"
        location = f" ({self.where[-1]})" if self.where else ""
        text = f": {self.message}" if self.message else ""
        return f"`{self.function}` raised {self.exc_type}{text}{location}"


class MissingName(SandboxError):
    """The notebook does not define a name that a check needs."""

    def __init__(self, name: str, notebook: str) -> None:
        self.name = name
        super().__init__(
            f"`{name}` is not defined in {notebook}.ipynb: keep its cell, with the exact name, and run it"
        )


class CallTimeout(SandboxError, TimeoutError):
    """A call into student code ran past its time limit."""


class ChildDied(SandboxError):
    """The notebook process ended while the grader needed it."""


class ProtocolViolation(SandboxError):
    """The notebook process sent something that is not a valid reply."""


class NotebookUnavailable(SandboxError):
    """The notebook could not be graded at all (missing, not valid JSON, ...)."""
