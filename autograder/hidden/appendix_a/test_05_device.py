"""Hidden checks for 05_device.ipynb: choosing a device and training on it (A.9).

The grader usually has no GPU.  Hardware is simulated in two ways:
``nb.patched`` replaces ``torch.cuda.is_available`` / ``torch.backends.mps.is_available``
by constants, and the ``meta`` device (tensors with a shape but no data) stands in for
an accelerator to see whether the model and the batches were moved.  Only the extra
credit needs a real CUDA or MPS device, and is "not available" without one.
"""

from __future__ import annotations

import math

import pytest
import torch

from appendix_a_reference import (
    as_float,
    model_from_state,
    random_classification,
    random_state_dict,
    reference_train,
    sequential_batches,
)
from autograder.grading.judge import StudentError, expect_tensor, fail, meta, not_available

NOTEBOOK = "05_device"

CUDA = "torch.cuda.is_available"
MPS = "torch.backends.mps.is_available"


def _int(rng: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (), generator=rng))


# ====================================================================== get_device


def _device_type(nb, cuda: bool, mps: bool) -> str:
    with nb.patched({CUDA: cuda, MPS: mps}):
        value = nb.get_device()
    if type(value) is torch.device:
        return value.type
    if isinstance(value, str):
        try:
            return torch.device(value).type
        except RuntimeError:
            fail("get_device returned a string that is not a device name")
    fail(f"get_device should return a torch.device, not {type(value).__name__}")


@pytest.mark.grade(1, fn="get_device")
def test_get_device_cuda(nb):
    """With only CUDA available, get_device picks CUDA."""
    found = _device_type(nb, cuda=True, mps=False)
    if found != "cuda":
        fail(f"with CUDA available (and no MPS) get_device returned a {found!r} device instead of CUDA")


@pytest.mark.grade(1, fn="get_device")
def test_get_device_prefers_cuda(nb):
    """With CUDA and MPS both available, CUDA wins."""
    found = _device_type(nb, cuda=True, mps=True)
    if found != "cuda":
        fail(f"with both CUDA and MPS available get_device returned a {found!r} device: test "
             "torch.cuda.is_available() first, then torch.backends.mps.is_available()")


@pytest.mark.grade(1, fn="get_device")
def test_get_device_mps(nb):
    """Without CUDA but with Apple's MPS backend, get_device picks MPS."""
    found = _device_type(nb, cuda=False, mps=True)
    if found != "mps":
        fail(f"with MPS available (and no CUDA) get_device returned a {found!r} device: "
             "check torch.backends.mps.is_available() when CUDA is missing")


@pytest.mark.grade(1, fn="get_device")
def test_get_device_cpu(nb):
    """Without CUDA or MPS, get_device falls back to the CPU."""
    found = _device_type(nb, cuda=False, mps=False)
    if found != "cpu":
        fail(f"with neither CUDA nor MPS available get_device returned a {found!r} device instead of the CPU")


@pytest.mark.grade(1, fn="get_device")
def test_get_device_returns_device(nb):
    """get_device returns a torch.device object (not a string)."""
    for cuda, mps in ((False, False), (True, False), (False, True)):
        with nb.patched({CUDA: cuda, MPS: mps}):
            value = nb.get_device()
        if type(value) is not torch.device:
            fail(f"get_device returned {type(value).__name__}; wrap the name in torch.device(...)")


# ====================================================================== to_device


def _moved(nb, rng, device):
    X, y = random_classification(rng, _int(rng, 2, 8), _int(rng, 2, 4), 3)
    if bool(torch.rand((), generator=rng) < 0.5):
        X = X.double()
    result = nb.to_device(X, y, device)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("to_device should return the pair (features, labels)")
    if not all(isinstance(part, torch.Tensor) for part in result):
        fail("to_device should return two tensors")
    return X, y, result


def _check_moved(part: torch.Tensor, original: torch.Tensor, what: str) -> None:
    info = meta(part)
    if info.device != "meta":
        fail(f"to_device left the {what} on {info.device}: call .to(device) on them too")
    if info.shape != tuple(original.shape) or info.dtype != original.dtype:
        fail(f"to_device changed the shape or dtype of the {what}: only the device should change")


