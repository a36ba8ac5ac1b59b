"""Hidden checks for 05_device.ipynb: choosing a device and training on it (A.9).

The grader usually has no GPU.  Hardware is simulated in two ways:
``nb.simulated_machine`` tells the notebook process a consistent story about its
accelerators (every related torch function agrees), to test the code that *chooses* a
device, and the ``meta`` device (tensors with a shape but no data) stands in for an
accelerator to see whether the model and the batches were moved.

Which accelerators the grading machine really has, and whether a call used the GPU,
are trusted facts established in this process (``autograder.grading.accelerators``),
never read back from the notebook: the extra credit needs a CUDA device seen by the
grader and the driver's report that the notebook's process took GPU memory during the
call.
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
from autograder.grading import accelerators
from autograder.grading.judge import StudentError, describe, fail, matching_variant, meta, not_available

NOTEBOOK = "05_device"


def _int(rng: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (), generator=rng))


# ====================================================================== get_device


def _device_type(nb, cuda: bool, mps: bool) -> str:
    # absent backends are built (a CUDA wheel without a GPU): asking is_built() alone is no answer
    with nb.simulated_machine(cuda=cuda, mps=mps, cuda_built=True, mps_built=True):
        value = nb.call("get_device")
    if type(value) is torch.device:
        return value.type
    if isinstance(value, str):
        try:
            return torch.device(value).type
        except RuntimeError:
            fail("get_device returned a string that is not a device name")
    fail(f"get_device should return a torch.device, not {describe(value)}")


@pytest.mark.grade(1, fn="get_device")
def test_get_device_cuda(nb):
    """On a machine with a CUDA GPU (and no MPS), get_device picks CUDA."""
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
    """On a Mac with Apple's MPS backend (and no CUDA), get_device picks MPS."""
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
    """get_device returns a torch.device object (not a string), chosen according to the machine."""
    found = set()
    for cuda, mps in ((False, False), (True, False), (False, True)):
        with nb.simulated_machine(cuda=cuda, mps=mps, cuda_built=True, mps_built=True):
            value = nb.call("get_device")
        if type(value) is not torch.device:
            fail(f"get_device returned {describe(value)}; wrap the name in torch.device(...)")
        found.add(value.type)
    if len(found) == 1:  # a constant is not a choice; which device is right is the other checks' business
        fail("get_device returns the same device on every machine: ask torch which devices are available")


# ====================================================================== to_device


def _moved(nb, rng, device, features_dtype: torch.dtype):
    X, y = random_classification(rng, _int(rng, 2, 8), _int(rng, 2, 4), 3)
    X = X.to(features_dtype)
    result = nb.call("to_device", X, y, device)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("to_device should return the pair (features, labels)")
    if not all(isinstance(part, torch.Tensor) for part in result):
        fail("to_device should return two tensors")
    return X, y, result


def _check_moved(part: torch.Tensor, original: torch.Tensor, what: str) -> None:
    info = meta(part)
    if info.device != "meta":
        fail(f"to_device left the {what} on {info.device}: call .to(device) on them too")
    if info.shape != tuple(original.shape):
        fail(f"to_device changed the shape of the {what}: only the device should change")
    if info.dtype != original.dtype:
        fail(f"to_device changed the {what} from {original.dtype} to {info.dtype}: pass only the device "
             "to .to(...), so that the dtype stays as it is")


# every call tries float32 and float64 features (a cast shows whatever the draw) and int64 labels
_FEATURE_DTYPES = (torch.float32, torch.float64)


@pytest.mark.grade(1, fn="to_device")
def test_to_device_features_moved(nb, rng):
    """The features are moved to the requested device, keeping shape and dtype (float32 and float64)."""
    for dtype in _FEATURE_DTYPES:
        X, _, (features, _) = _moved(nb, rng, torch.device("meta"), dtype)
        _check_moved(features, X, "features")


@pytest.mark.grade(1, fn="to_device")
def test_to_device_labels_moved(nb, rng):
    """The labels are moved to the requested device, keeping shape and dtype."""
    for dtype in _FEATURE_DTYPES:
        _, y, (_, labels) = _moved(nb, rng, torch.device("meta"), dtype)
        _check_moved(labels, y, "labels")


@pytest.mark.grade(1, fn="to_device")
def test_to_device_cpu_values(nb, rng):
    """Moving to the CPU (given as the string "cpu") keeps the values: features first, then labels."""
    for dtype in _FEATURE_DTYPES:
        X, y, (features, labels) = _moved(nb, rng, "cpu", dtype)
        if matching_variant(features, {"": y}) is not None and matching_variant(labels, {"": X}) is not None:
            fail("to_device returned (labels, features): return the features first")
        # values and order only: a changed dtype is the features check's business
        for part, original, what in ((features, X, "features"), (labels, y, "labels")):
            if meta(part).device != "cpu" or matching_variant(part, {"": original}) is None:
                fail(f"to_device(features, labels, 'cpu') changed the values of the {what}: "
                     "return (features.to(device), labels.to(device))")


