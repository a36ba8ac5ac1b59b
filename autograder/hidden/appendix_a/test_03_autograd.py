"""Hidden checks for 03_autograd.ipynb: the logistic-regression graph and its gradients (A.3, A.4).

The reference forward pass, loss and gradients are computed here with torch itself on
the book's example (x1=1.1, w1=2.2, b=0.0, y=1.0) and on random scalars and vectors
in float32 and float64.  Inputs reach the notebook as plain tensors that do not require
gradients; results must keep the dtype of the inputs.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from autograder.grading.judge import describe, expect_tensor, fail, meta

NOTEBOOK = "03_autograd"

ATOL = 1e-5      # float32 results computed with the same operations agree far better than this
RTOL = 1e-4
BOOK_ATOL = 1e-4
PRECISE_ATOL = 1e-12  # float64 autograd is exact to ~1e-16; finite differences are off by ~1e-10


def _float(rng: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=rng))


def _int(rng: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (), generator=rng))


def _book() -> tuple[torch.Tensor, ...]:
    return torch.tensor([1.1]), torch.tensor([2.2]), torch.tensor([0.0]), torch.tensor([1.0])


def _nonzero(rng: torch.Generator, low: float, high: float) -> float:
    """A value with low <= |value| <= high and a random sign."""
    sign = 1.0 if _int(rng, 0, 1) else -1.0
    return sign * _float(rng, low, high)


def _scalars(rng: torch.Generator, dtype: torch.dtype = torch.float32, label: float | None = None):
    """0-d x1, w1, b, y with |x1 * w1 + b| below 5 and a bias that is not close to 0."""
    x1 = _float(rng, -2.0, 2.0)
    w1 = _float(rng, -2.0, 2.0)
    b = _nonzero(rng, 0.3, 1.0)
    y = float(_int(rng, 0, 1)) if label is None else label
    return tuple(torch.tensor(v, dtype=dtype) for v in (x1, w1, b, y))


def _vectors(rng: torch.Generator, dtype: torch.dtype = torch.float32):
    """x1 and y of shape (n,) (both labels present), w1 of shape (1,), b 0-d."""
    n = _int(rng, 3, 10)
    x1 = (torch.rand(n, generator=rng, dtype=torch.float64) * 4 - 2).to(dtype)
    y = torch.randint(0, 2, (n,), generator=rng).to(dtype)
    y[0], y[1] = 0.0, 1.0
    w1 = torch.tensor([_float(rng, -2.0, 2.0)], dtype=dtype)
    b = torch.tensor(_nonzero(rng, 0.3, 1.0), dtype=dtype)
    return x1, w1, b, y


def ref_forward(x1, w1, b):
    return torch.sigmoid(x1 * w1 + b)


def ref_loss(x1, w1, b, y):
    return F.binary_cross_entropy(ref_forward(x1, w1, b), y)


def ref_gradients(x1, w1, b, y):
    w = w1.detach().clone().requires_grad_(True)
    bias = b.detach().clone().requires_grad_(True)
    grad_w, grad_b = torch.autograd.grad(ref_loss(x1, w, bias, y), (w, bias))
    return grad_w, grad_b


# ------------------------------------------------------------------ logistic_forward


@pytest.mark.grade(1, fn="logistic_forward")
def test_logistic_forward_book_example(nb):
    """The book's example: x1=1.1, w1=2.2, b=0.0."""
    x1, w1, b, _ = _book()
    expect_tensor(nb.logistic_forward(x1, w1, b), ref_forward(x1, w1, b), what="logistic_forward(x1, w1, b)",
                  atol=ATOL, rtol=RTOL, hint="apply torch.sigmoid to x1 * w1 + b")


@pytest.mark.grade(1, fn="logistic_forward")
def test_logistic_forward_random_scalars(nb, rng):
    """Random 0-d inputs with a nonzero bias."""
    for _ in range(3):
        x1, w1, b, _ = _scalars(rng)
        expect_tensor(nb.logistic_forward(x1, w1, b), ref_forward(x1, w1, b),
                      what="logistic_forward(x1, w1, b) for random 0-d tensors", atol=ATOL, rtol=RTOL,
                      hint="compute sigmoid(x1 * w1 + b), bias included")


