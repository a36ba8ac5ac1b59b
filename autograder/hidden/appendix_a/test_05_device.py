"""Hidden checks for 05_device.ipynb: choosing a device and training on it (A.9).

The grader usually has no GPU.  Hardware is simulated in three ways:
``nb.simulated_machine`` tells the notebook process a consistent story about its
accelerators (every related torch function agrees), to test the code that *chooses* a
device; the ``meta`` device (tensors with a shape but no data) receives what ``to_device``
moves, where no value is ever read; and a stand-in device
(:mod:`autograder.grading.stand_in_device`) runs the training loop: a ``cuda`` whose
tensors keep their data on the CPU, so that a correct loop reads its losses as it would on a
GPU (``loss.item()``, ``f"{loss:.2f}"``, ``loss.cpu()``), while a trusted probe model makes
where its input and its parameters were show in the losses and the weights, which are judged
here against what each placement gives.

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
from autograder.grading.judge import (
    PROBE,
    STAND_IN_DEVICE,
    Placement,
    StudentError,
    accelerators,
    describe,
    expected_step,
    fail,
    matching_variant,
    meta,
    not_available,
    on_stand_in_device,
    well_separated,
)

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


@pytest.mark.grade(1, fn="get_device", returns=True)
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


@pytest.mark.grade(1, fn="to_device", returns=True)
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


def _training_case(nb, rng, *, n_batches: int | None = None, hidden: tuple[int, ...] | None = None):
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
        "model": nb.make_model(layers, state_dict=state),
        "state": state,
        "loader": nb.make_loader(X, y, batch_size=batch_size, shuffle=False),
        "reference": model_from_state(layers, state),
        "initial": {key: value.clone() for key, value in state.items()},
        "batches": sequential_batches(X, y, batch_size),
        "epochs": (2, 4)[_int(rng, 0, 1)],
        "lr": round(0.05 + 0.8 * float(torch.rand((), generator=rng)), 3),
    }


def _train(nb, case, device, *, epochs=None, model=None):
    epochs = case["epochs"] if epochs is None else epochs
    return nb.call("train_on_device", case["model"] if model is None else model, case["loader"], device,
                   epochs=epochs, lr=case["lr"])


def _fresh_model(nb, case):
    """Another trusted model with the case's initial weights."""
    return nb.make_model(case["layers"], state_dict=case["state"])


def _loss_values(losses) -> list[float]:
    if not isinstance(losses, (list, tuple)):
        fail(f"train_on_device should return a list of losses, one per batch, but returned {describe(losses)}")
    values = [as_float(loss) for loss in losses]
    if any(value is None for value in values):
        fail("the losses returned by train_on_device should be numbers (loss.item())")
    return values


def _same_losses(first: list[float], second: list[float], tolerance: float = 1e-5) -> bool:
    """Whether two runs gave the same losses (nan equal to nan)."""
    return len(first) == len(second) and all(
        (math.isnan(a) and math.isnan(b)) or a == b or math.isclose(a, b, abs_tol=tolerance, rel_tol=tolerance)
        for a, b in zip(first, second))


def _some_losses(losses) -> list[float]:
    """The losses as floats; fails unless they look like a training run's (so a constant list earns nothing)."""
    values = _loss_values(losses)
    if len(values) < 2 or len({"nan" if math.isnan(value) else value for value in values}) == 1:
        fail("train_on_device should return the loss of every batch, as training changes it")
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


@pytest.mark.grade(1, fn="train_on_device", returns=True)
def test_train_on_device_cpu_losses(nb, rng):
    """On the CPU, train_on_device returns the same Python float losses as plain SGD training, call after call."""
    case = _training_case(nb, rng)
    losses = _train(nb, case, torch.device("cpu"))
    for loss in losses if isinstance(losses, list) else ():
        if type(loss) is not float:
            kind = "tensors" if isinstance(loss, torch.Tensor) else type(loss).__name__
            fail(f"train_on_device returned {kind} in its list; append loss.item() (a Python float)")
    again = _train(nb, case, torch.device("cpu"), model=_fresh_model(nb, case))
    if not _same_losses(_loss_values(losses), _loss_values(again)):
        fail("train_on_device returned other losses when called again on the same weights and data: keep no "
             "state between calls (a list or an optimizer at module level, or a default argument such as "
             "losses=[], is shared by every call)")
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


_DEFAULTS = {"epochs": 3, "lr": 0.5}


@pytest.mark.grade(1, fn="train_on_device")
def test_train_on_device_defaults(nb, rng):
    """Called without epochs, without lr, or without both, train_on_device does what epochs=3, lr=0.5 do."""
    case = _training_case(nb, rng)  # its epochs (2 or 4) are never the default
    given = {"epochs": case["epochs"], "lr": case["lr"]}
    for left_out in (("epochs",), ("lr",), ("epochs", "lr")):
        others = {name: value for name, value in given.items() if name not in left_out}
        explicit = {**others, **{name: _DEFAULTS[name] for name in left_out}}
        wanted = _some_losses(nb.call("train_on_device", _fresh_model(nb, case), case["loader"],
                                      torch.device("cpu"), **explicit))
        found = _loss_values(nb.call("train_on_device", _fresh_model(nb, case), case["loader"],
                                     torch.device("cpu"), **others))
        if _same_losses(found, wanted):
            continue
        stated = ", ".join(f"{name}={_DEFAULTS[name]}" for name in left_out)
        if "epochs" in left_out and len(found) != len(wanted):
            fail(f"called without epochs, train_on_device should run 3 epochs (one loss per batch and epoch): "
                 f"check the defaults in its signature ({stated})")
        fail(f"called without {' and '.join(left_out)}, train_on_device did not do what it does with {stated} "
             f"given: check the defaults in its signature ({stated})")