# ====================================================================== train_on_device


def _training_case(nb, rng, *, n_batches: int | None = None, hidden: tuple[int, ...] | None = None,
                   guard_device: bool = False):
    num_features, num_classes = _int(rng, 2, 4), _int(rng, 2, 3)
    batch_size = _int(rng, 2, 4)
    n = batch_size * (n_batches if n_batches is not None else _int(rng, 2, 3))
    if n_batches is None:
        n += _int(rng, 0, batch_size - 1)
    X, y = random_classification(rng, n, num_features, num_classes)
    widths = hidden or (_int(rng, 3, 6),)
    layers: list[tuple] = []
    width = num_features
    for size in widths:
        layers += [("linear", width, size), ("relu",)]
        width = size
    layers.append(("linear", width, num_classes))
    state = random_state_dict(layers, rng)
    return {
        "layers": layers,
        "model": nb.make_model(layers, state_dict=state, guard_device=guard_device),
        "loader": nb.make_loader(X, y, batch_size=batch_size, shuffle=False),
        "reference": model_from_state(layers, state),
        "initial": {key: value.clone() for key, value in state.items()},
        "batches": sequential_batches(X, y, batch_size),
        "epochs": (2, 4)[_int(rng, 0, 1)],
        "lr": round(0.05 + 0.8 * float(torch.rand((), generator=rng)), 3),
    }


def _train(nb, case, device, *, epochs=None):
    epochs = case["epochs"] if epochs is None else epochs
    return nb.call("train_on_device", case["model"], case["loader"], device, epochs=epochs, lr=case["lr"])


def _loss_values(losses) -> list[float]:
    if not isinstance(losses, (list, tuple)):
        fail(f"train_on_device should return a list of losses, one per batch, but returned {describe(losses)}")
    values = [as_float(loss) for loss in losses]
    if any(value is None for value in values):
        fail("the losses returned by train_on_device should be numbers (loss.item())")
    return values


def _check_losses(losses, expected, *, tolerance: float, where: str) -> None:
    values = _loss_values(losses)
    if len(values) != len(expected):
        fail("train_on_device returned the wrong number of losses: one per batch for every epoch")
    for index, (value, wanted) in enumerate(zip(values, expected)):
        if not math.isclose(value, wanted, abs_tol=tolerance, rel_tol=tolerance):
            if index == 0:
                fail(f"the first loss of train_on_device {where} is wrong: compute "
                     "F.cross_entropy(model(features), labels) before updating the weights")
            fail(f"the losses of train_on_device {where} drift away from plain SGD: call "
                 "optimizer.zero_grad() before loss.backward() in every batch, and take one "
                 "optimizer.step() per batch")


def _check_weights(nb, case, *, tolerance: float, where: str) -> None:
    found = nb.state_dict(case["model"])
    for key, wanted in case["reference"].state_dict().items():
        got = found[key]
        if got.shape == wanted.shape and torch.allclose(got, wanted, atol=tolerance, rtol=tolerance):
            continue
        if torch.equal(got, case["initial"][key]):
            fail(f"train_on_device {where} did not change the model's weights: call optimizer.step() "
                 "after loss.backward()")
        fail(f"after train_on_device {where} the weights differ from plain SGD with the given lr: "
             "use torch.optim.SGD(model.parameters(), lr=lr) and F.cross_entropy")


@pytest.mark.grade(2, fn="train_on_device")
def test_train_on_device_cpu_losses(nb, rng):
    """On the CPU, train_on_device returns the same Python float losses as plain SGD training."""
    case = _training_case(nb, rng)
    losses = _train(nb, case, torch.device("cpu"))
    for loss in losses if isinstance(losses, list) else ():
        if type(loss) is not float:
            kind = "tensors" if isinstance(loss, torch.Tensor) else type(loss).__name__
            fail(f"train_on_device returned {kind} in its list; append loss.item() (a Python float)")
    expected = reference_train(case["reference"], case["batches"], case["epochs"], case["lr"])
    _check_losses(losses, expected, tolerance=1e-5, where="on the CPU")


@pytest.mark.grade(1, fn="train_on_device")
def test_train_on_device_cpu_weights(nb, rng):
    """On the CPU, one batch and one epoch: the weights afterwards are those of one SGD step per loss."""
    case = _training_case(nb, rng, n_batches=1)
    losses = _train(nb, case, torch.device("cpu"), epochs=1)
    # as many steps as the loop says it took: the epochs are the losses check's business
    steps = len(losses) if isinstance(losses, (list, tuple)) and 0 < len(losses) <= 10 else 1
    reference_train(case["reference"], case["batches"], steps, case["lr"])
    _check_weights(nb, case, tolerance=1e-5, where="on the CPU")


_META_ITEM = "cannot be called on meta tensors"