@pytest.mark.grade(1, fn="logistic_forward")
def test_logistic_forward_vectors(nb, rng):
    """A vector of samples x1 with one weight and one bias: one probability per sample."""
    x1, w1, b, _ = _vectors(rng)
    expect_tensor(nb.logistic_forward(x1, w1, b), ref_forward(x1, w1, b),
                  what="logistic_forward(x1, w1, b) for a vector x1", atol=ATOL, rtol=RTOL,
                  hint="compute sigmoid(x1 * w1 + b) element-wise")


@pytest.mark.grade(1, fn="logistic_forward")
def test_logistic_forward_float64(nb, rng):
    """float64 inputs give a float64 result."""
    for x1, w1, b, _ in (_scalars(rng, torch.float64), _vectors(rng, torch.float64)):
        result = nb.logistic_forward(x1, w1, b)
        if not isinstance(result, torch.Tensor):
            fail(f"logistic_forward should return a torch.Tensor, but returned {describe(result)}")
        if meta(result).dtype != torch.float64:
            fail(f"logistic_forward returned dtype {meta(result).dtype} for float64 inputs; "
                 "compute with the inputs' dtype (do not convert or build new tensors)")


# ------------------------------------------------------------------ logistic_loss


@pytest.mark.grade(1, fn="logistic_loss")
def test_logistic_loss_book_example(nb):
    """The book's example: the loss is a 0-d tensor."""
    x1, w1, b, y = _book()
    expect_tensor(nb.logistic_loss(x1, w1, b, y), ref_loss(x1, w1, b, y), what="logistic_loss(x1, w1, b, y)",
                  atol=ATOL, rtol=RTOL, hint="use F.binary_cross_entropy(prediction, y)")


@pytest.mark.grade(1, fn="logistic_loss")
def test_logistic_loss_random_scalars(nb, rng):
    """Random 0-d inputs with label 0 and with label 1."""
    for label in (0.0, 1.0, float(_int(rng, 0, 1))):
        x1, w1, b, y = _scalars(rng, label=label)
        expect_tensor(nb.logistic_loss(x1, w1, b, y), ref_loss(x1, w1, b, y),
                      what="logistic_loss(x1, w1, b, y) for random 0-d tensors", atol=ATOL, rtol=RTOL,
                      hint="use the binary cross-entropy of sigmoid(x1 * w1 + b) against y (for y = 0 too)")


@pytest.mark.grade(1, fn="logistic_loss")
def test_logistic_loss_vectors(nb, rng):
    """Several samples: the loss is the mean over the samples, a 0-d tensor."""
    x1, w1, b, y = _vectors(rng)
    expect_tensor(nb.logistic_loss(x1, w1, b, y), ref_loss(x1, w1, b, y),
                  what="logistic_loss(x1, w1, b, y) for vectors of samples", atol=ATOL, rtol=RTOL,
                  hint="the loss over several samples is their mean binary cross-entropy (not the sum)")


@pytest.mark.grade(1, fn="logistic_loss")
def test_logistic_loss_float64(nb, rng):
    """float64 inputs give a float64 loss."""
    for x1, w1, b, y in (_scalars(rng, torch.float64), _vectors(rng, torch.float64)):
        result = nb.logistic_loss(x1, w1, b, y)
        if not isinstance(result, torch.Tensor):
            fail(f"logistic_loss should return a torch.Tensor, but returned {describe(result)}")
        if meta(result).dtype != torch.float64:
            fail(f"logistic_loss returned dtype {meta(result).dtype} for float64 inputs; "
                 "compute with the inputs' dtype")


