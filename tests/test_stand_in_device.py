"""The stand-in device, in this process: correct loops run to their end, and the record shows each defect.

The checks that use it run it in the notebook process (tests/test_mutants.py); these tests pin down what it
records for the usual ways of writing, and of getting wrong, a loop on a device.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from autograder.grading.stand_in_device import DeviceRecord
from autograder.sandbox import stand_in_device
from autograder.sandbox.stand_in_device import StandInDevice, StandInRun, on_device


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


def _run(function, device: str = "cuda") -> tuple[DeviceRecord, list, list]:
    """The record of one run on the stand-in, its losses, and the same loop's losses on the CPU."""
    torch.manual_seed(0)
    X, y = torch.randn(10, 3), torch.randint(0, 2, (10,))
    state = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).state_dict()
    models = []
    for _ in range(2):
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        model.load_state_dict(state)
        models.append(model)
    run = StandInRun(function=function, model=models[0], device=torch.device(device))
    losses = run.wrapped()(models[0], DataLoader(TensorDataset(X, y), batch_size=3), torch.device(device))
    record = DeviceRecord.from_data(run.finish())
    on_cpu = function(models[1], DataLoader(TensorDataset(X, y), batch_size=3), torch.device("cpu"))
    return record, losses, on_cpu


def _moved_everything(record: DeviceRecord) -> bool:
    return bool(record.model_calls) and not record.mixed_outside and all(
        call.batch_on_device and call.parameters == "device" for call in record.model_calls)


@pytest.mark.parametrize("record", ["loss.item()", "float(loss.detach().cpu())", "loss.cpu().item()",
                                    "loss.detach().cpu()", "loss.detach().cpu().numpy().item()"])
def test_a_correct_loop_reads_its_losses_and_is_seen_moving_everything(record, capsys):
    seen, losses, on_cpu = _run(_loop(record=record))
    assert _moved_everything(seen), seen
    assert [float(loss) for loss in losses] == pytest.approx([float(loss) for loss in on_cpu])
    assert "Loss: " in capsys.readouterr().out


@pytest.mark.parametrize("style", [
    {"move_model": "model.cuda() if device.type == 'cuda' else model"},
    {"move_model": "model.to(device=device)"},
    {"move_batch": "features, labels = (part.to(device, non_blocking=True) for part in (features, labels))"},
    {"move_batch": "features = features.to(device, torch.float32); labels = labels.to(features.device)"},
    {"move_batch": "features, labels = features.to(device), labels.to(device); "
                   "total = torch.zeros((), device=device); total += labels.float().sum()"},
    {"after": "model.cpu()"},  # moved back once trained: the forward passes ran on the device
    {"after_forward": "copy.deepcopy(model)(features)"},
])
def test_other_correct_styles_are_seen_moving_everything(style):
    seen, losses, on_cpu = _run(_loop(**style))
    assert _moved_everything(seen), seen
    assert losses == pytest.approx(on_cpu)


@pytest.mark.parametrize(("defect", "model_moved", "batches_moved"), [
    ({"move_model": "pass"}, False, True),
    ({"move_model": "pass", "after": "model.to(device)"}, False, True),
    ({"move_model": "pass", "after_forward": "model.to(device)"}, False, True),
    ({"move_batch": "pass"}, True, False),
    ({"move_batch": "features.to(device); labels.to(device)"}, True, False),
    ({"move_batch": "features = features.to(device)"}, True, False),
    ({"move_batch": "labels = labels.to(device)"}, True, False),
    ({"move_batch": "pass", "after_forward": "features, labels = features.to(device), labels.to(device)"},
     True, False),
    ({"move_model": "pass", "move_batch": "pass"}, False, False),
])
def test_each_defect_shows_in_the_record_of_its_own_aspect(defect, model_moved, batches_moved):
    seen, _, _ = _run(_loop(**defect))
    assert seen.model_calls
    assert all(call.parameters == "device" for call in seen.model_calls) is model_moved, seen
    batches = all(call.batch_on_device for call in seen.model_calls) and not seen.mixed_outside
    assert batches is batches_moved, seen


def test_a_tensor_on_the_stand_in_says_where_it_is_and_keeps_its_values():
    notes = stand_in_device.DeviceRecord()
    host = torch.arange(6.0).reshape(2, 3)
    with StandInDevice(torch.device("cuda"), notes):
        moved = host.to("cuda")
        assert on_device(moved) and not on_device(host) and moved is not host
        assert moved.device == torch.device("cuda", 0) and moved.is_cuda and moved.get_device() == 0
        assert torch.equal(moved.cpu(), host) and not on_device(moved.cpu())
        assert on_device(moved * 2) and on_device(moved.sum()) and f"{moved.sum():.1f}" == "15.0"
        assert moved.to("cuda") is moved and host.to("cpu") is host
        host + moved  # a real device would refuse this: the stand-in computes it and notes it
    assert notes.as_data() == {"forwards": [], "mixed": [["add", False]]}


def test_a_malformed_record_reads_as_nothing_seen():
    for data in (None, {}, {"forwards": [[True]], "mixed": []}, {"forwards": "xx", "mixed": 3}):
        assert DeviceRecord.from_data(data) == DeviceRecord()
