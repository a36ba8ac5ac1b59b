"""Facts the grader judges are its own: a notebook that lies about them gains nothing.

- which accelerators the grading machine has (the grader's torch, never the notebook's);
- whether a call ran on the GPU (the driver's per-process report, read from outside);
- a network's structure (its state_dict and its behaviour, never its own description);
- the Python and torch versions (the grader's interpreter, which the notebook runs too).

The GPU evidence is tested for real on this machine's "no GPU" path; its decision logic
is tested with scripted samplers standing in for NVML / nvidia-smi.  Those are mocks of
hardware we lack, and say so.
"""

from __future__ import annotations

import shutil

import pytest
import torch

from autograder.grading import accelerators
from autograder.grading.accelerators import GpuUse, GraderAccelerators, parse_compute_apps, watching_gpu_use
from autograder.grading.results import Status
from autograder.grading.session import StudentNotebook
from autograder.sandbox.simulated_hardware import SimulatedMachine
from tests.conftest import write_variant


def _checks(result, stem):
    return {check.name: check for check in result.notebook(stem).checks}


# ------------------------------------------------------------------ which accelerators the machine has


def test_a_notebook_claiming_a_gpu_earns_no_extra_credit(grade, tmp_path):
    lie = ("import torch\n"
           "torch.cuda.is_available = lambda: True\n"
           "torch.cuda.device_count = lambda: 1\n"
           "torch.backends.mps.is_available = lambda: True\n")
    write_variant(tmp_path, "05_device", {}, extra_cells=(lie,))
    result = grade(tmp_path, "05_device")
    extra = [check for check in result.notebook("05_device").checks if check.extra_credit]
    assert extra and all(check.status is Status.NOT_AVAILABLE for check in extra)
    assert result.extra_credit == 0


# ------------------------------------------------------------------ where training ran


_RECORDS_INSTEAD = '''
def train_on_device(model, loader, device, epochs=3, lr=0.5):
    # moves nothing, but writes what an old grader read back as "where the forward pass ran"
    model.seen_devices = [f"{device}|{device}"] * 100
    model.devices = {"inputs": str(device), "parameters": str(device)}
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        for features, labels in loader:
            loss = F.cross_entropy(model(features), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
'''


def test_a_device_record_written_by_the_notebook_is_not_read(grade, tmp_path):
    write_variant(tmp_path, "05_device", {"train_on_device": _RECORDS_INSTEAD})
    checks = _checks(grade(tmp_path, "05_device"), "05_device")
    assert checks["test_train_on_device_moves_model"].status is Status.FAILED
    assert checks["test_train_on_device_moves_batches"].status is Status.FAILED


class _AnyPid(dict):
    """A scripted per-process report in which every pid holds ``amount`` bytes (a mock of NVML)."""

    def __init__(self, amount: int) -> None:
        super().__init__()
        self.amount = amount

    def get(self, key, default=None):
        return self.amount


def _scripted(amounts):
    """A sampler (mock of NVML / nvidia-smi) answering the given amounts, then the last one forever."""
    values = list(amounts)

    def sample():
        amount = values.pop(0) if len(values) > 1 else values[0]
        return None if amount is None else _AnyPid(amount)
    return sample


def test_gpu_evidence_needs_new_memory_during_the_call():
    # mock hardware: a scripted driver report stands in for a GPU we lack
    with watching_gpu_use(1234, sampler=_scripted([100 << 20, 140 << 20]), interval=0.001) as use:
        pass
    assert use.observable and use.ran_on_gpu(min_growth_bytes=8 << 20)
    with watching_gpu_use(1234, sampler=_scripted([100 << 20]), interval=0.001) as use:
        pass
    assert use.observable and not use.ran_on_gpu(min_growth_bytes=8 << 20), "memory held from earlier counts not"


def test_gpu_use_of_unknown_process_ids_is_neither_credited_nor_charged():
    # mock hardware: the driver reports another pid (a container's host pid) growing during the call
    script = iter([{777: 0}, {777: 300 << 20}])

    def sample():
        return next(script, {777: 300 << 20})

    with watching_gpu_use(1234, sampler=sample, interval=0.001) as use:
        pass
    assert not use.ran_on_gpu(min_growth_bytes=8 << 20)
    assert use.unattributable(min_growth_bytes=8 << 20)


def test_gpu_evidence_is_absent_when_nothing_can_be_observed():
    with watching_gpu_use(1234, sampler=lambda: None) as use:
        pass
    assert not use.observable and not use.ran_on_gpu(min_growth_bytes=0)
    assert not GpuUse(samples=0).ran_on_gpu(min_growth_bytes=0)


def test_nvidia_smi_compute_apps_are_parsed():
    text = "4242, 530\n17, [N/A]\nnot a line\n4242, 2\n"
    assert parse_compute_apps(text) == {4242: 532 << 20, 17: 0}


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA driver")
def test_without_a_gpu_driver_gpu_use_is_not_observable():
    assert accelerators.nvidia_smi_sampler() is None
    assert accelerators.default_sampler()() is None


_IGNORES_DEVICE = '''
def train_on_device(model, loader, device, epochs=3, lr=0.5):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        for features, labels in loader:
            loss = F.cross_entropy(model(features), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
'''


def _pretend_cuda_grader(monkeypatch, sampler) -> None:
    """Mock hardware: the grading process believes it has CUDA, and the driver report is scripted."""
    monkeypatch.setattr(accelerators, "grader_accelerators", lambda: GraderAccelerators(cuda=True, mps=False))
    monkeypatch.setattr(accelerators, "default_sampler", lambda: sampler)


