"""Visible checks that students run inside the exercise notebooks.

A visible check cell looks like::

    from autograder.visible import checking

    with checking("gram") as check:
        t = torch.tensor([[1., 2.]])
        check.equal(gram(t), torch.tensor([[5.]]), args=(t,))

It prints one short verdict and never a raw traceback: an unfinished stub says
"not implemented yet", a wrong answer says what is wrong.  Given the arguments of the
call (``args=``), a wrong answer that is a known mistake (:mod:`autograder.mistakes`)
is named in the words the hidden checks use for it.  A verdict other than
"passed" then makes the cell fail with :class:`VisibleCheckError`, shown by
Jupyter as one line (IPython's ``_render_traceback_`` hook), so that Jupyter,
``nbgrader validate`` and the Assignments panel report the notebook as failing.
Graders that run every cell (``autograder check``, the grading sandbox) read the
verdicts and go on.  These checks are a
convenience for students; the score comes from the hidden suites, which run
many more tests on random inputs in a separate process.

This module ships to students, so it must never import anything hidden.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterator

__all__ = ["checking", "VisibleCheckFailed", "VisibleCheckError", "VisibleOutcome", "OUTCOMES"]


class VisibleCheckFailed(AssertionError):
    """A visible check found a wrong answer; the message says what is wrong."""


class VisibleCheckError(Exception):
    """Raised by a check cell whose verdict is not "passed", after the verdict is printed.

    Jupyter shows it as one short line instead of a traceback through this module.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


@dataclass(frozen=True)
class VisibleOutcome:
    name: str
    status: str  # "passed", "failed", "not implemented", "error"
    message: str


# Every verdict printed in this process, in order; `autograder check` reads it.
OUTCOMES: list[VisibleOutcome] = []


def _is_tensor(value: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - the course always has torch
        return None
    return torch


class Checker:
    """The object bound by ``with checking(name) as check``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.passed = 0

    def true(self, condition: Any, message: str) -> None:
        """Pass when ``condition`` is truthy; otherwise fail with ``message``."""
        if not condition:
            raise VisibleCheckFailed(message)
        self.passed += 1

    def equal(self, actual: Any, expected: Any, message: str | None = None, *, args: tuple | None = None) -> None:
        """Exact equality; for tensors the dtype and shape must match too.

        ``args``: the arguments of the call that returned ``actual``, so that a known mistake is named.
        """
        if _is_tensor(expected):
            torch = _torch()
            self._tensor(actual, expected, args, same=lambda: torch.equal(actual.cpu(), expected.cpu()), atol=0.0,
                         message=message or f"{self.name} returned different values than expected")
        elif actual != expected:
            raise VisibleCheckFailed(message or f"{self.name} returned {actual!r}, expected {expected!r}")
        self.passed += 1

    def close(self, actual: Any, expected: Any, *, atol: float = 1e-4, message: str | None = None,
              args: tuple | None = None) -> None:
        """Equality up to ``atol``; for tensors the dtype and shape must match (``args`` as for :meth:`equal`)."""
        if _is_tensor(expected):
            torch = _torch()
            self._tensor(actual, expected, args, atol=atol,
                         same=lambda: torch.allclose(actual.detach().cpu(), expected.cpu(), atol=atol, rtol=0),
                         message=message or f"{self.name} returned values that are not close to the expected ones")
        else:
            try:
                ok = math.isclose(float(actual), float(expected), abs_tol=atol, rel_tol=0)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise VisibleCheckFailed(message or f"{self.name} returned {actual!r}, expected about {expected!r}")
        self.passed += 1

    def _tensor(self, actual: Any, expected: Any, args: tuple | None, *, same, atol: float, message: str) -> None:
        """Fail unless ``actual`` is a tensor of ``expected``'s shape and dtype for which ``same()`` holds;
        a known mistake is named first, as the hidden checks name it."""
        kind = self._tensor_kind(actual, expected)
        if kind is None and same():
            return
        if args is not None:
            from autograder.mistakes import known_mistakes, matching_mistake

            diagnosis = matching_mistake(actual, known_mistakes(self.name, expected, *args), atol=atol)
            if diagnosis is not None:
                raise VisibleCheckFailed(diagnosis)
        raise VisibleCheckFailed(kind or message)

    def _tensor_kind(self, actual: Any, expected: Any) -> str | None:
        """What is wrong with ``actual``'s type, shape or dtype, or None."""
        if not _is_tensor(actual):
            return f"{self.name} should return a torch.Tensor, got {type(actual).__name__}"
        if actual.shape != expected.shape:
            return f"{self.name} returned shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
        if actual.dtype != expected.dtype:
            return f"{self.name} returned dtype {actual.dtype}, expected {expected.dtype}"
        return None


def _record(name: str, status: str, message: str) -> None:
    OUTCOMES.append(VisibleOutcome(name=name, status=status, message=message))
    mark = {"passed": "\u2713", "not implemented": "\u2026"}.get(status, "\u2717")
    print(f"{mark} {name}: {message}")


@contextlib.contextmanager
def checking(name: str) -> Iterator[Checker]:
    """Run the visible checks of one function, print a friendly verdict, and fail the cell unless it passed."""
    check = Checker(name)
    try:
        yield check
    except NotImplementedError:
        status = "not implemented"
        _record(name, status, "not implemented yet. Fill in its cell, run it, then run this cell again.")
    except VisibleCheckFailed as failure:
        status = "failed"
        _record(name, status, str(failure))
    except NameError as error:
        status = "error"
        _record(name, status, f"{error}. Run the cell that defines it first.")
    except Exception as error:  # a student's bug: show its type and text, not a traceback
        status = "error"
        _record(name, status, f"{name} raised {type(error).__name__}: {error}")
    else:
        noun = "check" if check.passed == 1 else "checks"
        _record(
            name,
            "passed",
            f"{check.passed} visible {noun} passed. The grader tests more cases.",
        )
        return
    raise VisibleCheckError(OUTCOMES[-1].message if status != "not implemented" else
                            f"{name} is not implemented yet") from None
