"""Holding a student's returned value to its function's declared return type (the outline's ``returns``).

Two questions, asked in this order by :class:`autograder.grading.session.StudentNotebook`:

- :func:`unusable_problem`, after **every** call: can trusted code use this value as the
  declaration says at all?  A NaN where an int is needed, a complex or meta tensor
  where a real CPU tensor is needed, a tensor where a loader is needed, a tuple of the
  wrong length.  Such a value fails the check at the boundary, with the mistake named,
  before any suite code touches it; so it can never raise inside a suite and pass
  for a grader fault.
- :func:`inexact_problem`, only in the check that judges the function's return type
  (``@pytest.mark.grade(..., returns=True)``): is it exactly the declared type?  A list
  where a tuple is declared, ``numpy.int64`` where a Python int is, a tensor subclass
  where a plain tensor is.  One check loses its point for a wrong type; the others judge
  the values.

Both answer ``None`` (fine) or a sentence for the student, naming types only.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from autograder.course.returns import NUMBERS, Kind, Returns
from autograder.grading.judge import describe
from autograder.sandbox.client import Ref
from autograder.sandbox.codec import tensor_meta


def unusable_problem(value: Any, declared: Returns, *, devices: frozenset[str] = frozenset({"cpu"})) -> str | None:
    """Why ``value`` cannot be judged as ``declared`` (a sentence), or None.

    ``devices``: the device types a returned tensor may be on (the CPU, and any device the check
    itself sent, such as ``meta``).
    """
    kind = declared.kind
    if kind in (Kind.ANY, Kind.NONE):
        return None
    if kind is Kind.EITHER:
        problems = [unusable_problem(value, choice, devices=devices) for choice in declared.items]
        return None if None in problems else f"returned {describe(value)}, not {declared.words()}"
    if kind in NUMBERS:
        return _number_problem(value, devices, finite=kind is not Kind.FLOAT)
    if kind is Kind.TENSOR:
        return _tensor_problem(value, devices)
    if kind is Kind.OBJECT:
        return None if isinstance(value, Ref) else (f"returned {describe(value)} where {declared.words()} is needed: "
                                                    "return the object itself")
    if kind is Kind.STR:
        return None if isinstance(value, str) else f"returned {describe(value)}, not a str"
    if kind is Kind.DICT:
        return None if isinstance(value, dict) else f"returned {describe(value)}, not a dict"
    if kind is Kind.DEVICE:
        return None if isinstance(value, (torch.device, str)) else f"returned {describe(value)}, not a torch.device"
    if not isinstance(value, (list, tuple)):
        return f"returned {describe(value)}, not {declared.words()}"
    if kind is Kind.TUPLE and len(value) != len(declared.items):
        return f"returned {len(value)} items, not {declared.words()}"
    items = declared.items if kind is Kind.TUPLE else declared.items * len(value)
    for index, (item, item_declared) in enumerate(zip(value, items)):
        problem = unusable_problem(item, item_declared, devices=devices)
        if problem is not None:
            return f"returned {declared.words()} whose item {index} is {problem.removeprefix('returned ')}"
    return None


def inexact_problem(value: Any, declared: Returns) -> str | None:
    """Why ``value`` is not exactly of the declared type (a sentence), or None."""
    kind = declared.kind
    if kind is Kind.ANY:
        return None
    if kind is Kind.EITHER:
        problems = [inexact_problem(value, choice) for choice in declared.items]
        return None if None in problems else f"returned {describe(value)}, not {declared.words()}"
    wrong = f"returned {describe(value)}; return {declared.words()}"
    if kind is Kind.NONE:
        return None if value is None else wrong
    if kind is Kind.BOOL:
        return None if type(value) is bool else wrong
    if kind is Kind.INT:
        return None if type(value) is int else wrong + _CONVERT.get(kind, "")
    if kind is Kind.FLOAT:  # an int is a float by Python's numeric tower; a bool or a NumPy scalar is not
        return None if type(value) in (float, int) else wrong + _CONVERT.get(kind, "")
    if kind is Kind.TENSOR:
        info = tensor_meta(value) if isinstance(value, torch.Tensor) else None
        return None if info is not None and info.type_name == "torch.Tensor" else wrong
    if kind is Kind.STR:
        return None if type(value) is str else wrong
    if kind is Kind.DICT:
        return None if isinstance(value, dict) else wrong
    if kind is Kind.DEVICE:
        return None if type(value) is torch.device else wrong
    if kind is Kind.OBJECT:
        return None if isinstance(value, Ref) else wrong
    if type(value) is not (tuple if kind is Kind.TUPLE else list):
        return wrong
    items = declared.items if kind is Kind.TUPLE else declared.items * len(value)
    for index, (item, item_declared) in enumerate(zip(value, items)):
        problem = inexact_problem(item, item_declared)
        if problem is not None:
            return (f"item {index} of what it returned is {describe(item)}, not {item_declared.words()}"
                    f"{_CONVERT.get(item_declared.kind, '')}")
    return None


_CONVERT = {Kind.INT: " (for example with int(...))", Kind.FLOAT: " (for example with loss.item() or float(...))"}


def _number_problem(value: Any, devices: frozenset[str], *, finite: bool) -> str | None:
    """``finite``: NaN and infinities cannot stand for the number (an int or a bool); a float may be NaN
    (a diverged training loss), which trusted code compares without raising."""
    if isinstance(value, torch.Tensor):
        problem = _tensor_problem(value, frozenset({"cpu"}))
        if problem is not None:
            return problem
        if value.numel() != 1:
            return f"returned a tensor of shape {tuple(value.shape)}, not a single number"
        value = value.item()
    elif not isinstance(value, (int, float)):  # bool is an int: usable, and only the exact type may fail it
        return f"returned {describe(value)}, not a number"
    if finite and isinstance(value, float) and not math.isfinite(value):
        return f"returned {'nan' if math.isnan(value) else 'an infinite value'}, not a finite number"
    return None


def _tensor_problem(value: Any, devices: frozenset[str]) -> str | None:
    if not isinstance(value, torch.Tensor):
        return f"returned {describe(value)}, not a torch.Tensor"
    if value.is_complex():
        return f"returned a complex tensor ({value.dtype}); the exercise works with real numbers"
    if value.device.type not in devices:
        return (f"returned a tensor on the {value.device.type} device, which holds no values: compute "
                "the result from the inputs")
    return None