@pytest.mark.grade(1, fn="logistic_loss")
def test_logistic_loss_saturated_predictions(nb, rng):
    """The loss stays finite when a prediction is exactly 0 or 1 in float32."""
    n = _int(rng, 2, 5)
    x1 = torch.cat([torch.rand(n, generator=rng) * 20 + 30, torch.rand(2, generator=rng) * 4 - 2])
    y = torch.cat([torch.zeros(n), torch.tensor([0.0, 1.0])])
    w1, b = torch.tensor([1.0]), torch.tensor(0.0)
    result = nb.logistic_loss(x1, w1, b, y)
    if not isinstance(result, torch.Tensor):
        fail(f"logistic_loss should return a torch.Tensor, but returned {describe(result)}")
    if meta(result).shape != () or meta(result).dtype != torch.float32:
        fail("logistic_loss should return a 0-d float32 tensor for float32 inputs")
    if not math.isfinite(float(result)):
        fail("logistic_loss returned inf or nan when a prediction is exactly 1.0: a hand-written "
             "log(1 - prediction) breaks there; F.binary_cross_entropy clamps the logarithm")
    clamped = ref_loss(x1, w1, b, y)
    exact = F.binary_cross_entropy_with_logits(x1 * w1 + b, y)
    if not any(torch.allclose(result, want, atol=ATOL, rtol=RTOL) for want in (clamped, exact)):
        fail("logistic_loss returned a wrong value when some predictions are exactly 0 or 1")


# ------------------------------------------------------------------ gradients (shared)


def _pair(result, fn: str) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{fn} should return a tuple (dL/dw1, dL/db), but returned {describe(result)}")
    for name, grad in zip(("dL/dw1", "dL/db"), result):
        if grad is None:
            fail(f"{fn} returned None for {name}: gradients are only stored for leaf tensors that "
                 "require gradients (w1.detach().clone().requires_grad_())")
    return tuple(result)


def _expect_gradients(nb, fn: str, inputs, *, atol: float, rtol: float, where: str, hint: str = "") -> None:
    result = _pair(getattr(nb, fn)(*inputs), fn)
    want = ref_gradients(*inputs)
    swapped = all(
        isinstance(got, torch.Tensor) and got.shape == other.shape and got.dtype == other.dtype
        and torch.allclose(got, other, atol=atol, rtol=rtol)
        for got, other in zip(result, reversed(want))
    )
    right = all(
        isinstance(got, torch.Tensor) and got.shape == exp.shape and got.dtype == exp.dtype
        and torch.allclose(got, exp, atol=atol, rtol=rtol)
        for got, exp in zip(result, want)
    )
    if swapped and not right:
        fail(f"{fn} {where} returned the two gradients in the wrong order: return (dL/dw1, dL/db)")
    for name, got, exp in zip(("dL/dw1", "dL/db"), result, want):
        expect_tensor(got, exp, what=f"{name} from {fn} {where}", atol=atol, rtol=rtol, hint=hint)


def _expect_float64(nb, fn: str, rng) -> None:
    result = _pair(getattr(nb, fn)(*_scalars(rng, torch.float64)), fn)
    for name, grad in zip(("dL/dw1", "dL/db"), result):
        if not isinstance(grad, torch.Tensor):
            fail(f"{fn} should return tensors, but {name} is {describe(grad)}")
        if meta(grad).dtype != torch.float64:
            fail(f"{fn} returned {name} with dtype {meta(grad).dtype} for float64 inputs; "
                 "keep the dtype of the inputs (copy them with .detach().clone())")
        if tuple(meta(grad).shape) != ():
            fail(f"{fn} returned {name} of shape {tuple(meta(grad).shape)} for 0-d inputs: "
                 "each gradient should have the shape of its parameter")


def _expect_plain(nb, fn: str, rng) -> None:
    for inputs in (_book(), _vectors(rng)):
        returned, after, _ = nb.call_inspecting(fn, *inputs)
        for name, before, now in zip(("x1", "w1", "b", "y"), inputs, after):
            if not isinstance(now, torch.Tensor) or meta(now).requires_grad or meta(now).dtype != before.dtype \
                    or not torch.equal(now.detach(), before):
                fail(f"{fn} modified its input {name} in place (it now requires grad or has other values): "
                     "leave the inputs alone and differentiate a copy, e.g. w1.detach().clone().requires_grad_()")
        result = _pair(returned, fn)
        for name, grad in zip(("dL/dw1", "dL/db"), result):
            if not isinstance(grad, torch.Tensor):
                fail(f"{fn} should return tensors, but {name} is {describe(grad)}")
            info = meta(grad)
            if info.requires_grad or info.grad_fn is not None:
                fail(f"{fn} returned {name} with a computation graph attached (requires_grad=True): return "
                     "plain gradients (no create_graph=True), or .detach() them")