def _train_on_meta(nb, rng):
    """Train a trusted model on the meta device; return (its weights' device, the error that ended the loop).

    Nothing can be read from a meta tensor, so a correct loop stops at ``loss.item()``.
    Where the model's weights ended up is data read back from the trusted model.
    """
    case = _training_case(nb, rng, guard_device=True)
    error: StudentError | None = None
    try:
        nb.call("train_on_device", case["model"], case["loader"], torch.device("meta"), epochs=1, lr=0.1)
    except StudentError as raised:
        error = raised
    weight = case["model"].get("0").get("weight")
    device = meta(weight).device if isinstance(weight, torch.Tensor) else "unknown"
    return torch.device(device).type if device != "unknown" else device, error


@pytest.mark.grade(2, fn="train_on_device")
def test_train_on_device_moves_model(nb, rng):
    """The model is moved to the device before training (model.to(device))."""
    device, error = _train_on_meta(nb, rng)
    if device != "meta":
        if error is not None and "parameters are on" not in error.message and "expected device" not in error.message:
            raise error  # it failed for another reason: show the student's error
        fail("the model's parameters were not moved to the requested device: call model.to(device) "
             "before the training loop")


@pytest.mark.grade(2, fn="train_on_device")
def test_train_on_device_moves_batches(nb, rng):
    """Every batch, features and labels, is moved to the device before it is used."""
    device, error = _train_on_meta(nb, rng)
    if device != "meta":
        # the model stayed behind (the other check's business): batches on the device reach it there
        if error is not None and "got a batch on meta" in error.message:
            return
        if error is not None and "got a batch on" not in error.message:
            raise error
        fail("the batches were not moved to the requested device: move features and labels with "
             ".to(device) inside the loop, before calling the model")
    if error is None or _META_ITEM in error.message:
        return  # the loop ran on the device up to reading a number back, as a correct loop does
    if "got a batch on" in error.message:
        fail("the features of each batch were not on the requested device when the model saw them: "
             "move features and labels with .to(device) inside the loop, before calling the model")
    if "expected device" in error.message:
        fail("the model and the features were on the device, but the loss mixed devices: "
             "move the labels of each batch to the device too")
    raise error


# ====================================================================== extra credit: a real GPU

# An 8 MiB weight matrix (2 Mi elements, well inside what one reply may carry back): moving the
# model and computing its gradients takes new GPU memory that the driver reports for the process.
_GPU_HIDDEN = (1024, 2048)
_MIN_GROWTH = 4 << 20


def _cuda_or_not_available() -> None:
    """The grading process's own view of its hardware; the notebook's is never asked."""
    lacking = accelerators.gpu_use_unverifiable(accelerators.grader_accelerators())
    if lacking is not None:
        not_available(f"{lacking}: this extra credit cannot be earned there")


def _train_watched(nb, case):
    """Train on CUDA while the driver's per-process report of the notebook's pid is sampled."""
    with accelerators.watching_gpu_use(nb.process_id()) as use:
        losses = _train(nb, case, torch.device("cuda"))
    if not use.observable:
        not_available("no view of per-process GPU use on the grading machine (it has CUDA, but neither NVML "
                      "nor nvidia-smi answers): this extra credit cannot be earned there")
    if not use.ran_on_gpu(min_growth_bytes=_MIN_GROWTH) and use.unattributable(min_growth_bytes=_MIN_GROWTH):
        not_available("no per-process GPU report for the notebook on the grading machine (GPU memory grew during "
                      "the call, but the driver does not name the notebook's process by its id): this extra "
                      "credit cannot be earned there")
    if not use.ran_on_gpu(min_growth_bytes=_MIN_GROWTH):
        fail("train_on_device(..., torch.device('cuda')) did not use the GPU: the notebook's process took "
             "no GPU memory for the model; call model.to(device) and move every batch with .to(device)")
    return losses


@pytest.mark.grade(5, fn="train_on_device", extra_credit=True)
def test_train_on_device_accelerator_losses(nb, rng):
    """On the grading machine's CUDA GPU, training uses the GPU and the losses match CPU training."""
    _cuda_or_not_available()
    case = _training_case(nb, rng, hidden=_GPU_HIDDEN)
    losses = _train_watched(nb, case)
    expected = reference_train(case["reference"], case["batches"], case["epochs"], case["lr"])
    _check_losses(losses, expected, tolerance=1e-4, where="on CUDA")


@pytest.mark.grade(5, fn="train_on_device", extra_credit=True)
def test_train_on_device_accelerator_weights(nb, rng):
    """On the grading machine's CUDA GPU, training uses the GPU and the trained weights match CPU training."""
    _cuda_or_not_available()
    case = _training_case(nb, rng, hidden=_GPU_HIDDEN)
    _train_watched(nb, case)
    reference_train(case["reference"], case["batches"], case["epochs"], case["lr"])
    _check_weights(nb, case, tolerance=1e-4, where="on CUDA")
