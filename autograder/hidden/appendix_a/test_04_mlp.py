"""Hidden checks for 04_mlp.ipynb: a multilayer perceptron and its training loop (A.5 to A.8).

Training loops, accuracy and parameter counting are checked on trusted models and
loaders built in the notebook process (``nb.make_model`` / ``nb.make_loader``), so a
mistake in ``NeuralNetwork`` or ``make_loaders`` does not cost those points twice.
"""

from __future__ import annotations

import math

import pytest
import torch

from appendix_a_reference import (
    as_float,
    expected_module_table,
    mean_batch_accuracy,
    mlp_layers,
    model_from_state,
    parameter_count,
    random_classification,
    random_state_dict,
    reference_accuracy,
    reference_loader_batches,
    reference_mlp,
    reference_train,
    sequential_batches,
)
from autograder.grading.judge import StudentError, expect_number, expect_tensor, fail

NOTEBOOK = "04_mlp"

LOSS_ATOL = 1e-5
WEIGHT_ATOL = 1e-5


def _int(rng: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=rng))


def _float(rng: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=rng))


def _sizes(rng: torch.Generator) -> tuple[int, int]:
    return _int(rng, 2, 9), _int(rng, 2, 5)


def _as_mapping(value, what: str) -> dict:
    """A state dict (state dicts are OrderedDicts; they come back as plain dicts)."""
    if isinstance(value, dict):
        return value
    fail(f"{what} is not a dictionary of tensors (a state_dict)")


def _small_net(rng: torch.Generator, num_features: int, num_classes: int) -> list[tuple]:
    hidden = _int(rng, 3, 6)
    return [("linear", num_features, hidden), ("relu",), ("linear", hidden, num_classes)]


# ====================================================================== NeuralNetwork


def _children(description) -> list:
    """The direct children of ``layers`` in registration order."""
    return [info for info in description.modules
            if info.path.startswith("layers.") and info.path.count(".") == 1]


def _describe_network(nb, num_inputs: int, num_outputs: int):
    model = nb.NeuralNetwork(num_inputs, num_outputs)
    description = nb.describe_module(model)
    if not description.is_module:
        fail("NeuralNetwork(num_inputs, num_outputs) did not create an nn.Module: "
             "derive the class from nn.Module and call super().__init__()")
    by_path = {info.path: info for info in description.modules}
    if "layers" not in by_path:
        fail("NeuralNetwork has no submodule called `layers`: store the nn.Sequential in self.layers")
    if by_path["layers"].class_name != "Sequential":
        fail("self.layers should be an nn.Sequential holding the five layers")
    return model, description


@pytest.mark.grade(2, fn="NeuralNetwork")
def test_NeuralNetwork_layer_types(nb, rng):
    """self.layers is an nn.Sequential of Linear, ReLU, Linear, ReLU, Linear."""
    num_inputs, num_outputs = _sizes(rng)
    _, description = _describe_network(nb, num_inputs, num_outputs)
    found = [info.class_name for info in _children(description)]
    wanted = ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    if found != wanted:
        fail("self.layers should contain exactly Linear, ReLU, Linear, ReLU, Linear in this order; "
             f"yours contains {', '.join(found) or 'nothing'}. Each hidden layer needs a ReLU after it, "
             "and the output layer needs none.")


@pytest.mark.grade(2, fn="NeuralNetwork")
def test_NeuralNetwork_layer_sizes(nb, rng):
    """The Linear layers map num_inputs -> 30 -> 20 -> num_outputs (also for the book's NeuralNetwork(50, 3))."""
    for num_inputs, num_outputs in ((50, 3), _sizes(rng)):
        _, description = _describe_network(nb, num_inputs, num_outputs)
        linears = [(info.in_features, info.out_features)
                   for info in _children(description) if info.class_name == "Linear"]
        wanted = [(row[2], row[3]) for row in expected_module_table(num_inputs, num_outputs)
                  if row[1] == "Linear"]
        if len(linears) != len(wanted):
            fail("NeuralNetwork should have three Linear layers in self.layers")
        if linears[0][0] != num_inputs:
            fail("the first Linear layer should take num_inputs features")
        if linears[-1][1] != num_outputs:
            fail("the last Linear layer should produce num_outputs values (one logit per class)")
        if [size for _, size in linears[:2]] == [20, 30]:
            fail("the hidden layers are swapped: the first hidden layer has 30 units, the second 20")
        if linears != wanted:
            fail("the Linear layers should map num_inputs -> 30 -> 20 -> num_outputs, each layer "
                 "taking as many inputs as the previous one produces")


