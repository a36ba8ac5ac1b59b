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
    """The student's code raised an exception while the grader called it.

    ``exc_type``, ``message`` and ``where`` are the notebook process's own words: suites may compare
    them with known texts to choose a (failing) verdict, but never show them.  What the student is shown,
    ``str(error)``, is built from :mod:`autograder.sandbox.vocabulary` alone: the exception's type if it
    is a builtin or torch one, and the cell and line if they exist in the notebook (``located``), never
    the message, which may spell out a hidden input.  ``note`` is a text of the grader's own.
    """

    def __init__(self, *, function: str, exc_type: str, message: str, where: tuple[str, ...] = (),
                 note: str = "", shown_where: str = "") -> None:
        from autograder.sandbox.vocabulary import exception_name

        self.function = function
        self.exc_type = exception_name(exc_type)
        self.raw_type = exc_type
        self.message = message
        self.where = where
        self.note = note
        self.shown_where = shown_where
        super().__init__(self.describe())

    def located(self, cells: tuple[str, ...]) -> "StudentError":
        """The same error, shown with where it was raised when that is a real cell and line of ``cells``."""
        from autograder.sandbox.vocabulary import location

        return StudentError(function=self.function, exc_type=self.raw_type, message=self.message, where=self.where,
                            note=self.note, shown_where=location(self.where, cells))

    def describe(self) -> str:
        if self.exc_type == "NotImplementedError":
            return f"`{self.function}` is not implemented yet (it still raises NotImplementedError)"
        from autograder.sandbox.vocabulary import known_error

        location = f" ({self.shown_where})" if self.shown_where else ""
        note = self.note or known_error(self.message)
        note = f": {note}" if note else ""
        return f"`{self.function}` raised {self.exc_type}{note}{location}"

    def instructor_text(self) -> str:
        """The exception as the notebook process reported it, for the instructor only."""
        where = f" ({'; '.join(self.where)})" if self.where else ""
        return f"{self.raw_type}: {self.message}{where}"


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
    """The notebook process sent something that is not a valid reply.

    The message is the grader's own; ``detail`` (what exactly was wrong, with sizes and names taken
    from the reply) is for the instructor only.
    """

    def __init__(self, message: str, *, detail: str = "") -> None:
        self.detail = detail
        super().__init__(message)


class NotebookUnavailable(SandboxError):
    """The notebook could not be graded at all (missing, not valid JSON, ...)."""
