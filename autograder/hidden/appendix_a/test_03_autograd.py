"""Hidden checks for 03_autograd.ipynb: the logistic-regression graph and its gradients (A.3, A.4).

The reference forward pass, loss and gradients are computed here with torch itself on
the book's example (x1=1.1, w1=2.2, b=0.0, y=1.0) and on random scalars and vectors
in float32 and float64.  Inputs reach the notebook as plain tensors that do not require
gradients; results must keep the dtype of the inputs.

Each function is judged on its own: while the loss is checked, the notebook's
``logistic_forward`` is a trusted stand-in (``nb.substituted``), and while the gradients
are checked, ``logistic_forward`` and ``logistic_loss`` both are.  A mistake in the
forward pass then costs the forward pass's checks only.

Every call goes through :func:`_arguments.call_twice`: the function is called twice with
the same arguments, each call must leave x1, w1, b and y as they were (values, dtype,
shape, requires_grad), and the two answers must be the same (no state kept between calls).
float64 results are held to float64 precision, not just to the float64 dtype.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from _arguments import call_twice
from autograder.grading.judge import describe, expect_tensor, fail, matching_variant, meta

NOTEBOOK = "03_autograd"

ATOL = 1e-5      # float32 results computed with the same operations agree far better than this
RTOL = 1e-4
BOOK_ATOL = 1e-4
PRECISE_ATOL = 1e-12  # float64 autograd is exact to ~1e-16; finite differences are off by ~1e-10
FLOAT64_ATOL, FLOAT64_RTOL = 1e-12, 1e-10  # float64 forward passes and losses; a float32 detour is off by ~1e-8

PARAMETERS = {"logistic_forward": ("x1", "w1", "b"), "logistic_loss": ("x1", "w1", "b", "y"),
              "loss_gradients": ("x1", "w1", "b", "y"), "backward_gradients": ("x1", "w1", "b", "y")}


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


_Z = ["add", ["mul", ["arg", 0], ["arg", 1]], ["arg", 2]]
FORWARD_STAND_IN = ["sigmoid", _Z]
LOSS_STAND_IN = ["binary_cross_entropy", ["sigmoid", _Z], ["arg", 3]]
FOR_LOSS = {"logistic_forward": FORWARD_STAND_IN}
FOR_GRADIENTS = {"logistic_forward": FORWARD_STAND_IN, "logistic_loss": LOSS_STAND_IN}


def _call(nb, fn: str, *inputs):
    """Call ``fn`` twice, with trusted stand-ins for the helpers it may call (see the module docstring);
    both calls must leave the inputs as they were and give the same answer."""
    stand_ins = {"logistic_loss": FOR_LOSS, "loss_gradients": FOR_GRADIENTS,
                 "backward_gradients": FOR_GRADIENTS}.get(fn)
    if not stand_ins:
        return call_twice(nb, fn, *inputs, names=PARAMETERS[fn])
    with nb.substituted(stand_ins):
        return call_twice(nb, fn, *inputs, names=PARAMETERS[fn])


def ref_forward(x1, w1, b):
    return torch.sigmoid(x1 * w1 + b)


def ref_loss(x1, w1, b, y):
    return F.binary_cross_entropy(ref_forward(x1, w1, b), y)


def ref_gradients(x1, w1, b, y):
    w = w1.detach().clone().requires_grad_(True)
    bias = b.detach().clone().requires_grad_(True)
    grad_w, grad_b = torch.autograd.grad(ref_loss(x1, w, bias, y), (w, bias))
    return grad_w, grad_b


def _dtype_of_a_real_answer(result, want: torch.Tensor, fn: str, advice: str) -> None:
    """Fail unless ``result`` has ``want``'s dtype; the point needs a recognisable answer too."""
    if not isinstance(result, torch.Tensor):
        fail(f"{fn} should return a torch.Tensor, but returned {describe(result)}")
    if meta(result).dtype != want.dtype:
        fail(f"{fn} returned dtype {meta(result).dtype} for {want.dtype} inputs; {advice}")
    if matching_variant(result, {"": want}, atol=1e-4, rtol=1e-3) is None:
        fail(f"{fn} returned the right dtype but wrong values for {want.dtype} inputs (see the other checks)")
    if want.dtype == torch.float64 and matching_variant(result, {"": want}, atol=FLOAT64_ATOL,
                                                        rtol=FLOAT64_RTOL) is None:
        fail(f"{fn} returned float64 values that are only as precise as float32: compute in the inputs' "
             "dtype all the way (no detour through float32 or Python numbers)")