# ------------------------------------------------------------------ loss_gradients


@pytest.mark.grade(1, fn="loss_gradients")
def test_loss_gradients_book_example(nb):
    """The book's example gives about (-0.0898, -0.0817)."""
    _expect_gradients(nb, "loss_gradients", _book(), atol=BOOK_ATOL, rtol=0.0, where="for the book's example")


@pytest.mark.grade(1, fn="loss_gradients")
def test_loss_gradients_random_scalars(nb, rng):
    """Random 0-d float32 inputs."""
    for _ in range(3):
        _expect_gradients(nb, "loss_gradients", _scalars(rng), atol=ATOL, rtol=RTOL, where="for random 0-d inputs")


@pytest.mark.grade(1, fn="loss_gradients")
def test_loss_gradients_vectors(nb, rng):
    """Several samples: gradients of the mean loss, shaped like w1 (1 element) and b (0-d)."""
    _expect_gradients(nb, "loss_gradients", _vectors(rng), atol=ATOL, rtol=RTOL, where="for vectors of samples",
                      hint="differentiate the mean loss over all samples; each gradient has its parameter's shape")


@pytest.mark.grade(1, fn="loss_gradients")
def test_loss_gradients_float64(nb, rng):
    """float64 inputs give float64 gradients."""
    _expect_float64(nb, "loss_gradients", rng)


@pytest.mark.grade(1, fn="loss_gradients")
def test_loss_gradients_exact(nb, rng):
    """In float64 the gradients are exact to about 1e-12 (autograd, not finite differences)."""
    for _ in range(4):
        _expect_gradients(nb, "loss_gradients", _scalars(rng, torch.float64), atol=PRECISE_ATOL, rtol=0.0,
                          where="for float64 inputs",
                          hint="the values are close but not exact: compute the gradients with "
                               "torch.autograd.grad instead of approximating them")


@pytest.mark.grade(1, fn="loss_gradients")
def test_loss_gradients_plain_tensors(nb, rng):
    """The gradients come back as plain tensors without a computation graph; the inputs are left untouched."""
    _expect_plain(nb, "loss_gradients", rng)


# ------------------------------------------------------------------ backward_gradients


@pytest.mark.grade(1, fn="backward_gradients")
def test_backward_gradients_book_example(nb):
    """The book's example gives about (-0.0898, -0.0817)."""
    _expect_gradients(nb, "backward_gradients", _book(), atol=BOOK_ATOL, rtol=0.0, where="for the book's example")


@pytest.mark.grade(1, fn="backward_gradients")
def test_backward_gradients_random_scalars(nb, rng):
    """Random 0-d float32 inputs."""
    for _ in range(3):
        _expect_gradients(nb, "backward_gradients", _scalars(rng), atol=ATOL, rtol=RTOL,
                          where="for random 0-d inputs")


@pytest.mark.grade(1, fn="backward_gradients")
def test_backward_gradients_vectors(nb, rng):
    """Several samples: gradients of the mean loss, shaped like w1 (1 element) and b (0-d)."""
    _expect_gradients(nb, "backward_gradients", _vectors(rng), atol=ATOL, rtol=RTOL,
                      where="for vectors of samples",
                      hint="differentiate the mean loss over all samples; each gradient has its parameter's shape")


@pytest.mark.grade(1, fn="backward_gradients")
def test_backward_gradients_float64(nb, rng):
    """float64 inputs give float64 gradients."""
    _expect_float64(nb, "backward_gradients", rng)


@pytest.mark.grade(1, fn="backward_gradients")
def test_backward_gradients_plain_tensors(nb, rng):
    """The gradients come back as plain tensors without a computation graph."""
    _expect_plain(nb, "backward_gradients", rng)