@pytest.mark.grade(1, fn="to_device")
def test_to_device_features_moved(nb, rng):
    """The features are moved to the requested device, keeping shape and dtype."""
    X, _, (features, _) = _moved(nb, rng, torch.device("meta"))
    _check_moved(features, X, "features")


@pytest.mark.grade(1, fn="to_device")
def test_to_device_labels_moved(nb, rng):
    """The labels are moved to the requested device, keeping shape and dtype."""
    _, y, (_, labels) = _moved(nb, rng, torch.device("meta"))
    _check_moved(labels, y, "labels")


@pytest.mark.grade(1, fn="to_device")
def test_to_device_cpu_values(nb, rng):
    """Moving to the CPU (given as the string "cpu") keeps the values: features first, then labels."""
    X, y, (features, labels) = _moved(nb, rng, "cpu")
    expect_tensor(features, X, what="to_device(features, labels, 'cpu')[0]")
    expect_tensor(labels, y, what="to_device(features, labels, 'cpu')[1]")


# ====================================================================== train_on_device


def _training_case(nb, rng, *, record: bool = False):
    num_features, num_classes = _int(rng, 2, 4), _int(rng, 2, 3)
    batch_size = _int(rng, 2, 4)
    n = batch_size * _int(rng, 2, 3) + _int(rng, 0, batch_size - 1)
    X, y = random_classification(rng, n, num_features, num_classes)
    hidden = _int(rng, 3, 6)
    layers = [("linear", num_features, hidden), ("relu",), ("linear", hidden, num_classes)]
    state = random_state_dict(layers, rng)
    return {
        "model": nb.make_model(layers, state_dict=state, record=record),
        "loader": nb.make_loader(X, y, batch_size=batch_size, shuffle=False),
        "reference": model_from_state(layers, state),
        "initial": {key: value.clone() for key, value in state.items()},
        "batches": sequential_batches(X, y, batch_size),
        "epochs": (2, 4)[_int(rng, 0, 1)],
        "lr": round(0.05 + 0.8 * float(torch.rand((), generator=rng)), 3),
    }


def _train(nb, case, device):
    losses = nb.train_on_device(case["model"], case["loader"], device, epochs=case["epochs"], lr=case["lr"])
    expected = reference_train(case["reference"], case["batches"], case["epochs"], case["lr"])
    return losses, expected


def _check_losses(losses, expected, *, tolerance: float, where: str) -> None:
    if not isinstance(losses, (list, tuple)):
        fail("train_on_device should return a list of losses, one per batch")
    if len(losses) != len(expected):
        fail("train_on_device returned the wrong number of losses: one per batch for every epoch")
    for loss in losses:
        if type(loss) is not float:
            kind = "tensors" if isinstance(loss, torch.Tensor) else type(loss).__name__
            fail(f"train_on_device returned {kind} in its list; append loss.item() (a Python float)")
    for index, (value, wanted) in enumerate(zip(losses, expected)):
        if not math.isclose(as_float(value), wanted, abs_tol=tolerance, rel_tol=tolerance):
            if index == 0:
                fail(f"the first loss of train_on_device {where} is wrong: compute "
                     "F.cross_entropy(model(features), labels) before updating the weights")
            fail(f"the losses of train_on_device {where} drift away from plain SGD: call "
                 "optimizer.zero_grad() before loss.backward(), use the given lr, and take one "
                 "optimizer.step() per batch")


@pytest.mark.grade(2, fn="train_on_device")
def test_train_on_device_cpu_losses(nb, rng):
    """On the CPU, train_on_device returns the same float losses as plain SGD training."""
    case = _training_case(nb, rng)
    losses, expected = _train(nb, case, torch.device("cpu"))
    _check_losses(losses, expected, tolerance=1e-5, where="on the CPU")


