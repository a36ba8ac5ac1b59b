"""The grader's side of the stand-in device (:mod:`autograder.sandbox.stand_in_device`).

A check that needs to know whether a training loop moves the model and the batches to
the device it is given runs the loop on a stand-in: a device (``cuda`` by default) whose
tensors keep their data on the CPU, so that everything a correct loop does with its
losses works.  The model it trains is a trusted probe whose logits depend on where its
input and its parameters were, and an operation mixing tensors on the device with
tensors left on the host reads the host ones as zeros; so where things were shows in
the losses the loop returns and in the weights it leaves::

    model = nb.make_model([PROBE, *layers], state_dict=state)
    with on_stand_in_device(model, function="train_on_device", already_on_device=("model",)):
        losses = nb.call("train_on_device", model, loader, torch.device(STAND_IN_DEVICE), epochs=1, lr=lr)
    weights = nb.state_dict(model)
    # compare with expected_step(reference, features, labels, lr=lr, placement=...) for each placement

Nothing the notebook process says about where tensors were is read: the verdict is which
placement's :func:`expected_step`, computed here, the returned values match.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from autograder.sandbox import messages
from autograder.sandbox.client import Ref
from autograder.sandbox.errors import SandboxError
from autograder.sandbox.stand_in_device import ALREADY_ON_DEVICE, probe_scale

STAND_IN_DEVICE = "cuda"
"""The device a loop is given: the one the notebook's text is about."""

PROBE = ("device_probe",)
"""Put first in an ``nb.make_model`` spec, it makes the model the stand-in's probe (same state_dict keys)."""


@dataclass(frozen=True)
class Placement:
    """Where the model saw its batch and the loss its labels: on the device (True) or left on the host."""

    features: bool = True
    labels: bool = True
    parameters: bool = True


@dataclass(frozen=True)
class StepOutcome:
    """What one batch and one SGD step give on the stand-in: the loss, and the weights afterwards."""

    loss: float
    weights: dict[str, torch.Tensor]

    def loss_matches(self, loss: float | None, tolerance: float) -> bool:
        """Whether a returned loss (None: none came back) is this outcome's."""
        return loss is not None and abs(loss - self.loss) <= tolerance * (1 + abs(self.loss))

    def weights_match(self, weights: Mapping[str, torch.Tensor] | None, tolerance: float) -> bool:
        """Whether the weights read back from the model (a state_dict) are this outcome's."""
        if weights is None or set(weights) != set(self.weights):
            return False
        return all(isinstance(weights[key], torch.Tensor) and weights[key].shape == value.shape
                   and weights[key].dtype == value.dtype
                   and torch.allclose(weights[key], value, atol=tolerance, rtol=tolerance)
                   for key, value in self.weights.items())


def expected_step(model: nn.Module, features: torch.Tensor, labels: torch.Tensor, *, lr: float,
                  placement: Placement) -> StepOutcome:
    """What the probe gives for one batch and one plain SGD step when things were where ``placement`` says.

    ``model`` is the plain ``nn.Sequential`` with the probe's initial weights (it is not changed).
    Mirrors the stand-in: the logits scaled by :func:`probe_scale`, on the device if the input or
    the parameters were; a loss mixing places reads its host operand as zeros.
    """
    model = copy.deepcopy(model)
    logits = model(features)
    scale = probe_scale(input_on_device=placement.features, parameters_on_device=placement.parameters)
    if scale != 1.0:
        logits = logits * scale
    logits_on = placement.features or placement.parameters
    if logits_on and not placement.labels:
        labels = torch.zeros_like(labels)
    elif placement.labels and not logits_on:
        logits = logits * 0
    loss = F.cross_entropy(logits, labels)
    parameters = list(model.parameters())
    for parameter in parameters:
        parameter.grad = None
    loss.backward()
    with torch.no_grad():
        for parameter in parameters:
            if parameter.grad is not None:
                parameter.add_(parameter.grad, alpha=-lr)
    return StepOutcome(float(loss.item()), {key: value.detach().clone() for key, value in model.state_dict().items()})


def well_separated(outcomes: Iterable[StepOutcome], *, initial: Mapping[str, torch.Tensor], margin: float) -> bool:
    """Whether every two outcomes differ in their loss and in their weights by more than ``margin``,
    and every outcome's weights differ from ``initial`` (a loop that takes no step) as much."""
    listed = list(outcomes)
    untrained = StepOutcome(float("nan"), dict(initial))

    def apart(first: StepOutcome, second: StepOutcome) -> bool:
        return max(float((first.weights[key] - second.weights[key]).abs().max()) for key in first.weights) > margin

    return (all(abs(a.loss - b.loss) > margin and apart(a, b) for a, b in itertools.combinations(listed, 2))
            and all(apart(outcome, untrained) for outcome in listed))


@contextlib.contextmanager
def on_stand_in_device(model: Ref, *, function: str, device: str = STAND_IN_DEVICE,
                       already_on_device: tuple[str, ...] = (), loader: Ref | None = None) -> Iterator[None]:
    """While the block runs, the notebook's ``function`` runs with ``device`` a stand-in, training ``model``.

    ``model`` is a trusted probe (``nb.make_model([PROBE, *layers])``) in the live notebook
    process.  ``already_on_device``: "model" puts the probe's parameters on the device before the
    loop starts, "batches" the batches of the trusted ``loader`` (``nb.make_loader``), so that a
    check sees one aspect of the loop alone.  Nothing is read back when the block ends.
    """
    unknown = set(already_on_device) - ALREADY_ON_DEVICE
    if unknown:
        raise ValueError(f"already_on_device takes {sorted(ALREADY_ON_DEVICE)}, not {sorted(unknown)}")
    if "batches" in already_on_device and loader is None:
        raise ValueError("already_on_device=('batches',) needs the loader whose batches start on the device")
    process = model.process
    process.request(messages.stand_in_device(
        function, model=messages.by_ref(model.token.ref_id), device=device, already_on_device=tuple(already_on_device),
        loader=None if loader is None else messages.by_ref(loader.token.ref_id)), what=function)
    try:
        yield
    finally:
        with contextlib.suppress(SandboxError):  # a process that died in the block has nothing to restore
            process.request(messages.restore_device(), what="the stand-in device")
