"""The stand-in device: correct loops run to their end, and where they put things shows in their values.

The checks that use it run it in the notebook process (tests/test_mutants.py); the tests here run it in
this process, for the usual ways of writing, and of getting wrong, a loop on a device, and check that
the loss and the weights each loop gives are those the grader computes for its placement
(:func:`autograder.grading.stand_in_device.expected_step`).  The last tests grade whole notebooks that
tamper with the stand-in instead of moving their batches.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from autograder.grading.results import Status
from autograder.grading.stand_in_device import Placement, StepOutcome, expected_step, well_separated
from autograder.sandbox.stand_in_device import DeviceProbe, StandInDevice, StandInRun, probe_scale
from tests.conftest import write_variant


def _loop(*, move_model: str = "model = model.to(device)",
          move_batch: str = "features, labels = features.to(device), labels.to(device)",
          after_forward: str = "pass", record: str = "loss.item()", after: str = "pass"):
    source = f'''
def train_on_device(model, loader, device, epochs=1, lr=0.1):
    {move_model}
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        for batch_idx, (features, labels) in enumerate(loader):
            {move_batch}
            logits = model(features)
            {after_forward}
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            print(f"Epoch: {{epoch+1:03d}} | Batch {{batch_idx:03d}}/{{len(loader):03d}} | Loss: {{loss:.2f}}")
            losses.append({record})
    {after}
    return losses
'''
    namespace = {"torch": torch, "F": F, "nn": nn, "copy": copy}
    exec(source, namespace)  # noqa: S102 - test code written here
    return namespace["train_on_device"]


_LR = 0.3
_PLACEMENTS = [Placement(features, labels, parameters)
               for features in (True, False) for labels in (True, False) for parameters in (True, False)]
# logits on the host and labels on the device: the logits read as zeros, and no step changes a weight
_UNTRAINED = Placement(features=False, labels=True, parameters=False)


def _data():
    torch.manual_seed(0)
    X, y = torch.randn(6, 3), torch.tensor([0, 1, 1, 0, 1, 1])
    layers = [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)]
    return X, y, nn.Sequential(*layers).state_dict()


def _run(function, *, already_on_device=(), device: str = "cuda") -> tuple[float, dict, dict[Placement, StepOutcome]]:
    """One batch, one step on the stand-in: the first loss, the weights after, and every placement's outcome."""
    X, y, state = _data()
    probe = DeviceProbe(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    probe.load_state_dict(state)
    loader = DataLoader(TensorDataset(X, y), batch_size=len(y))
    run = StandInRun(function=function, model=probe, device=torch.device(device),
                     already_on_device=already_on_device, loader=loader)
    try:
        losses = run.wrapped()(probe, loader, torch.device(device), lr=_LR)
    finally:
        run.finish()
    reference = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    reference.load_state_dict(state)
    outcomes = {placement: expected_step(reference, X, y, lr=_LR, placement=placement) for placement in _PLACEMENTS}
    assert well_separated([outcome for placement, outcome in outcomes.items() if placement != _UNTRAINED],
                          initial=state, margin=1e-3)
    weights = {key: value.detach().clone() for key, value in probe.state_dict().items()}
    return float(losses[0]), weights, outcomes


def _shown(function, **kwargs) -> set[Placement]:
    """The placements whose loss and whose weights the loop gives (both must agree)."""
    loss, weights, outcomes = _run(function, **kwargs)
    by_loss = {placement for placement, outcome in outcomes.items() if outcome.loss_matches(loss, 1e-5)}
    by_weights = {placement for placement, outcome in outcomes.items() if outcome.weights_match(weights, 1e-5)}
    assert by_loss == by_weights, (by_loss, by_weights)
    return by_loss


@pytest.mark.parametrize("record", ["loss.item()", "float(loss.detach().cpu())", "loss.cpu().item()",
                                    "loss.detach().cpu()", "loss.detach().cpu().numpy().item()"])
def test_a_correct_loop_reads_its_losses_and_gives_the_values_of_everything_on_the_device(record, capsys):
    assert _shown(_loop(record=record)) == {Placement()}
    assert "Loss: " in capsys.readouterr().out


@pytest.mark.parametrize("style", [
    {"move_model": "model.cuda() if device.type == 'cuda' else model"},
    {"move_model": "model.to(device=device)"},
    {"move_batch": "features, labels = (part.to(device, non_blocking=True) for part in (features, labels))"},
    {"move_batch": "features = features.to(device, torch.float32); labels = labels.to(features.device)"},
    {"move_batch": "features, labels = features.to(device), labels.to(device); "
                   "total = torch.zeros((), device=device); total += labels.float().sum()"},
    {"move_batch": "features, labels = features.to(device), labels.to(device); "
                   "picked = features[torch.arange(len(labels))]"},  # a host index into a device tensor
    {"after": "model.cpu()"},  # moved back once trained: the forward passes ran on the device
    {"after_forward": "copy.deepcopy(model)(features)"},
])
def test_other_correct_styles_give_the_values_of_everything_on_the_device(style):
    assert _shown(_loop(**style)) == {Placement()}


@pytest.mark.parametrize(("defect", "placement"), [
    ({"move_model": "pass"}, Placement(parameters=False)),
    ({"move_model": "pass", "after": "model.to(device)"}, Placement(parameters=False)),
    ({"move_model": "pass", "after_forward": "model.to(device)"}, Placement(parameters=False)),
    ({"move_batch": "pass"}, Placement(features=False, labels=False)),
    ({"move_batch": "features.to(device); labels.to(device)"}, Placement(features=False, labels=False)),
    ({"move_batch": "features = features.to(device)"}, Placement(labels=False)),
    ({"move_batch": "labels = labels.to(device)"}, Placement(features=False)),
    ({"move_batch": "pass", "after_forward": "features, labels = features.to(device), labels.to(device)"},
     Placement(features=False)),
    ({"move_model": "pass", "move_batch": "pass"}, Placement(features=False, labels=False, parameters=False)),
    ({"move_model": "pass", "move_batch": "labels = labels.to(device)"},
     Placement(features=False, parameters=False)),
])
def test_each_defect_gives_the_values_of_its_own_placement(defect, placement):
    assert _shown(_loop(**defect)) == {placement}


@pytest.mark.parametrize(("defect", "already", "placement"), [
    ({"move_model": "pass"}, ("batches",), Placement(parameters=False)),
    ({"move_batch": "pass"}, ("batches",), Placement()),
    ({"move_batch": "pass"}, ("model",), Placement(features=False, labels=False)),
    ({"move_model": "pass"}, ("model",), Placement()),
    ({"move_model": "pass", "move_batch": "pass"}, ("model", "batches"), Placement()),
])
def test_what_starts_on_the_device_hides_that_aspect_and_only_that_one(defect, already, placement):
    assert _shown(_loop(**defect), already_on_device=already) == {placement}


def test_a_tensor_on_the_stand_in_says_where_it_is_and_keeps_its_values():
    host = torch.arange(6.0).reshape(2, 3)
    stand_in = StandInDevice(torch.device("cuda"))
    with stand_in:
        moved = host.to("cuda")
        assert stand_in.is_on(moved) and not stand_in.is_on(host) and moved is not host
        assert moved.device == torch.device("cuda", 0) and moved.is_cuda and moved.get_device() == 0
        assert torch.equal(moved.cpu(), host) and not stand_in.is_on(moved.cpu())
        assert stand_in.is_on(moved * 2) and stand_in.is_on(moved.sum()) and f"{moved.sum():.1f}" == "15.0"
        assert moved.to("cuda") is moved and host.to("cpu") is host
        assert torch.equal(host + moved, moved)  # a real device would refuse: the host tensor reads as zeros
        assert (moved + torch.tensor(1.0)).tolist() == (host + 1).tolist()  # a 0-d host tensor: a number
        back = torch.empty(2, 3)
        back.copy_(moved)  # copies between the device and the host are allowed
        assert torch.equal(back, host) and not stand_in.is_on(back)


def test_a_mark_written_by_hand_or_left_by_another_run_reads_as_the_host():
    first, second = StandInDevice(torch.device("cuda")), StandInDevice(torch.device("cuda"))
    tensor = torch.ones(2)
    with first:
        moved = tensor.to("cuda")
    forged = torch.ones(2)
    forged.__dict__["_on_stand_in_device"] = True
    assert first.is_on(moved) and not second.is_on(moved) and not first.is_on(forged)


def test_the_probe_scales_its_logits_by_where_input_and_parameters_were():
    scales = {probe_scale(input_on_device=a, parameters_on_device=b) for a in (True, False) for b in (True, False)}
    assert probe_scale(input_on_device=True, parameters_on_device=True) == 1.0 and len(scales) == 4
    probe = DeviceProbe(nn.Linear(2, 3))
    plain = nn.Sequential(nn.Linear(2, 3))
    plain.load_state_dict(probe.state_dict())
    features = torch.randn(4, 2)
    # outside a run nothing is on the device
    assert torch.allclose(probe(features), plain(features) * probe_scale(input_on_device=False,
                                                                         parameters_on_device=False))


# ------------------------------------------------------------------ notebooks tampering with the stand-in

_TAMPERS = {
    # what an earlier grader read back: a record of forward passes, found among the process's objects
    "forged_record": '''
    import gc
    for thing in gc.get_objects():
        for name in ("forwards", "model_calls"):
            found = getattr(thing, name, None) if not isinstance(thing, type) else None
            if isinstance(found, list):
                found.extend([[True, "device"]] * 50)
''',
    # the mark an earlier stand-in put on tensors on the device, written onto every batch by hand
    "hand_written_marks": '''
    def forge(tensor):
        tensor.__dict__["_on_stand_in_device"] = True
        return tensor
''',
    # the function an earlier stand-in asked where a tensor was, patched to say "on the device"
    "patched_placement": '''
    import sys
    module = sys.modules.get("autograder.sandbox.stand_in_device")
    if module is not None:
        module.on_device = lambda value: True
''',
}

_NOT_MOVING_BATCHES = '''
def train_on_device(model, loader, device, epochs=3, lr=0.5):
{tamper}
    model = model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        for features, labels in loader:
            {forge}
            loss = F.cross_entropy(model(features), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
'''


@pytest.mark.parametrize("tamper", sorted(_TAMPERS))
def test_a_notebook_tampering_with_the_stand_in_instead_of_moving_its_batches_still_fails(tamper, grade, tmp_path):
    forge = "features, labels = forge(features), forge(labels)" if tamper == "hand_written_marks" else "pass"
    cell = _NOT_MOVING_BATCHES.format(tamper=_TAMPERS[tamper], forge=forge)
    write_variant(tmp_path, "05_device", {"train_on_device": cell})
    checks = {check.name: check for check in grade(tmp_path, "05_device").notebook("05_device").checks}
    assert checks["test_train_on_device_moves_batches"].status is Status.FAILED
    assert "batches were not on the requested device" in checks["test_train_on_device_moves_batches"].message
    if tamper != "hand_written_marks":  # (a hand-written mark takes batches that start on the device off it)
        assert checks["test_train_on_device_moves_model"].status is Status.PASSED  # it does move the model