# ------------------------------------------------------------------ logistic_forward


@pytest.mark.grade(1, fn="logistic_forward", returns=True)
def test_logistic_forward_keeps_graph(nb):
    """The book's example with w1 and b requiring gradients: the prediction is right and part of the graph."""
    x1, w1, b, _ = _book()
    w1, b = w1.clone().requires_grad_(True), b.clone().requires_grad_(True)
    result = _call(nb, "logistic_forward", x1, w1, b)
    expect_tensor(result, ref_forward(x1, w1, b).detach(), what="logistic_forward(x1, w1, b)",
                  atol=ATOL, rtol=RTOL, hint="apply torch.sigmoid to x1 * w1 + b")
    if not meta(result).requires_grad:
        fail("logistic_forward cut the computation graph: with w1 and b requiring gradients the prediction "
             "should require gradients too. Compute with the tensors themselves (no .detach(), .item(), "
             ".tolist() or torch.tensor(...) around intermediate results)")


@pytest.mark.grade(1, fn="logistic_forward")
def test_logistic_forward_random_scalars(nb, rng):
    """Random 0-d inputs with a nonzero bias, one x1 twice with another weight and bias."""
    cases = [_scalars(rng)[:3] for _ in range(3)]
    _, other_w1, other_b, _ = _scalars(rng)
    cases.append((cases[0][0], other_w1, other_b))  # a prediction depends on all three inputs
    for x1, w1, b in cases:
        expect_tensor(_call(nb, "logistic_forward", x1, w1, b), ref_forward(x1, w1, b),
                      what="logistic_forward(x1, w1, b) for random 0-d tensors", atol=ATOL, rtol=RTOL,
                      hint="compute sigmoid(x1 * w1 + b), bias included")


@pytest.mark.grade(1, fn="logistic_forward")
def test_logistic_forward_vectors(nb, rng):
    """A vector of samples x1 with one weight and one bias: one probability per sample."""
    x1, w1, b, _ = _vectors(rng)
    expect_tensor(_call(nb, "logistic_forward", x1, w1, b), ref_forward(x1, w1, b),
                  what="logistic_forward(x1, w1, b) for a vector x1", atol=ATOL, rtol=RTOL,
                  hint="compute sigmoid(x1 * w1 + b) element-wise")


@pytest.mark.grade(1, fn="logistic_forward")
def test_logistic_forward_float64(nb, rng):
    """float64 inputs give a float64 result, precise to float64."""
    for x1, w1, b, _ in (_scalars(rng, torch.float64), _vectors(rng, torch.float64)):
        result = _call(nb, "logistic_forward", x1, w1, b)
        _dtype_of_a_real_answer(result, ref_forward(x1, w1, b), "logistic_forward",
                                "compute with the inputs' dtype (do not convert or build new tensors)")


# ------------------------------------------------------------------ logistic_loss


@pytest.mark.grade(1, fn="logistic_loss", returns=True)
def test_logistic_loss_book_example(nb):
    """The book's example: the loss is a 0-d tensor."""
    x1, w1, b, y = _book()
    expect_tensor(_call(nb, "logistic_loss", x1, w1, b, y), ref_loss(x1, w1, b, y),
                  what="logistic_loss(x1, w1, b, y)", atol=ATOL, rtol=RTOL,
                  hint="use F.binary_cross_entropy(prediction, y)")