@pytest.mark.grade(1, fn="train_on_device")
def test_train_on_device_cpu_weights(nb, rng):
    """On the CPU, the trained weights equal those of the reference SGD loop."""
    case = _training_case(nb, rng)
    _train(nb, case, torch.device("cpu"))
    found = nb.state_dict(case["model"])
    for key, wanted in case["reference"].state_dict().items():
        got = found[key]
        if got.shape == wanted.shape and torch.allclose(got, wanted, atol=1e-5, rtol=1e-5):
            continue
        if torch.equal(got, case["initial"][key]):
            fail("train_on_device did not change the model's weights: call optimizer.step() "
                 "after loss.backward()")
        fail("after train_on_device the weights differ from plain SGD with the given lr and epochs: "
             "check zero_grad, lr and one optimizer.step() per batch")


_MISMATCH = ("not on the expected device", "same device")


def _devices_seen_on_meta(nb, rng) -> tuple[list[tuple[str, str]], str]:
    """Train a recording model on the meta device.

    Returns the (input device, parameter device) pair of every forward call and the
    message of the error that stopped the loop ("" if none).  Nothing can be read from
    a meta tensor, so a correct loop fails at ``loss.item()``: that error is expected.
    """
    case = _training_case(nb, rng, record=True)
    error: StudentError | None = None
    try:
        nb.train_on_device(case["model"], case["loader"], torch.device("meta"), epochs=1, lr=0.1)
    except StudentError as raised:
        error = raised
    seen = case["model"].get("seen_devices")
    pairs = []
    for entry in seen or ():
        inputs, _, params = str(entry).partition("|")
        pairs.append((inputs, params))
    if not pairs:
        if error is not None:  # it failed before the first forward pass: show the student's error
            raise error
        fail("train_on_device never called the model on a batch")
    return pairs, error.message if error is not None else ""


@pytest.mark.grade(2, fn="train_on_device")
def test_train_on_device_moves_model(nb, rng):
    """The model is moved to the device before training (model.to(device))."""
    pairs, _ = _devices_seen_on_meta(nb, rng)
    if any(params != "meta" for _, params in pairs):
        fail("the model's parameters were not on the requested device during the forward pass: "
             "call model.to(device) before the training loop")


@pytest.mark.grade(2, fn="train_on_device")
def test_train_on_device_moves_batches(nb, rng):
    """Every batch, features and labels, is moved to the device before it is used."""
    pairs, message = _devices_seen_on_meta(nb, rng)
    if any(inputs != "meta" for inputs, _ in pairs):
        fail("the batches were not on the requested device when the model saw them: move features "
             "and labels with .to(device) inside the loop, before calling the model")
    if all(params == "meta" for _, params in pairs) and any(text in message for text in _MISMATCH):
        fail("the model and the features were on the device, but the loss mixed devices: "
             "move the labels of each batch to the device too")


# ====================================================================== extra credit: a real accelerator


def _accelerator(nb) -> str:
    facts = nb.environment()
    if facts.get("cuda"):
        return "cuda"
    if facts.get("mps"):
        return "mps"
    not_available("no CUDA or MPS device on the grading machine: extra credit was not available")


@pytest.mark.grade(5, fn="train_on_device", extra_credit=True)
def test_train_on_device_accelerator_losses(nb, rng):
    """On the grading machine's GPU (CUDA or MPS), the losses match CPU training."""
    accelerator = _accelerator(nb)
    case = _training_case(nb, rng)
    losses, expected = _train(nb, case, torch.device(accelerator))
    _check_losses(losses, expected, tolerance=1e-4, where=f"on {accelerator.upper()}")


@pytest.mark.grade(5, fn="train_on_device", extra_credit=True)
def test_train_on_device_accelerator_devices(nb, rng):
    """On the grading machine's GPU, the model and every batch really run on the GPU."""
    accelerator = _accelerator(nb)
    case = _training_case(nb, rng, record=True)
    nb.train_on_device(case["model"], case["loader"], torch.device(accelerator), epochs=1, lr=0.1)
    seen = [str(entry).partition("|") for entry in case["model"].get("seen_devices") or ()]
    if not seen:
        fail("train_on_device never called the model on a batch")
    if any(not params.startswith(accelerator) for _, _, params in seen):
        fail(f"the model's parameters were not on {accelerator.upper()} during training: call model.to(device)")
    if any(not inputs.startswith(accelerator) for inputs, _, _ in seen):
        fail(f"the batches were not on {accelerator.upper()} when the model saw them: move them with .to(device)")