# ---------------------------------------------------------------------- on a stand-in device
#
# The loop trains a trusted probe model on a stand-in ``cuda`` whose tensors keep their data on
# the CPU, so a correct loop runs to its end.  Where things were shows in values: the probe
# scales its logits by a factor of where its input and its parameters were, and a loss of logits
# on the device with labels left on the host reads those labels as zeros.  Each check starts the
# other aspect on the device (the loader's batches, or the model), gives one batch and one step,
# and names the placement whose outcome, computed here, the returned loss or the weights left
# afterwards match; nothing the notebook process says about devices is read.

_EVERYTHING_MOVED = Placement()
_MODEL_PLACEMENTS = {
    _EVERYTHING_MOVED: "",
    Placement(parameters=False): "the model's parameters were not on the requested device when the model ran: call "
                                 "model.to(device) before the training loop",
}
_BATCH_PLACEMENTS = {
    _EVERYTHING_MOVED: "",
    Placement(features=False): "the features of each batch were not on the requested device when the model saw "
                               "them: move features and labels with .to(device) inside the loop, before calling "
                               "the model",
    Placement(labels=False): "the model and the features were on the device, but the labels were not when the loss "
                             "used them: move the labels of each batch to the device too",
    Placement(features=False, labels=False): "the batches were not on the requested device: move features and "
                                             "labels with .to(device) inside the loop, before calling the model",
}
_STAND_IN_TOLERANCE = 1e-5
_SEPARATION = 1e-3  # every two placements' losses and weights differ by more, so a match names one
_DRAWS = 50


def _stand_in_case(nb, rng, placements):
    """One batch, a probe with random weights, and what each placement gives for one step with it."""
    for _ in range(_DRAWS):  # a draw whose placements look alike (every label 0, say) is drawn again
        num_features, num_classes, width = _int(rng, 2, 4), _int(rng, 2, 3), _int(rng, 3, 6)
        X, y = random_classification(rng, _int(rng, 4, 8), num_features, num_classes)
        layers = [("linear", num_features, width), ("relu",), ("linear", width, num_classes)]
        state = random_state_dict(layers, rng)
        lr = round(0.2 + 0.8 * float(torch.rand((), generator=rng)), 3)
        reference = model_from_state(layers, state)
        outcomes = {placement: expected_step(reference, X, y, lr=lr, placement=placement)
                    for placement in placements}
        if well_separated(outcomes.values(), initial=state, margin=_SEPARATION):
            break
    return {"model": nb.make_model([PROBE, *layers], state_dict=state),
            "loader": nb.make_loader(X, y, batch_size=len(y), shuffle=False), "lr": lr, "outcomes": outcomes}


def _judge_on_stand_in(nb, rng, *, already_on_device: str, placements: dict[Placement, str]) -> None:
    """Train the probe for one step on the stand-in device; fail with the message of the placement it shows."""
    case = _stand_in_case(nb, rng, placements)
    losses, error = None, None
    with on_stand_in_device(case["model"], function="train_on_device", already_on_device=(already_on_device,),
                            loader=case["loader"]):
        try:
            losses = nb.call("train_on_device", case["model"], case["loader"], torch.device(STAND_IN_DEVICE),
                             epochs=1, lr=case["lr"])
        except StudentError as raised:
            error = raised
    first = as_float(losses[0]) if isinstance(losses, (list, tuple)) and losses else None
    weights = nb.state_dict(case["model"])
    shown = {placement for placement, outcome in case["outcomes"].items()
             if outcome.loss_matches(first, _STAND_IN_TOLERANCE) or outcome.weights_match(weights, _STAND_IN_TOLERANCE)}
    for placement, message in placements.items():
        if placement in shown and message:
            fail(message)
    if _EVERYTHING_MOVED in shown:
        return
    if error is not None:
        raise error  # it stopped before its loss or its step showed anything: show the student's error
    fail("on a (simulated) CUDA device, neither the first loss train_on_device returned nor the weights it left "
         "are those of training the model on its batches: for every batch compute "
         "F.cross_entropy(model(features), labels), call loss.backward() and optimizer.step(), and return "
         "loss.item() of every batch")


@pytest.mark.grade(2, fn="train_on_device")
def test_train_on_device_moves_model(nb, rng):
    """The model's parameters are on the device when the model runs (model.to(device) before the loop)."""
    _judge_on_stand_in(nb, rng, already_on_device="batches", placements=_MODEL_PLACEMENTS)


@pytest.mark.grade(2, fn="train_on_device")
def test_train_on_device_moves_batches(nb, rng):
    """Every batch, features and labels, is on the device before it is used."""
    _judge_on_stand_in(nb, rng, already_on_device="model", placements=_BATCH_PLACEMENTS)


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
