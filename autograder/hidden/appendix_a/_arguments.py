"""Calls of student functions that hold them to two rules every Appendix A notebook relies on.

* A function leaves the tensors it is given as they were: after the call, every tensor
  argument, as the notebook process holds it (``nb.call_inspecting``), still has the
  values, dtype, shape, device and ``requires_grad`` flag it was sent with.
* A function keeps no state between calls: called twice with the same arguments, it gives
  the same answer (the same type, dtype, shape and values).

Trusted code of the hidden suites, imported like ``appendix_a_reference`` (the suites'
folder is on ``sys.path`` while they are collected).  Messages name the argument and what
changed about it (its shape, its dtype), never a value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from autograder.grading.judge import Ref, fail, meta, tensor_change

__all__ = ["InNotebook", "call_once", "call_twice"]

IN_PLACE_EXAMPLES = "`+=`, `*=`, `.mul_()`, `.add_()`, `.t_()`, `.transpose_()`, `.resize_()`"


@dataclass(frozen=True)
class InNotebook:
    """An argument that exists only in the notebook process (a view made by ``nb.view_in_notebook``)
    and the trusted tensor it equals, which the argument must still equal after the call."""

    ref: Ref
    value: torch.Tensor


def call_once(nb, name: str, *args: Any, names: Sequence[str]) -> Any:
    """Call ``name`` once; fail if the call changed one of its tensor arguments. Return the result.

    ``names`` are the function's parameter names, for the message (``("x1", "w1", "b", "y")``).
    """
    sent = [arg.ref if isinstance(arg, InNotebook) else arg for arg in args]
    trusted = [arg.value if isinstance(arg, InNotebook) else arg for arg in args]
    result, after, _ = nb.call_inspecting(name, *sent)
    for index, before in enumerate(trusted):
        if not isinstance(before, torch.Tensor):
            continue  # ints and other immutable values cannot be changed by the call
        label = names[index] if index < len(names) else f"number {index + 1}"
        now = after[index] if isinstance(after, (list, tuple)) and index < len(after) else None
        change = tensor_change(before, now)
        if change:
            _fail_changed(name, label, change)
    return result


def call_twice(nb, name: str, *args: Any, names: Sequence[str]) -> Any:
    """Call ``name`` twice with the same arguments (fresh copies each time); fail if a call changed
    an argument or the two answers differ. Return the first answer."""
    first = call_once(nb, name, *args, names=names)
    second = call_once(nb, name, *args, names=names)
    if not _same_answer(first, second):
        fail(f"`{name}` gave a different answer when it was called again with the same arguments: keep no "
             "state between calls (no module-level variable that a call changes, no cached result, no "
             "gradient left over on a tensor kept from an earlier call)")
    return first


def _fail_changed(name: str, label: str, change: str) -> None:
    if "requires grad" in change:
        advice = (f"calling `.requires_grad_()` on `{label}` changes the caller's tensor: work on a copy such "
                  f"as `{label}.detach().clone().requires_grad_()`")
    else:
        advice = (f"compute a new tensor instead: an in-place operation on `{label}` ({IN_PLACE_EXAMPLES}) "
                  "writes into the caller's tensor")
    fail(f"`{name}` changed its argument `{label}` ({change}): leave the tensors it is given as they were; "
         f"{advice}")


def _same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.is_floating_point() or a.is_complex():
        return bool(torch.allclose(a, b, rtol=0.0, atol=0.0, equal_nan=True))
    return bool(torch.equal(a, b))


def _same_answer(first: Any, second: Any) -> bool:
    """Whether two answers of the same call are the same: type, dtype, shape, requires_grad and values."""
    if isinstance(first, torch.Tensor) or isinstance(second, torch.Tensor):
        if not (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)):
            return False
        a, b = meta(first), meta(second)
        if (a.type_name, a.dtype, tuple(a.shape), a.device, a.requires_grad) != (
                b.type_name, b.dtype, tuple(b.shape), b.device, b.requires_grad):
            return False
        return a.device == "meta" or _same_values(first, second)
    if isinstance(first, Ref) or isinstance(second, Ref):
        # objects that stay in the notebook cannot be compared here; what they are is other checks' business
        return isinstance(first, Ref) and isinstance(second, Ref) and first.type_name == second.type_name
    if type(first) is not type(second):
        return False
    if isinstance(first, (list, tuple)):
        return len(first) == len(second) and all(_same_answer(a, b) for a, b in zip(first, second))
    if isinstance(first, dict):
        return first.keys() == second.keys() and all(_same_answer(first[key], second[key]) for key in first)
    if isinstance(first, float) and math.isnan(first):
        return math.isnan(second)
    try:
        return bool(first == second)
    except Exception:  # a value that cannot be compared: the other checks judge it
        return True