def test_extra_credit_on_a_gpu_grader_needs_the_drivers_evidence(grade, tmp_path, monkeypatch):
    # mock hardware: a CUDA grader whose driver sees the notebook's process take no GPU memory
    _pretend_cuda_grader(monkeypatch, _scripted([0]))
    write_variant(tmp_path, "05_device", {"train_on_device": _IGNORES_DEVICE})
    checks = _checks(grade(tmp_path, "05_device"), "05_device")
    for name in ("test_train_on_device_accelerator_losses", "test_train_on_device_accelerator_weights"):
        assert checks[name].status is Status.FAILED
        assert "did not use the GPU" in checks[name].message


def test_extra_credit_is_not_available_where_gpu_use_cannot_be_observed(grade, tmp_path, monkeypatch):
    # mock hardware: a CUDA grader without NVML or nvidia-smi
    _pretend_cuda_grader(monkeypatch, _scripted([None]))
    write_variant(tmp_path, "05_device", {"train_on_device": _IGNORES_DEVICE})
    result = grade(tmp_path, "05_device")
    extra = [check for check in result.notebook("05_device").checks if check.extra_credit]
    assert all(check.status is Status.NOT_AVAILABLE for check in extra)


def test_extra_credit_follows_the_drivers_evidence_not_the_notebook(grade, tmp_path, monkeypatch):
    # mock hardware: the driver reports new GPU memory for the notebook's process during the call
    _pretend_cuda_grader(monkeypatch, _scripted([0, 512 << 20]))
    write_variant(tmp_path, "05_device", {"train_on_device": _IGNORES_DEVICE})
    checks = _checks(grade(tmp_path, "05_device"), "05_device")
    assert checks["test_train_on_device_accelerator_losses"].status is Status.PASSED


# ------------------------------------------------------------------ a network's structure


_MISSING_RELU = '''
class NeuralNetwork(nn.Module):
    def __init__(self, num_inputs, num_outputs):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(num_inputs, 30), nn.ReLU(), nn.Linear(30, 20), nn.Identity(),
                                    nn.Linear(20, num_outputs))

    def forward(self, x):
        return self.layers(x)
'''

_DESCRIBE_RELUS = '''
_original_named_modules = nn.Module.named_modules

def _claims_relus(self, *args, **kwargs):
    for path, module in _original_named_modules(self, *args, **kwargs):
        yield path, (nn.ReLU() if isinstance(module, nn.Identity) else module)

nn.Module.named_modules = _claims_relus
nn.Identity.__name__ = "ReLU"
nn.Identity.__qualname__ = "ReLU"
'''


def test_a_network_describing_itself_falsely_is_judged_by_what_it_computes(grade, tmp_path):
    write_variant(tmp_path, "04_mlp", {"NeuralNetwork": _MISSING_RELU}, extra_cells=(_DESCRIBE_RELUS,))
    checks = _checks(grade(tmp_path, "04_mlp"), "04_mlp")
    assert checks["test_NeuralNetwork_layer_types"].status is Status.FAILED
    assert "second hidden layer is not followed by a ReLU" in checks["test_NeuralNetwork_layer_types"].message


# ------------------------------------------------------------------ versions


def test_a_notebook_faking_its_python_version_is_not_believed(grade, tmp_path):
    write_variant(tmp_path, "01_setup", {}, extra_cells=("import platform\nplatform.python_version = lambda: '3.99.0'\n",))
    checks = _checks(grade(tmp_path, "01_setup"), "01_setup")
    assert checks["test_environment_report_versions"].status is Status.FAILED


# ------------------------------------------------------------------ the suites' two namespaces


def test_student_functions_are_called_only_explicitly():
    notebook = StudentNotebook(stem="02_tensors", sandbox=None, notebook=None)
    with pytest.raises(AttributeError):
        notebook.gram  # noqa: B018 - a typo or a student's name is no longer a call into the notebook


# ------------------------------------------------------------------ simulated machines are consistent


def test_a_simulated_machine_answers_every_related_question_alike():
    machine = SimulatedMachine()
    before = (torch.cuda.is_available(), torch.backends.mps.is_built(), torch.cuda.device_count())
    try:
        machine.apply(cuda=False, mps=True)
        assert torch.backends.mps.is_built() and torch.backends.mps.is_available()
        assert not torch.cuda.is_available() and torch.cuda.device_count() == 0
        assert torch.accelerator.is_available() and torch.accelerator.current_accelerator() == torch.device("mps")
        machine.apply(cuda=True, mps=False)
        assert torch.cuda.is_available() and torch.cuda.device_count() == 1 and torch.backends.cuda.is_built()
        assert torch.cuda.current_device() == 0 and isinstance(torch.cuda.get_device_name(0), str)
        assert not torch.backends.mps.is_available()
        assert torch.accelerator.current_accelerator() == torch.device("cuda")
    finally:
        machine.restore()
    assert (torch.cuda.is_available(), torch.backends.mps.is_built(), torch.cuda.device_count()) == before


# ------------------------------------------------------------------ hidden inputs in student messages



_LEAKS_ITS_INPUT = """
def gram(t):
    raise ValueError(f"my input was {t.tolist()} and {t}")
"""


def test_a_function_printing_its_hidden_input_shows_no_values(grade, tmp_path):
    write_variant(tmp_path, "02_tensors", {"gram": _LEAKS_ITS_INPUT})
    checks = _checks(grade(tmp_path, "02_tensors"), "02_tensors")
    for name, check in checks.items():
        if name.startswith("test_gram"):
            assert check.status is Status.FAILED and "my input was" not in check.message, check.message
            assert "raised ValueError" in check.message