@pytest.mark.grade(3, fn="NeuralNetwork")
def test_NeuralNetwork_forward_matches_reference(nb, rng):
    """forward(x) returns the logits of Linear-ReLU-Linear-ReLU-Linear for the model's own weights."""
    num_inputs, num_outputs = _sizes(rng)
    model = nb.NeuralNetwork(num_inputs, num_outputs)
    state = nb.state_dict(model)
    reference = reference_mlp(num_inputs, num_outputs)
    wanted = {f"layers.{key}": tuple(value.shape) for key, value in reference.state_dict().items()}
    found = {key: tuple(value.shape) for key, value in state.items()}
    if found != wanted:
        fail("the parameters of NeuralNetwork are not laid out like the book's network "
             "(layers.0, layers.2 and layers.4 are the Linear layers, see the structure checks), "
             "so its forward pass cannot be compared")
    reference.load_state_dict({key.removeprefix("layers."): value for key, value in state.items()})
    x = torch.randn(_int(rng, 1, 6), num_inputs, generator=rng)
    with torch.no_grad():
        expected = reference(x)
    out = model(x)
    if isinstance(out, torch.Tensor) and out.shape == expected.shape and out.dtype == expected.dtype:
        rows = out.detach().sum(dim=1)
        softmaxed = bool(torch.all(out >= 0)) and torch.allclose(rows, torch.ones_like(rows), atol=1e-5)
        if softmaxed and not torch.allclose(out, expected, atol=1e-5):
            fail("forward returns probabilities (rows add up to 1): return the raw logits of the last "
                 "Linear layer; F.cross_entropy applies softmax itself")
    expect_tensor(out, expected, what="model(x)", atol=1e-5, rtol=1e-5,
                  hint="forward should return self.layers(x): the raw logits, without softmax")


# ====================================================================== count_parameters


def _count(nb, model) -> int:
    value = nb.count_parameters(model)
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        fail(f"count_parameters should return a number, not {type(value).__name__}")
    return value


@pytest.mark.grade(1, fn="count_parameters")
def test_count_parameters_book_examples(nb):
    """count_parameters gives 2213 for the book's (50, 3) network and 752 for (2, 2)."""
    for sizes, expected in (((50, 3), 2213), ((2, 2), 752)):
        value = _count(nb, nb.make_model(mlp_layers(*sizes)))
        expect_number(value, expected, what=f"count_parameters of the {sizes[0]}-30-20-{sizes[1]} network",
                      atol=0)


@pytest.mark.grade(1, fn="count_parameters")
def test_count_parameters_random_models(nb, rng):
    """count_parameters counts every weight and bias element of other models too."""
    for _ in range(2):
        widths = [_int(rng, 1, 12) for _ in range(_int(rng, 2, 4))]
        layers: list[tuple] = []
        for index in range(len(widths) - 1):
            layers.append(("linear", widths[index], widths[index + 1]))
            if index < len(widths) - 2:
                layers.append(("relu",))
        value = _count(nb, nb.make_model(layers))
        expect_number(value, parameter_count(layers), what="count_parameters(model)", atol=0)