@pytest.mark.grade(1, fn="logistic_loss")
def test_logistic_loss_random_scalars(nb, rng):
    """Random 0-d inputs with label 0 and with label 1, one prediction against both labels."""
    cases = [_scalars(rng, label=label) for label in (0.0, 1.0, float(_int(rng, 0, 1)))]
    x1, w1, b, y = cases[0]
    cases.append((x1, w1, b, 1.0 - y))  # a loss depends on the label too
    for x1, w1, b, y in cases:
        expect_tensor(_call(nb, "logistic_loss", x1, w1, b, y), ref_loss(x1, w1, b, y),
                      what="logistic_loss(x1, w1, b, y) for random 0-d tensors", atol=ATOL, rtol=RTOL,
                      hint="use the binary cross-entropy of sigmoid(x1 * w1 + b) against y (for y = 0 too)")


@pytest.mark.grade(1, fn="logistic_loss")
def test_logistic_loss_vectors(nb, rng):
    """Several samples: the loss is the mean over the samples, a 0-d tensor."""
    x1, w1, b, y = _vectors(rng)
    prediction = ref_forward(x1, w1, b)
    mistakes = {
        "the loss over several samples is their mean binary cross-entropy, not the sum":
            F.binary_cross_entropy(prediction, y, reduction="sum"),
        "the loss should be one number, the mean over the samples (reduce the per-sample losses)":
            F.binary_cross_entropy(prediction, y, reduction="none"),
    }
    expect_tensor(_call(nb, "logistic_loss", x1, w1, b, y), ref_loss(x1, w1, b, y),
                  what="logistic_loss(x1, w1, b, y) for vectors of samples", atol=ATOL, rtol=RTOL,
                  variants=mistakes, hint="the loss over several samples is their mean binary cross-entropy")


@pytest.mark.grade(1, fn="logistic_loss")
def test_logistic_loss_float64(nb, rng):
    """float64 inputs give a float64 loss, precise to float64."""
    for x1, w1, b, y in (_scalars(rng, torch.float64), _vectors(rng, torch.float64)):
        result = _call(nb, "logistic_loss", x1, w1, b, y)
        want = ref_loss(x1, w1, b, y)
        # any reduction counts here: the mean is the vector check's business
        for reduction in ("sum", "none"):
            other = F.binary_cross_entropy(ref_forward(x1, w1, b), y, reduction=reduction)
            if matching_variant(result, {"": other}, atol=1e-4, rtol=1e-3) is not None:
                want = other
        _dtype_of_a_real_answer(result, want, "logistic_loss", "compute with the inputs' dtype")


@pytest.mark.grade(1, fn="logistic_loss")
def test_logistic_loss_saturated_predictions(nb, rng):
    """The loss stays finite when a prediction is exactly 0 or 1 in float32."""
    w1, b = torch.tensor([1.0]), torch.tensor(0.0)
    # one sample per call, so that how several samples are reduced plays no part here
    cases = [(_float(rng, 30.0, 50.0), 0.0), (-_float(rng, 110.0, 130.0), 1.0),
             (_float(rng, 30.0, 50.0), 1.0), (-_float(rng, 110.0, 130.0), 0.0)]
    for value, label in cases:
        x1, y = torch.tensor([value]), torch.tensor([label])
        result = _call(nb, "logistic_loss", x1, w1, b, y)
        if not isinstance(result, torch.Tensor):
            fail(f"logistic_loss should return a torch.Tensor, but returned {describe(result)}")
        if not bool(torch.isfinite(result.detach()).all()):
            fail("logistic_loss returned inf or nan when a prediction is exactly 0 or 1: a hand-written "
                 "log(prediction) or log(1 - prediction) breaks there; F.binary_cross_entropy clamps the logarithm")
        clamped = ref_loss(x1, w1, b, y)
        exact = F.binary_cross_entropy_with_logits(x1 * w1 + b, y)
        if matching_variant(result, {"clamped": clamped, "exact": exact}, atol=ATOL, rtol=RTOL) is None:
            fail("logistic_loss returned a wrong value for a single sample whose prediction is exactly 0 or 1 "
                 "(see the other loss checks for ordinary predictions)")


