"""Trusted stand-ins for a student's helper functions, built from a small expression spec.

Runs inside the notebook process.  A check of ``logistic_loss`` should judge the
loss, not the student's ``logistic_forward`` it calls; so while that check runs, the
name ``logistic_forward`` in the notebook's namespace is bound to a stand-in the
grader described (``nb.substituted``), and a mistake in the forward pass costs only
the forward pass's own checks.

A spec is data, never code: nested lists ``[op, operand, ...]`` over a fixed table
of torch operations, where ``["arg", i]`` is the stand-in's i-th argument::

    ["sigmoid", ["add", ["mul", ["arg", 0], ["arg", 1]], ["arg", 2]]]
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

_OPERATIONS: dict[str, Callable[..., Any]] = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "sigmoid": torch.sigmoid,
    "binary_cross_entropy": F.binary_cross_entropy,
    "mean": torch.mean,
}
_MAX_DEPTH = 16


def build_stand_in(spec: list, *, name: str) -> Callable[..., Any]:
    """A function computing ``spec`` from its positional arguments (checked before use)."""
    _check(spec, 0)

    def stand_in(*args: Any) -> Any:
        return _evaluate(spec, args)

    stand_in.__name__ = stand_in.__qualname__ = name
    return stand_in


def _check(node: Any, depth: int) -> None:
    if depth > _MAX_DEPTH or not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise ValueError("malformed stand-in spec")
    if node[0] == "arg":
        if len(node) != 2 or type(node[1]) is not int or node[1] < 0:
            raise ValueError("malformed argument in stand-in spec")
        return
    if node[0] not in _OPERATIONS:
        raise ValueError(f"unknown operation {node[0][:40]!r} in stand-in spec")
    for operand in node[1:]:
        _check(operand, depth + 1)


def _evaluate(node: list, args: tuple) -> Any:
    if node[0] == "arg":
        return args[node[1]]
    return _OPERATIONS[node[0]](*(_evaluate(operand, args) for operand in node[1:]))