@pytest.mark.grade(1, fn="count_parameters")
def test_count_parameters_skips_frozen(nb, rng):
    """Parameters with requires_grad=False are not trainable and are not counted."""
    num_inputs, num_outputs = _sizes(rng)
    layers = mlp_layers(num_inputs, num_outputs)
    model = nb.make_model(layers)
    model.get("0").method("requires_grad_", False)
    frozen = {info.path for info in nb.describe_module(model).parameters if not info.requires_grad}
    if frozen != {"0.weight", "0.bias"}:
        raise RuntimeError("could not freeze the first layer of the trusted model")
    expected = parameter_count(layers) - parameter_count(layers[:1])
    value = _count(nb, model)
    if value == parameter_count(layers):
        fail("count_parameters also counted frozen parameters: count only those with p.requires_grad")
    expect_number(value, expected, what="count_parameters of a partly frozen model", atol=0)


@pytest.mark.grade(1, fn="count_parameters")
def test_count_parameters_returns_int(nb, rng):
    """count_parameters returns a Python int."""
    value = nb.count_parameters(nb.make_model(mlp_layers(*_sizes(rng))))
    if type(value) is not int:
        kind = "a tensor" if isinstance(value, torch.Tensor) else type(value).__name__
        fail(f"count_parameters returned {kind}; return a Python int (sum of p.numel() values)")


# ====================================================================== ToyDataset


@pytest.mark.grade(1, fn="ToyDataset")
def test_ToyDataset_len(nb, rng):
    """len(ToyDataset(features, labels)) is the number of examples."""
    n = _int(rng, 3, 12)
    X, y = random_classification(rng, n, _int(rng, 2, 4), 3)
    if n == X.shape[1]:
        n += 1
        X, y = random_classification(rng, n, X.shape[1], 3)
    length = nb.ToyDataset(X, y).len()
    if length == X.shape[1]:
        fail("len(ToyDataset) returned the number of features; it should be the number of examples")
    expect_number(length, n, what="len(ToyDataset(features, labels))", atol=0)


@pytest.mark.grade(2, fn="ToyDataset")
def test_ToyDataset_getitem(nb, rng):
    """dataset[i] returns the pair (features[i], labels[i])."""
    n = _int(rng, 3, 12)
    X, y = random_classification(rng, n, _int(rng, 2, 4), 3)
    dataset = nb.ToyDataset(X, y)
    for index in (0, _int(rng, 1, n - 2), n - 1):
        item = dataset.method("__getitem__", index)
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            fail("dataset[i] should return a pair (features[i], labels[i])")
        first, second = item
        if isinstance(first, torch.Tensor) and first.dim() == 0 and isinstance(second, torch.Tensor) \
                and second.dim() == 1:
            fail("dataset[i] returned (label, features): return the features first, then the label")
        expect_tensor(first, X[index], what="dataset[i][0] (the features of example i)")
        expect_tensor(second, y[index], what="dataset[i][1] (the label of example i)")


# ====================================================================== make_loaders


