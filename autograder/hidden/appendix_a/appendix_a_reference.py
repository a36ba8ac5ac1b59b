"""Trusted reference code shared by the Appendix A hidden suites (A.5 to A.9).

Everything here runs in the grader process only.  It never imports the
solution notebooks: it is an independent implementation of the same
behaviour, used to compute the expected results for random inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

HIDDEN = (30, 20)  # the hidden layer sizes of the book's multilayer perceptron (A.5)


# ------------------------------------------------------------------ models


def mlp_layers(num_inputs: int, num_outputs: int, hidden: tuple[int, ...] = HIDDEN) -> list[tuple]:
    """Layer spec of the reference perceptron for ``nb.make_model``."""
    spec: list[tuple] = []
    width = num_inputs
    for size in hidden:
        spec += [("linear", width, size), ("relu",)]
        width = size
    spec.append(("linear", width, num_outputs))
    return spec


def build_sequential(layers: list[tuple]) -> nn.Sequential:
    """The ``nn.Sequential`` described by a ``nb.make_model`` layer spec, in this process."""
    modules: list[nn.Module] = []
    for layer in layers:
        if layer[0] == "linear":
            modules.append(nn.Linear(layer[1], layer[2]))
        elif layer[0] == "relu":
            modules.append(nn.ReLU())
        else:  # pragma: no cover - suites only use the two kinds above
            raise ValueError(f"unknown layer kind {layer[0]!r}")
    return nn.Sequential(*modules)


def reference_mlp(num_inputs: int, num_outputs: int) -> nn.Sequential:
    """The book's perceptron (num_inputs -> 30 -> 20 -> num_outputs) as an ``nn.Sequential``."""
    return build_sequential(mlp_layers(num_inputs, num_outputs))


def expected_module_table(num_inputs: int, num_outputs: int) -> list[tuple[str, str, int | None, int | None]]:
    """``(path, class name, in_features, out_features)`` of ``layers.0`` .. ``layers.4``."""
    table = []
    for index, layer in enumerate(mlp_layers(num_inputs, num_outputs)):
        if layer[0] == "linear":
            table.append((f"layers.{index}", "Linear", layer[1], layer[2]))
        else:
            table.append((f"layers.{index}", "ReLU", None, None))
    return table


def parameter_count(layers: list[tuple]) -> int:
    """Number of parameters of a ``nb.make_model`` layer spec."""
    return sum(layer[1] * layer[2] + layer[2] for layer in layers if layer[0] == "linear")


def random_state_dict(layers: list[tuple], rng: torch.Generator, scale: float = 0.5) -> dict[str, torch.Tensor]:
    """Random float32 weights for a ``nb.make_model`` spec, keyed like ``nn.Sequential`` ("0.weight", ...)."""
    state: dict[str, torch.Tensor] = {}
    for index, layer in enumerate(layers):
        if layer[0] == "linear":
            fan_in, fan_out = layer[1], layer[2]
            bound = scale / fan_in ** 0.5 * 2
            state[f"{index}.weight"] = (torch.rand(fan_out, fan_in, generator=rng) * 2 - 1) * bound
            state[f"{index}.bias"] = (torch.rand(fan_out, generator=rng) * 2 - 1) * bound
    return state


def model_from_state(layers: list[tuple], state: dict[str, torch.Tensor]) -> nn.Sequential:
    model = build_sequential(layers)
    model.load_state_dict({key: value.clone() for key, value in state.items()})
    return model


# ------------------------------------------------------------------ data


def random_classification(rng: torch.Generator, n: int, num_features: int, num_classes: int):
    """Random float32 features and int64 labels in ``range(num_classes)``."""
    X = torch.randn(n, num_features, generator=rng)
    y = torch.randint(0, num_classes, (n,), generator=rng)
    return X, y


def sequential_batches(X: torch.Tensor, y: torch.Tensor, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The batches of ``DataLoader(TensorDataset(X, y), batch_size)`` without shuffling, last one partial."""
    return [(X[start:start + batch_size], y[start:start + batch_size]) for start in range(0, len(y), batch_size)]


def reference_loader_batches(X, y, batch_size: int, *, shuffle: bool, seed: int | None, drop_last: bool) -> list:
    """What ``list(iter(loader))`` gives for a fresh loader built the way the book does (A.6)."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle,
                        generator=generator, drop_last=drop_last)
    return [(features, labels) for features, labels in loader]


# ------------------------------------------------------------------ training


def reference_train(model: nn.Module, batches, epochs: int, lr: float) -> list[float]:
    """Plain SGD with cross-entropy, as in A.7; returns the loss of every batch.

    The update ``p <- p - lr * grad`` is written out instead of using ``torch.optim.SGD``:
    it is the same arithmetic, and the grader process skips the slow first import of the
    optimizer machinery.
    """
    parameters = list(model.parameters())
    losses: list[float] = []
    for _ in range(epochs):
        model.train()
        for features, labels in batches:
            loss = F.cross_entropy(model(features), labels)
            for parameter in parameters:
                parameter.grad = None
            loss.backward()
            with torch.no_grad():
                for parameter in parameters:
                    if parameter.grad is not None:
                        parameter.add_(parameter.grad, alpha=-lr)
            losses.append(loss.item())
    model.eval()
    return losses


def reference_accuracy(model: nn.Module, batches) -> float:
    """Correct arg-max predictions divided by the number of examples (A.7)."""
    correct = 0
    total = 0
    model.eval()
    with torch.no_grad():
        for features, labels in batches:
            predictions = model(features).argmax(dim=1)
            correct += int((predictions == labels).sum())
            total += len(labels)
    return correct / total


def mean_batch_accuracy(model: nn.Module, batches) -> float:
    """The usual mistake: the mean of the per-batch accuracies (wrong with an uneven last batch)."""
    values = []
    with torch.no_grad():
        for features, labels in batches:
            values.append(float((model(features).argmax(dim=1) == labels).float().mean()))
    return sum(values) / len(values)


def as_float(value) -> float | None:
    """A returned loss as a float: Python numbers and 0-d / one-element tensors; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.device.type == "cpu":
        return float(value.detach().reshape(()))
    return None
