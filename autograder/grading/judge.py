"""Helpers that hidden suites use to judge what the student's code returned.

Every failure message is written for the student: it names the defect
(type, dtype, shape, device, values) and never shows an expected value.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

import torch

from autograder.sandbox.client import Ref
from autograder.sandbox.codec import TensorMeta, tensor_meta
from autograder.sandbox.errors import StudentError

__all__ = ["CheckFailed", "ExtraCreditUnavailable", "StudentError", "fail", "not_available",
           "meta", "describe", "expect_tensor", "expect_number"]


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
        info = meta(value)
        return f"a {info.type_name}" if info.type_name != "torch.Tensor" else "a torch.Tensor"
    if isinstance(value, Ref):
        return f"a {value.type_name}"
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def meta(tensor: torch.Tensor) -> TensorMeta:
    """What the notebook process reported about a tensor it returned."""
    info = tensor_meta(tensor)
    if info is None:  # a tensor built on the trusted side
        info = TensorMeta("torch.Tensor", tensor.dtype, tuple(tensor.shape), str(tensor.device),
                          tensor.requires_grad, None, tensor.is_leaf)
    return info


def expect_tensor(actual: Any, expected: torch.Tensor, *, what: str, atol: float = 0.0, rtol: float = 0.0,
                  hint: str = "") -> None:
    """Fail unless ``actual`` is a plain tensor with the expected dtype, shape, device and values."""
    suffix = f": {hint}" if hint else ""
    if not isinstance(actual, torch.Tensor):
        fail(f"{what} should return a torch.Tensor, but returned {describe(actual)}")
    info = meta(actual)
    if info.type_name == "numpy.ndarray":
        fail(f"{what} returned a NumPy array; return a torch.Tensor instead")
    if info.type_name != "torch.Tensor":
        fail(f"{what} returned a {info.type_name}; return a plain torch.Tensor")
    if torch.device(info.device).type != expected.device.type:
        fail(f"{what} returned a tensor on device {info.device}, expected {expected.device.type}")
    if info.dtype != expected.dtype:
        fail(f"{what} returned dtype {info.dtype}, expected {expected.dtype}")
    if tuple(info.shape) != tuple(expected.shape):
        fail(f"{what} returned shape {tuple(info.shape)}, expected shape {tuple(expected.shape)}{suffix}")
    if expected.device.type == "meta":
        return
    got, want = actual.detach(), expected.detach()
    if got.is_floating_point() or got.is_complex():
        same = torch.allclose(got, want, atol=atol, rtol=rtol, equal_nan=True)
    else:
        same = torch.equal(got, want)
    if not same:
        fail(f"{what} returned the right shape and dtype but wrong values{suffix}")


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
