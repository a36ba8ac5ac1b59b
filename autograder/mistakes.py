"""Known wrong answers, named in the same words by the visible checks and by the hidden suites.

A student who computes ``t.T @ t`` for ``gram`` should read "compute t @ t.T, not t.T @ t"
whichever check caught it: the visible check cell on the notebook's public example, or a
hidden check on its own inputs.  Each entry of :data:`MISTAKES` says, for one student
function, what a usual mistake returns, computed from the function's arguments and the
right answer.  Both sides compute it from what they have: the visible check from the public
example in its cell, the hidden suite from its own inputs and reference.  Nothing here holds
an input, an expected value or a solution.

This module ships to students with :mod:`autograder.visible`: it must never import anything
hidden, nor anything of the grader that a notebook does not need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch

__all__ = ["Mistake", "MISTAKES", "known_mistakes", "matching_mistake"]


@dataclass(frozen=True)
class Mistake:
    """One usual mistake: the message that names it, and what it returns.

    ``returns(right, *args)`` is the mistaken function's result for the arguments ``args``
    of the call whose right answer is ``right``.
    """

    message: str
    returns: Callable[..., torch.Tensor]


MISTAKES: dict[str, tuple[Mistake, ...]] = {
    "gram": (Mistake("compute t @ t.T, not t.T @ t", lambda right, t: t.T @ t),),
    "NeuralNetwork": (  # the call is model(x); right: the logits of the model's own layers
        Mistake("forward returns probabilities (softmax): return the raw logits of the last Linear layer; "
                "F.cross_entropy applies softmax itself", lambda right, x: torch.softmax(right, dim=1)),
        Mistake("forward returns log-probabilities (log_softmax): return the raw logits",
                lambda right, x: torch.log_softmax(right, dim=1)),
    ),
}


def known_mistakes(function: str, right: torch.Tensor, *args: Any) -> dict[str, torch.Tensor]:
    """The message of each known mistake of ``function`` -> what it returns for ``args`` (``right``: the
    right answer); the ``variants`` of :func:`autograder.grading.judge.expect_tensor`."""
    return {mistake.message: mistake.returns(right, *args) for mistake in MISTAKES.get(function, ())}


def matching_mistake(actual: Any, variants: Mapping[str, torch.Tensor], *, atol: float = 0.0,
                     rtol: float = 0.0) -> str | None:
    """The message of the first variant that ``actual`` equals (values and shape, whatever its dtype), or None.

    A check names a mistake by computing what the usual mistakes return and finding the one
    that matches, instead of guessing from the expected answer alone.
    """
    if not isinstance(actual, torch.Tensor):
        return None
    for message, wrong in variants.items():
        if tuple(actual.shape) != tuple(wrong.shape) or actual.device != wrong.device:
            continue
        got, want = actual.detach(), wrong.detach()
        if got.dtype != want.dtype:
            got, want = got.double(), want.double()
        close = (torch.allclose(got, want, atol=atol, rtol=rtol, equal_nan=True)
                 if got.is_floating_point() else torch.equal(got, want))
        if close:
            return message
    return None