def _batches(loader_ref, what: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    batches = []
    for batch in loader_ref.items(limit=1000):
        if not isinstance(batch, (list, tuple)) or len(batch) != 2 \
                or not all(isinstance(part, torch.Tensor) for part in batch):
            fail(f"each batch of the {what} should be a pair (features, labels) of tensors")
        batches.append((batch[0], batch[1]))
    return batches


def _loader_data(rng: torch.Generator, batch_size: int):
    """Train and test data whose sizes are not multiples of batch_size."""
    num_features = _int(rng, 2, 4)
    # at least 7 examples each, so a shuffled order is almost never the original one
    n_train = batch_size * _int(rng, 3, 4) + _int(rng, 1, batch_size - 1)
    n_test = batch_size * _int(rng, 3, 4) + _int(rng, 1, batch_size - 1)
    X_train, y_train = random_classification(rng, n_train, num_features, 3)
    X_test, y_test = random_classification(rng, n_test, num_features, 3)
    # distinct labels make order mistakes visible in the labels too
    y_train = torch.randperm(n_train, generator=rng)
    y_test = torch.arange(n_test)
    return X_train, y_train, X_test, y_test


def _same_batches(found, expected) -> bool:
    return len(found) >= len(expected) and all(
        torch.equal(f[0], e[0]) and torch.equal(f[1], e[1]) for f, e in zip(found, expected))


@pytest.mark.grade(2, fn="make_loaders")
def test_make_loaders_train_order(nb, rng):
    """The training loader shuffles with torch.Generator().manual_seed(seed)."""
    batch_size = _int(rng, 2, 4)
    seed = _int(rng, 0, 10_000)
    seed = 124 if seed == 123 else seed  # differs from the default, so an ignored seed shows
    X_train, y_train, X_test, y_test = _loader_data(rng, batch_size)
    train, _ = nb.make_loaders(X_train, y_train, X_test, y_test, batch_size=batch_size, seed=seed)
    found = _batches(train, "training loader")
    expected = reference_loader_batches(X_train, y_train, batch_size, shuffle=True, seed=seed, drop_last=True)
    if _same_batches(found, expected):
        return
    seen = torch.cat([batch[1] for batch in found]) if found else y_train[:0]
    if len(seen) > 1 and torch.equal(seen, y_train[: len(seen)]):
        fail("the training loader does not shuffle the examples: use shuffle=True")
    if any(len(batch[1]) != batch_size for batch in found[: len(expected)]):
        fail("the training batches do not have batch_size examples each")
    fail("the training batches are not in the order of a loader shuffled with "
         "generator=torch.Generator().manual_seed(seed): pass that generator to the DataLoader "
         "(a global torch.manual_seed gives another order)")


@pytest.mark.grade(1, fn="make_loaders")
def test_make_loaders_drop_last(nb, rng):
    """The training loader drops the last, incomplete batch (drop_last=True)."""
    batch_size = _int(rng, 2, 4)
    X_train, y_train, X_test, y_test = _loader_data(rng, batch_size)
    train, _ = nb.make_loaders(X_train, y_train, X_test, y_test, batch_size=batch_size, seed=_int(rng, 0, 999))
    found = _batches(train, "training loader")
    sizes = [len(batch[1]) for batch in found]
    if sizes and sizes[-1] < batch_size and all(size == batch_size for size in sizes[:-1]):
        fail("the training loader yields a smaller final batch: use drop_last=True")
    if len(sizes) != len(y_train) // batch_size or any(size != batch_size for size in sizes):
        fail("the training loader should yield len(X_train) // batch_size batches of batch_size examples")


@pytest.mark.grade(2, fn="make_loaders")
def test_make_loaders_test_loader(nb, rng):
    """The test loader keeps the original order and every example (no shuffle, no drop_last)."""
    batch_size = _int(rng, 2, 4)
    X_train, y_train, X_test, y_test = _loader_data(rng, batch_size)
    _, test = nb.make_loaders(X_train, y_train, X_test, y_test, batch_size=batch_size, seed=_int(rng, 0, 999))
    found = _batches(test, "test loader")
    if any(len(batch[1]) > batch_size for batch in found):
        fail("the test batches are larger than batch_size")
    labels = torch.cat([batch[1] for batch in found]) if found else torch.empty(0, dtype=torch.long)
    if len(labels) < len(y_test):
        if len(labels) == len(y_test) // batch_size * batch_size:
            fail("the test loader drops the last, smaller batch: only the training loader uses drop_last=True")
        fail("the test loader does not yield every test example")
    if len(labels) > len(y_test):
        fail("the test loader yields more examples than the test set has")
    if not torch.equal(labels, y_test):
        fail("the test loader changes the order of the examples: do not shuffle the test set")
    expected = reference_loader_batches(X_test, y_test, batch_size, shuffle=False, seed=None, drop_last=False)
    if not _same_batches(found, expected) or len(found) != len(expected):
        fail("the test batches should be consecutive slices of batch_size examples of (X_test, y_test)")


@pytest.mark.grade(1, fn="make_loaders")
def test_make_loaders_defaults(nb, rng):
    """Without extra arguments make_loaders uses batch_size=2 and seed=123, as in the book."""
    X_train, y_train, X_test, y_test = _loader_data(rng, 2)
    train, _ = nb.make_loaders(X_train, y_train, X_test, y_test)
    found = _batches(train, "training loader")
    expected = reference_loader_batches(X_train, y_train, 2, shuffle=True, seed=123, drop_last=True)
    if not _same_batches(found, expected):
        fail("with the default arguments the training batches differ from batch_size=2 and a "
             "generator seeded with 123: check the defaults batch_size=2, seed=123")


# ====================================================================== train


def _training_case(nb, rng, *, epochs=None, lr=None):
    """A trusted model and loader in the notebook, and the same in this process."""
    num_features, num_classes = _int(rng, 2, 4), _int(rng, 2, 3)
    batch_size = _int(rng, 2, 4)
    n = batch_size * _int(rng, 2, 3) + _int(rng, 0, batch_size - 1)
    X, y = random_classification(rng, n, num_features, num_classes)
    layers = _small_net(rng, num_features, num_classes)
    state = random_state_dict(layers, rng)
    model_ref = nb.make_model(layers, state_dict=state)
    loader_ref = nb.make_loader(X, y, batch_size=batch_size, shuffle=False)
    reference = model_from_state(layers, state)
    return {
        "model": model_ref, "loader": loader_ref, "reference": reference,
        "batches": sequential_batches(X, y, batch_size),
        # never the defaults (3 epochs, lr 0.5), so ignoring an argument always shows
        "epochs": epochs if epochs is not None else (2, 4)[_int(rng, 0, 1)],
        "lr": lr if lr is not None else _random_lr(rng),
    }


def _random_lr(rng: torch.Generator) -> float:
    lr = round(_float(rng, 0.05, 0.9), 3)
    return 0.45 if lr == 0.5 else lr


def _check_losses(losses, expected: list[float], what: str) -> None:
    if not isinstance(losses, (list, tuple)):
        fail(f"{what} should return a list of losses, one per batch")
    if len(losses) != len(expected):
        fail(f"{what} returned the wrong number of losses: record one loss per batch, "
             "for every batch of every epoch (epochs * len(loader) in all)")
    values = [as_float(loss) for loss in losses]
    if any(value is None for value in values):
        fail(f"the losses returned by {what} should be numbers (loss.item())")
    for index, (value, wanted) in enumerate(zip(values, expected)):
        if not math.isclose(value, wanted, abs_tol=LOSS_ATOL, rel_tol=LOSS_ATOL):
            if index == 0:
                fail(f"the first loss of {what} is wrong: compute F.cross_entropy(model(features), labels) "
                     "and record it before changing the weights")
            fail(f"the losses of {what} drift away from plain SGD after the first batches: call "
                 "optimizer.zero_grad() before loss.backward(), use the given lr, and take one "
                 "optimizer.step() per batch")


def _check_weights(nb, case, what: str) -> None:
    found = nb.state_dict(case["model"])
    for key, wanted in case["reference"].state_dict().items():
        if key not in found:
            raise RuntimeError("the trusted model lost a parameter")
        got = found[key]
        if got.shape != wanted.shape or not torch.allclose(got, wanted, atol=WEIGHT_ATOL, rtol=WEIGHT_ATOL):
            if torch.equal(got, case["initial"][key]):
                fail(f"{what} did not change the model's weights: create torch.optim.SGD over "
                     "model.parameters() and call optimizer.step() after loss.backward()")
            fail(f"after {what} the model's weights differ from plain SGD with the given lr and epochs: "
                 "check zero_grad, lr and one optimizer.step() per batch")


def _run_training(nb, case, function: str, **extra):
    case["initial"] = {key: value.clone() for key, value in case["reference"].state_dict().items()}
    kwargs = {} if extra.pop("defaults", False) else {"epochs": case["epochs"], "lr": case["lr"]}
    losses = getattr(nb, function)(case["model"], case["loader"], *extra.pop("args", ()), **kwargs)
    expected = reference_train(case["reference"], case["batches"], case["epochs"], case["lr"])
    return losses, expected


@pytest.mark.grade(1, fn="train")
def test_train_returns_float_losses(nb, rng):
    """train returns a list with one Python float per batch and epoch."""
    case = _training_case(nb, rng)
    losses, expected = _run_training(nb, case, "train")
    if not isinstance(losses, list):
        fail(f"train should return a list, not {type(losses).__name__}")
    if len(losses) != len(expected):
        fail("train returned the wrong number of losses: one per batch for every epoch")
    for loss in losses:
        if type(loss) is not float:
            kind = "tensors" if isinstance(loss, torch.Tensor) else type(loss).__name__
            fail(f"train returned {kind} in its list; append loss.item() so the losses are Python floats")


@pytest.mark.grade(3, fn="train")
def test_train_losses_match_reference(nb, rng):
    """The per-batch losses match SGD with F.cross_entropy for random epochs and learning rates."""
    case = _training_case(nb, rng)
    losses, expected = _run_training(nb, case, "train")
    _check_losses(losses, expected, "train")


@pytest.mark.grade(2, fn="train")
def test_train_updates_weights(nb, rng):
    """After train, the model's weights equal those of the reference SGD loop."""
    case = _training_case(nb, rng)
    _run_training(nb, case, "train")
    _check_weights(nb, case, "train")


@pytest.mark.grade(1, fn="train")
def test_train_defaults(nb, rng):
    """Without extra arguments train runs 3 epochs with lr=0.5."""
    case = _training_case(nb, rng, epochs=3, lr=0.5)
    losses, expected = _run_training(nb, case, "train", defaults=True)
    if isinstance(losses, (list, tuple)) and len(losses) != len(expected):
        fail("with the default arguments train should run epochs=3 (one loss per batch and epoch)")
    _check_losses(losses, expected, "train with its default arguments")


# ====================================================================== compute_accuracy


def _accuracy_case(nb, rng, *, uneven: bool):
    """A trusted model and a loader whose labels are partly right, partly wrong."""
    num_features, num_classes = _int(rng, 2, 4), _int(rng, 2, 4)
    batch_size = _int(rng, 2, 4)
    n = batch_size * _int(rng, 3, 4) + (_int(rng, 1, batch_size - 1) if uneven else 0)
    X = torch.randn(n, num_features, generator=rng)
    layers = _small_net(rng, num_features, num_classes)
    state = random_state_dict(layers, rng, scale=1.5)
    reference = model_from_state(layers, state)
    with torch.no_grad():
        predicted = reference(X).argmax(dim=1)
    # flip a random subset of labels, leaving at least two right and one wrong
    for _ in range(50):
        wrong = torch.rand(n, generator=rng) < 0.45
        wrong[0] = False
        wrong[1] = False
        wrong[-1] = True
        y = torch.where(wrong, (predicted + 1) % num_classes, predicted)
        batches = sequential_batches(X, y, batch_size)
        if not uneven or abs(mean_batch_accuracy(reference, batches) - reference_accuracy(reference, batches)) > 1e-3:
            break
    else:  # pragma: no cover - 50 draws never all tie
        raise RuntimeError("could not draw labels that tell the averaging mistake apart")
    model_ref = nb.make_model(layers, state_dict=state)
    loader_ref = nb.make_loader(X, y, batch_size=batch_size, shuffle=False)
    correct = int((predicted == y).sum())
    return model_ref, loader_ref, reference, batches, correct


def _accuracy_value(value) -> float:
    number = as_float(value)
    if number is None:
        fail(f"compute_accuracy should return a number, not {type(value).__name__}")
    return number


@pytest.mark.grade(2, fn="compute_accuracy")
def test_compute_accuracy_matches_reference(nb, rng):
    """compute_accuracy is the fraction of correct arg-max predictions over the loader."""
    model_ref, loader_ref, reference, batches, correct = _accuracy_case(nb, rng, uneven=False)
    value = _accuracy_value(nb.compute_accuracy(model_ref, loader_ref))
    expected = reference_accuracy(reference, batches)
    if value == correct:
        fail("compute_accuracy returned the number of correct predictions: divide by the number of examples")
    if not 0.0 <= value <= 1.0:
        fail("compute_accuracy should return a fraction between 0 and 1")
    expect_number(value, expected, what="compute_accuracy(model, loader)", atol=1e-6)


@pytest.mark.grade(1, fn="compute_accuracy")
def test_compute_accuracy_uneven_batches(nb, rng):
    """With a smaller last batch, every example counts once (no mean of batch accuracies)."""
    model_ref, loader_ref, reference, batches, correct = _accuracy_case(nb, rng, uneven=True)
    value = _accuracy_value(nb.compute_accuracy(model_ref, loader_ref))
    expected = reference_accuracy(reference, batches)
    if math.isclose(value, mean_batch_accuracy(reference, batches), abs_tol=1e-6):
        fail("compute_accuracy averages the accuracies of the batches, which weighs the smaller last "
             "batch too much: count correct predictions and examples over the whole loader, then divide")
    if value == correct:
        fail("compute_accuracy returned the number of correct predictions: divide by the number of examples")
    expect_number(value, expected, what="compute_accuracy(model, loader) with a smaller last batch", atol=1e-6)


@pytest.mark.grade(1, fn="compute_accuracy")
def test_compute_accuracy_returns_float(nb, rng):
    """compute_accuracy returns a Python float."""
    model_ref, loader_ref, *_ = _accuracy_case(nb, rng, uneven=False)
    value = nb.compute_accuracy(model_ref, loader_ref)
    if type(value) is not float:
        kind = "a tensor" if isinstance(value, torch.Tensor) else type(value).__name__
        fail(f"compute_accuracy returned {kind}; return a Python float (for example with .item() "
             "on the tensor ratio, or float(...))")


# ====================================================================== save_model / load_model


def _weights_path(rng: torch.Generator, stem: str) -> str:
    return f"{stem}_{_int(rng, 0, 99_999)}.pth"


def _read_saved(nb, path: str, what: str) -> dict:
    try:
        data = nb.read_weights(path)
    except StudentError:
        fail(f"the file written by {what} cannot be loaded with torch.load(path, weights_only=True): "
             "save model.state_dict(), not the model object itself")
    return _as_mapping(data, f"the object saved by {what}")


@pytest.mark.grade(2, fn="save_model")
def test_save_model_writes_state_dict(nb, rng):
    """save_model writes the model's state_dict (and nothing else) to the given path."""
    num_inputs, num_outputs = _sizes(rng)
    layers = mlp_layers(num_inputs, num_outputs)
    state = random_state_dict(layers, rng)
    model = nb.make_model(layers, state_dict=state)
    path = _weights_path(rng, "model")
    nb.save_model(model, path)
    saved = _read_saved(nb, path, "save_model")
    if set(saved) != set(state):
        fail("the saved dictionary does not have the keys of model.state_dict(): save exactly model.state_dict()")
    for key, wanted in state.items():
        expect_tensor(saved[key], wanted, what=f"saved[{key!r}]")


@pytest.mark.grade(2, fn="load_model")
def test_load_model_restores_weights(nb, rng):
    """load_model returns a NeuralNetwork holding exactly the weights saved at the path."""
    num_inputs, num_outputs = _sizes(rng)
    original = nb.NeuralNetwork(num_inputs, num_outputs)
    # random weights with the layout of the notebook's own NeuralNetwork
    state = {key: torch.randn(value.shape, generator=rng) for key, value in nb.state_dict(original).items()}
    nb.load_state_dict(original, state)
    path = _weights_path(rng, "weights")
    nb.write_weights(path, state)  # written by the grader, so a broken save_model costs only its own check
    loaded = nb.load_model(path, num_inputs, num_outputs)
    if not getattr(loaded, "type_name", "").endswith("NeuralNetwork"):
        fail("load_model should return a NeuralNetwork instance with the loaded weights")
    restored = nb.state_dict(loaded)
    if set(restored) != set(state):
        fail("the model returned by load_model does not have NeuralNetwork's parameters")
    for key, wanted in state.items():
        if not torch.equal(restored[key], wanted):
            fail("the model returned by load_model does not hold the saved weights: "
                 "call model.load_state_dict(torch.load(path, weights_only=True)) on a new NeuralNetwork")
