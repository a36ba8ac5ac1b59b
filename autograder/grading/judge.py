"""Helpers that hidden suites use to judge what the student's code returned.

Every failure message is written for the student: it names the defect
(type, dtype, shape, device, values) and never shows an expected value.

Message policy (README "Grading policy"): a message may name the shapes and dtypes
of hidden inputs and results; it never shows their values, nor any hidden code.
Check messages written with these helpers follow it by construction.  Nothing the
notebook process says is shown as it came: an exception's text never, type names only
from :mod:`autograder.sandbox.vocabulary`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, NoReturn

import torch

from autograder.grading import accelerators
from autograder.grading.stand_in_device import (PROBE, STAND_IN_DEVICE, Placement, expected_step,
                                                on_stand_in_device, well_separated)
from autograder.mistakes import known_mistakes, matching_mistake
from autograder.sandbox.client import Ref
from autograder.sandbox.codec import ForeignFloat, ForeignInt, TensorMeta, tensor_meta
from autograder.sandbox.errors import CallTimeout, SandboxError, StudentError
from autograder.sandbox.vocabulary import OWN_CLASS, type_name

# The whole API of a hidden suite: a suite imports from this module only (held by
# tests/importlinter-suites.toml, tests/test_layers.py), besides torch, pytest and its own folder.
__all__ = [
    # outcomes
    "CheckFailed", "ExtraCreditUnavailable", "fail", "not_available",
    # judging values that came back
    "meta", "describe", "expect_tensor", "expect_number", "same_tensor", "matching_variant", "known_mistakes",
    "tensor_change",
    # what a call can raise, and what stays in the notebook process
    "StudentError", "SandboxError", "CallTimeout", "Ref",
    # the grading machine's own accelerators, and the stand-in device for training loops
    "accelerators", "PROBE", "STAND_IN_DEVICE", "Placement", "expected_step", "on_stand_in_device",
    "well_separated",
]


class CheckFailed(AssertionError):
    """A check found a defect; the message is shown to the student."""


class ExtraCreditUnavailable(Exception):
    """Extra credit that cannot be earned on this grading machine."""


def fail(message: str) -> NoReturn:
    raise CheckFailed(message)


def not_available(message: str) -> NoReturn:
    raise ExtraCreditUnavailable(message)


def describe(value: Any) -> str:
    """A short, student-facing name for what a function returned."""
    if isinstance(value, torch.Tensor):
        shown = type_name(meta(value).type_name)
        return shown if shown == OWN_CLASS else f"a {shown}"
    if isinstance(value, Ref):
        shown = type_name(value.type_name)
        return shown if shown == OWN_CLASS else f"a {shown}"
    if isinstance(value, (ForeignInt, ForeignFloat)):  # a NumPy scalar, or another number type
        shown = type_name(value.type_name)
        return shown if shown == OWN_CLASS else f"a {shown}"
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def meta(tensor: torch.Tensor) -> TensorMeta:
    """What the grader knows about a tensor: dtype, shape, device and requires_grad read from the
    tensor itself; type_name and grad_fn as the notebook process named them (for messages, and for
    failing a check, never for passing one).  See :mod:`autograder.sandbox.codec`."""
    info = tensor_meta(tensor)
    if info is None:  # a tensor built on the trusted side
        info = TensorMeta("torch.Tensor", tensor.dtype, tuple(tensor.shape), str(tensor.device),
                          tensor.requires_grad, None, tensor.is_leaf)
    return info


def same_tensor(actual: Any, expected: torch.Tensor, *, atol: float = 0.0, rtol: float = 0.0) -> bool:
    """Whether ``actual`` is a plain tensor equal to ``expected`` in dtype, shape, device and values."""
    if not isinstance(actual, torch.Tensor):
        return False
    info = meta(actual)
    if (info.type_name != "torch.Tensor" or info.dtype != expected.dtype
            or tuple(info.shape) != tuple(expected.shape)
            or torch.device(info.device).type != expected.device.type):
        return False
    if expected.device.type == "meta":
        return True
    got, want = actual.detach(), expected.detach()
    if got.is_floating_point() or got.is_complex():
        return torch.allclose(got, want, atol=atol, rtol=rtol, equal_nan=True)
    return torch.equal(got, want)


def matching_variant(actual: Any, variants: Mapping[str, torch.Tensor], *, atol: float = 0.0,
                     rtol: float = 0.0) -> str | None:
    """The message of the first plausible wrong answer that ``actual`` equals (values only), or None.

    Suites diagnose a wrong answer by computing the results of the usual mistakes
    (a transpose instead of a reshape, a sum instead of a mean, ...) and naming the one
    that matches; :mod:`autograder.mistakes` holds those the visible checks name too.
    """
    return matching_mistake(actual, variants, atol=atol, rtol=rtol)


def expect_tensor(actual: Any, expected: torch.Tensor, *, what: str, atol: float = 0.0, rtol: float = 0.0,
                  hint: str = "", variants: Mapping[str, torch.Tensor] | None = None) -> None:
    """Fail unless ``actual`` is a plain tensor with the expected dtype, shape, device and values.

    ``variants`` maps a message to the result of a plausible mistake: when ``actual``
    equals one of them (by value, whatever its dtype), that message is the failure.
    ``hint`` is added to a value mismatch that no variant explains.
    """
    suffix = f": {hint}" if hint else ""
    if not isinstance(actual, torch.Tensor):
        fail(f"{what} should return a torch.Tensor, but returned {describe(actual)}")
    info = meta(actual)
    if info.type_name == "numpy.ndarray":
        fail(f"{what} returned a NumPy array; return a torch.Tensor instead")
    if info.type_name != "torch.Tensor":
        fail(f"{what} returned a {info.type_name}; return a plain torch.Tensor")
    if variants:
        diagnosis = matching_variant(actual, variants, atol=atol, rtol=rtol)
        if diagnosis is not None and not same_tensor(actual, expected, atol=atol, rtol=rtol):
            fail(f"{what}: {diagnosis}")
    if torch.device(info.device).type != expected.device.type:
        fail(f"{what} returned a tensor on device {info.device}, expected {expected.device.type}")
    if info.dtype != expected.dtype:
        fail(f"{what} returned dtype {info.dtype}, expected {expected.dtype}")
    if tuple(info.shape) != tuple(expected.shape):
        fail(f"{what} returned shape {tuple(info.shape)}, expected shape {tuple(expected.shape)}{suffix}")
    if expected.device.type == "meta":
        return
    if not same_tensor(actual, expected, atol=atol, rtol=rtol):
        got, want = actual.detach().double(), expected.detach().double()
        nearly = bool(torch.allclose(got, want, atol=max(atol, 1e-12) * 100, rtol=max(rtol, 1e-12) * 100,
                                     equal_nan=True)) if got.is_floating_point() or want.is_floating_point() else False
        closeness = " (close, but not within the tolerance)" if nearly else ""
        fail(f"{what} returned the right shape and dtype but wrong values{closeness}{suffix}")


def expect_number(actual: Any, expected: float, *, what: str, atol: float = 1e-6, hint: str = "") -> None:
    """Fail unless ``actual`` is a number (or a one-element tensor) within ``atol`` of ``expected``."""
    suffix = f": {hint}" if hint else ""
    if isinstance(actual, torch.Tensor):
        if actual.numel() != 1:
            fail(f"{what} should be a single number, but returned a tensor of shape {tuple(actual.shape)}")
        actual = actual.item()
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        fail(f"{what} should be a number, but returned {describe(actual)}")
    if not math.isclose(float(actual), float(expected), abs_tol=atol, rel_tol=0.0):
        fail(f"{what} returned a wrong value{suffix}")


def tensor_change(before: torch.Tensor, now: Any) -> str:
    """What a call changed about a tensor argument it was given, in words ("its dtype became ..."), or ``""``.

    ``before`` is what the grader sent, ``now`` the argument as the notebook process held it
    after the call (``nb.call_inspecting``).
    """
    if not isinstance(now, torch.Tensor):
        return "it is no longer a tensor"
    info = meta(now)
    if tuple(info.shape) != tuple(before.shape):
        return f"its shape became {tuple(info.shape)}"
    if info.dtype != before.dtype:
        return f"its dtype became {info.dtype}"
    if torch.device(info.device).type != before.device.type:
        return f"it was moved to {torch.device(info.device).type}"
    if info.requires_grad != meta(before).requires_grad:  # meta: a tensor that came back keeps its flag there
        return "it now requires grad" if info.requires_grad else "it no longer requires grad"
    if before.device.type != "meta" and not _same_values(before.detach(), now.detach()):
        return "its values were changed"
    return ""


def _same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.is_floating_point() or a.is_complex():
        return bool(torch.allclose(a, b, rtol=0.0, atol=0.0, equal_nan=True))
    return bool(torch.equal(a, b))