# ------------------------------------------------------------------ gradients (shared)


def _pair(result, fn: str) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{fn} should return a tuple (dL/dw1, dL/db), but returned {describe(result)}")
    for name, grad in zip(("dL/dw1", "dL/db"), result):
        if grad is None:
            fail(f"{fn} returned None for {name}: gradients are only stored for leaf tensors that "
                 "require gradients (w1.detach().clone().requires_grad_())")
    return tuple(result)


def _expect_gradients(nb, fn: str, inputs, *, atol: float, rtol: float, where: str, hint: str = "",
                      hint_if_close: str = "") -> None:
    result = _pair(_call(nb, fn, *inputs), fn)
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
        if hint_if_close and isinstance(got, torch.Tensor) and got.shape == exp.shape \
                and torch.allclose(got.detach().double(), exp.double(), atol=1e-6, rtol=1e-5):
            hint = hint_if_close
        expect_tensor(got, exp, what=f"{name} from {fn} {where}", atol=atol, rtol=rtol, hint=hint)


def _expect_float64(nb, fn: str, rng) -> None:
    inputs = _scalars(rng, torch.float64)
    result = _pair(_call(nb, fn, *inputs), fn)
    want = ref_gradients(*inputs)
    for name, grad, exp, other in zip(("dL/dw1", "dL/db"), result, want, reversed(want)):
        if not isinstance(grad, torch.Tensor):
            fail(f"{fn} should return tensors, but {name} is {describe(grad)}")
        if meta(grad).dtype != torch.float64:
            fail(f"{fn} returned {name} with dtype {meta(grad).dtype} for float64 inputs; "
                 "keep the dtype of the inputs (copy them with .detach().clone())")
        if tuple(meta(grad).shape) != ():
            fail(f"{fn} returned {name} of shape {tuple(meta(grad).shape)} for 0-d inputs: "
                 "each gradient should have the shape of its parameter")
        # the order of the pair is the value checks' business
        if matching_variant(grad, {"": exp, "swapped": other}, atol=1e-4, rtol=1e-3) is None:
            fail(f"{fn} returned float64 gradients with wrong values (see the other checks)")


def _expect_plain(nb, fn: str, rng) -> None:
    for inputs in (_book(), _vectors(rng)):
        result = _pair(_call(nb, fn, *inputs), fn)  # the inputs left alone: every call is held to it
        for name, grad in zip(("dL/dw1", "dL/db"), result):
            if not isinstance(grad, torch.Tensor):
                fail(f"{fn} should return tensors, but {name} is {describe(grad)}")
            info = meta(grad)
            if info.requires_grad or info.grad_fn is not None:
                fail(f"{fn} returned {name} with a computation graph attached (requires_grad=True): return "
                     "plain gradients (no create_graph=True), or .detach() them")
        # plain tensors are worth the point only when they are gradients (values: the other checks)
        want = ref_gradients(*inputs)
        if not all(matching_variant(grad, {"": exp, "swapped": other}, atol=1e-3, rtol=1e-2) is not None
                   for grad, exp, other in zip(result, want, reversed(want))):
            fail(f"{fn} should return the two gradients (see the other checks for their values)")


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
                          hint_if_close="compute the gradients with torch.autograd.grad instead of "
                                        "approximating them (finite differences are close but not exact)")


@pytest.mark.grade(1, fn="loss_gradients", returns=True)
def test_loss_gradients_plain_tensors(nb, rng):
    """The gradients come back as plain tensors without a computation graph."""
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


@pytest.mark.grade(1, fn="backward_gradients", returns=True)
def test_backward_gradients_plain_tensors(nb, rng):
    """The gradients come back as plain tensors without a computation graph."""
    _expect_plain(nb, "backward_gradients", rng)
