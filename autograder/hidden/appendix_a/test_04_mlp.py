"""Hidden checks for 04_mlp.ipynb: a multilayer perceptron and its training loop (A.5 to A.8).

Training loops, accuracy and parameter counting are checked on trusted models and
loaders built in the notebook process (``nb.make_model`` / ``nb.make_loader``), so a
mistake in ``NeuralNetwork`` or ``make_loaders`` does not cost those points twice.

Every default in a signature is checked by leaving it out and comparing with a call that
gives it; every function called twice on the same input must give the same answer (a
module-level generator, list or counter carries state from one call to the next).
"""

from __future__ import annotations

import math

import pytest
import torch

from appendix_a_reference import (
    as_float,
    mean_batch_accuracy,
    mlp_layers,
    model_from_state,
    parameter_count,
    random_classification,
    random_state_dict,
    reference_accuracy,
    reference_loader_batches,
    reference_train,
    sequential_batches,
)
from autograder.grading.judge import (
    Ref,
    SandboxError,
    StudentError,
    describe,
    expect_number,
    expect_tensor,
    fail,
    known_mistakes,
    matching_variant,
    same_tensor,
)

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


def _same_number(first, second) -> bool:
    """Whether two answers are the same number (nan equal to nan), or both not numbers."""
    a, b = as_float(first), as_float(second)
    if a is None or b is None:
        return (a is None) == (b is None)
    return a == b or (math.isnan(a) and math.isnan(b))


def _small_net(rng: torch.Generator, num_features: int, num_classes: int) -> list[tuple]:
    hidden = _int(rng, 3, 6)
    return [("linear", num_features, hidden), ("relu",), ("linear", hidden, num_classes)]


# ====================================================================== NeuralNetwork
#
# Structure is judged from data and behaviour, never from the notebook's own description
# of its modules: the parameter names and shapes come from the state_dict (tensors read
# with weights_only=True), and the layer types from what the network computes compared
# with trusted computations on the same weights.  Each check owns one aspect:
#   layer_sizes     the shapes of the three Linear layers, in order;
#   layer_types     self.layers is one nn.Sequential computing Linear-ReLU-Linear-ReLU-Linear;
#   forward         forward(x) returns what self.layers computes, for every batch size.

_LAYOUT = ("layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
           "layers.4.weight", "layers.4.bias")


def _network(nb, num_inputs: int, num_outputs: int):
    """The student's network and its state_dict (fails if it is not a module with parameters)."""
    model = nb.call("NeuralNetwork", num_inputs, num_outputs)
    if not isinstance(model, Ref):
        fail("NeuralNetwork(num_inputs, num_outputs) should create a model object (an nn.Module)")
    try:
        state = nb.state_dict(model)
    except SandboxError:
        fail("NeuralNetwork(num_inputs, num_outputs) did not create an nn.Module: "
             "derive the class from nn.Module and call super().__init__()")
    return model, _as_mapping(state, "the state_dict of NeuralNetwork")


def _linear_chain(state: dict) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of each Linear-like layer, in registration order, from a state_dict."""
    chain, tensors = [], list(state.values())
    index = 0
    while index + 1 < len(tensors):
        weight, bias = tensors[index], tensors[index + 1]
        if weight.dim() == 2 and bias.dim() == 1 and bias.shape[0] == weight.shape[0]:
            chain.append((weight, bias))
            index += 2
        else:
            index += 1
    return chain


_ACTIVATIONS = {"relu": torch.relu, "none": lambda h: h, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


def _compute(chain, x: torch.Tensor, hidden: tuple[str, ...], output: str = "none") -> torch.Tensor:
    """What a chain of Linear layers computes with the given activations between them and after."""
    h = x
    for index, (weight, bias) in enumerate(chain):
        h = h @ weight.T + bias
        h = _ACTIVATIONS[hidden[index] if index < len(chain) - 1 else output](h)
    return h


def _inputs(rng: torch.Generator, batch: int, num_inputs: int) -> torch.Tensor:
    # spread out, so that every hidden unit is negative for some rows: a missing ReLU shows
    return torch.randn(batch, num_inputs, generator=rng) * 3


def _revealing_inputs(rng: torch.Generator, chain, num_inputs: int) -> torch.Tensor:
    """Inputs for which the correct network gives at least one negative logit, so that a ReLU after the
    output layer changes the answer (a few rows may all be positive for some initialisations)."""
    x = _inputs(rng, 16, num_inputs)
    for _ in range(32):
        if bool((_compute(chain, x, ("relu", "relu")) < 0).any()):
            break
        x = torch.cat([x, _inputs(rng, 16, num_inputs)])
    return x


def _layers_of(model: Ref):
    """The student's self.layers as a Ref, or None."""
    try:
        layers = model.get("layers")
    except StudentError:
        return None
    return layers if isinstance(layers, Ref) else None


@pytest.mark.grade(2, fn="NeuralNetwork")
def test_NeuralNetwork_layer_types(nb, rng):
    """self.layers is one nn.Sequential computing Linear, ReLU, Linear, ReLU, Linear (no ReLU after the output)."""
    num_inputs, num_outputs = _sizes(rng)
    model, state = _network(nb, num_inputs, num_outputs)
    names = [key for key in state if key.endswith((".weight", ".bias"))]
    layers = _layers_of(model)
    if layers is None or not all(name.startswith("layers.") for name in names) or not names:
        fail("NeuralNetwork should keep its layers in one nn.Sequential stored as self.layers "
             "(parameters named layers.0.weight, ..., layers.4.bias)")
    if not layers.type_name.endswith("Sequential"):
        fail("self.layers should be an nn.Sequential holding the five layers")
    chain = _linear_chain(state)
    if len(chain) != 3:
        fail("self.layers should hold three Linear layers (Linear, ReLU, Linear, ReLU, Linear)")
    x = _revealing_inputs(rng, chain, num_inputs)
    found = layers(x)
    wanted = _compute(chain, x, ("relu", "relu"))
    mistakes = {}
    for first in _ACTIVATIONS:
        for second in _ACTIVATIONS:
            for output in ("none", "relu"):
                if (first, second, output) == ("relu", "relu", "none"):
                    continue
                problems = []
                if first != "relu":
                    problems.append("the first hidden layer is not followed by a ReLU"
                                    if first == "none" else f"the first hidden layer uses {first}, not ReLU")
                if second != "relu":
                    problems.append("the second hidden layer is not followed by a ReLU"
                                    if second == "none" else f"the second hidden layer uses {second}, not ReLU")
                if output == "relu":
                    problems.append("the output layer is followed by a ReLU (logits may be negative)")
                mistakes["; ".join(problems)] = _compute(chain, x, (first, second), output)
    if isinstance(found, torch.Tensor):
        diagnosis = matching_variant(found, mistakes, atol=1e-5, rtol=1e-4)
        if diagnosis and matching_variant(found, {"": wanted}, atol=1e-5, rtol=1e-4) is None:
            fail(f"self.layers should be Linear, ReLU, Linear, ReLU, Linear: {diagnosis}")
    if not same_tensor(found, wanted, atol=1e-5, rtol=1e-4):
        fail("self.layers does not compute Linear, ReLU, Linear, ReLU, Linear: each hidden layer needs a "
             "ReLU after it, the output layer none, and nothing else in between")
    if [name for name in names] != list(_LAYOUT):
        fail("self.layers should contain exactly Linear, ReLU, Linear, ReLU, Linear in this order "
             "(the parameters should be layers.0, layers.2 and layers.4)")


@pytest.mark.grade(2, fn="NeuralNetwork")
def test_NeuralNetwork_layer_sizes(nb, rng):
    """The Linear layers map num_inputs -> 30 -> 20 -> num_outputs (also for the book's NeuralNetwork(50, 3))."""
    for num_inputs, num_outputs in ((50, 3), _sizes(rng)):
        _, state = _network(nb, num_inputs, num_outputs)
        linears = [(weight.shape[1], weight.shape[0]) for weight, _ in _linear_chain(state)]
        wanted = [(num_inputs, 30), (30, 20), (20, num_outputs)]
        if len(linears) != 3:
            fail(f"NeuralNetwork should have three Linear layers; it has {len(linears)}")
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
    """forward(x) returns the logits self.layers computes, shape (batch, num_outputs), for a batch of one too."""
    num_inputs, num_outputs = _sizes(rng)
    model, state = _network(nb, num_inputs, num_outputs)
    layers = _layers_of(model)
    chain = _linear_chain(state)
    for batch in (1, _int(rng, 2, 6)):  # a batch of one, every time
        x = _inputs(rng, batch, num_inputs)
        if layers is not None:
            expected = layers(x)
            if not isinstance(expected, torch.Tensor) or tuple(expected.shape) != (batch, num_outputs):
                fail("self.layers should map a (batch, num_inputs) tensor to (batch, num_outputs) logits")
            expected = expected.detach()
        elif len(chain) == 3:  # no self.layers: that is layer_types' business; judge the computation
            expected = _compute(chain, x, ("relu", "relu"))
        else:
            fail("forward cannot be judged: NeuralNetwork has neither self.layers nor three Linear layers")
        out = model(x)
        if isinstance(out, torch.Tensor) and batch == 1 and tuple(out.shape) == (num_outputs,):
            fail("for a batch of one example forward returned shape (num_outputs,): keep the batch "
                 "dimension, shape (1, num_outputs) (do not squeeze the result)")
        expect_tensor(out, expected, what="model(x)", atol=1e-5, rtol=1e-5,
                      variants=known_mistakes("NeuralNetwork", expected, x),
                      hint="forward should return self.layers(x): the raw logits, without softmax")


# ====================================================================== count_parameters


def _count(nb, model):
    value = nb.call("count_parameters", model)
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        fail(f"count_parameters should return a number, not {describe(value)}")
    return value


def _count_mistakes(layers: list[tuple], frozen: int = 0) -> dict[int, str]:
    """The value each usual mistake gives for a make_model spec -> the message naming it."""
    linears = [layer for layer in layers if layer[0] == "linear"]
    weights = sum(layer[1] * layer[2] for layer in linears)
    mistakes = {
        weights: "count_parameters counted the weights only: add the bias elements (count every parameter)",
        2 * len(linears): "count_parameters counted parameter tensors, not their elements: add p.numel()",
        len(linears) * 2 - frozen: "count_parameters counted parameter tensors, not their elements: add p.numel()",
        linears[-1][1] * linears[-1][2] + linears[-1][2]:
            "count_parameters counted the last layer only: go through all of model.parameters()",
        linears[0][1] * linears[0][2] + linears[0][2]:
            "count_parameters counted the first layer only: go through all of model.parameters()",
    }
    return mistakes


def _expect_count(value, layers: list[tuple], expected: int, what: str, frozen: int = 0) -> None:
    number = as_float(value)
    if number is not None and number != expected and int(number) == number:
        hint = _count_mistakes(layers, frozen).get(int(number))
        if hint:
            fail(hint)
    expect_number(value, expected, what=what, atol=0)


@pytest.mark.grade(1, fn="count_parameters")
def test_count_parameters_book_examples(nb):
    """count_parameters gives 2213 for the book's (50, 3) network and 752 for (2, 2), call after call."""
    for sizes, expected in (((50, 3), 2213), ((2, 2), 752)):
        layers = mlp_layers(*sizes)
        model = nb.make_model(layers)
        value = _count(nb, model)
        if not _same_number(value, _count(nb, model)):
            fail("count_parameters gave two different answers for the same model: keep no state between "
                 "calls (add up into a local variable, not a module-level one)")
        _expect_count(value, layers, expected, f"count_parameters of the {sizes[0]}-30-20-{sizes[1]} network")


@pytest.mark.grade(1, fn="count_parameters")
def test_count_parameters_random_models(nb, rng):
    """count_parameters counts every weight and bias element of other models too."""
    for _ in range(2):
        widths = [_int(rng, 2, 12) for _ in range(_int(rng, 3, 4))]
        layers: list[tuple] = []
        for index in range(len(widths) - 1):
            layers.append(("linear", widths[index], widths[index + 1]))
            if index < len(widths) - 2:
                layers.append(("relu",))
        value = _count(nb, nb.make_model(layers))
        _expect_count(value, layers, parameter_count(layers), "count_parameters(model)")


@pytest.mark.grade(1, fn="count_parameters")
def test_count_parameters_skips_frozen(nb, rng):
    """Parameters with requires_grad=False are not trainable and are not counted."""
    num_inputs, num_outputs = _sizes(rng)
    layers = mlp_layers(num_inputs, num_outputs)
    model = nb.make_model(layers)
    model.get("0").method("requires_grad_", False)  # a trusted module: its own method
    expected = parameter_count(layers) - parameter_count(layers[:1])
    value = _count(nb, model)
    if as_float(value) == parameter_count(layers):
        fail("count_parameters also counted frozen parameters: count only those with p.requires_grad")
    _expect_count(value, layers, expected, "count_parameters of a partly frozen model", frozen=2)


@pytest.mark.grade(1, fn="count_parameters", returns=True)
def test_count_parameters_returns_int(nb, rng):
    """count_parameters returns a Python int (of the right count, or of a mistake the other checks name)."""
    layers = mlp_layers(*_sizes(rng))
    value = nb.call("count_parameters", nb.make_model(layers))
    if type(value) is not int:
        kind = "a tensor" if isinstance(value, torch.Tensor) else describe(value)
        fail(f"count_parameters returned {kind}; return a Python int (sum of p.numel() values)")
    if value != parameter_count(layers) and value not in _count_mistakes(layers):
        fail("count_parameters should return the number of trainable parameter elements")


# ====================================================================== ToyDataset


@pytest.mark.grade(1, fn="ToyDataset")
def test_ToyDataset_len(nb, rng):
    """len(ToyDataset(features, labels)) is the number of examples."""
    n = _int(rng, 3, 12)
    X, y = random_classification(rng, n, _int(rng, 2, 4), 3)
    if n == X.shape[1]:
        n += 1
        X, y = random_classification(rng, n, X.shape[1], 3)
    length = nb.call("ToyDataset", X, y).len()
    if length == X.shape[1]:
        fail("len(ToyDataset) returned the number of features; it should be the number of examples")
    expect_number(length, n, what="len(ToyDataset(features, labels))", atol=0)


@pytest.mark.grade(2, fn="ToyDataset")
def test_ToyDataset_getitem(nb, rng):
    """dataset[i] returns the pair (features[i], labels[i]), also once another dataset has been made."""
    n = _int(rng, 3, 12)
    X, y = random_classification(rng, n, _int(rng, 2, 4), 3)
    dataset = nb.call("ToyDataset", X, y)
    nb.call("ToyDataset", X.flip(0) + 1, (y + 1) % 3)  # a second dataset (kept in the notebook process)
    for index in (0, _int(rng, 1, n - 2), n - 1):
        item = dataset.method("__getitem__", index)
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            fail("dataset[i] should return a pair (features[i], labels[i])")
        first, second = item
        if isinstance(first, torch.Tensor) and first.dim() == 0 and isinstance(second, torch.Tensor) \
                and second.dim() == 1:
            fail("dataset[i] returned (label, features): return the features first, then the label")
        if same_tensor(first, X.flip(0)[index] + 1) and not same_tensor(first, X[index]):
            fail("a ToyDataset returned the examples of a ToyDataset made after it: keep features and labels "
                 "on the instance (self.features = features), not on the class")
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


@pytest.mark.grade(1, fn="make_loaders", returns=True)
def test_make_loaders_train_order(nb, rng):
    """The training loader shuffles with torch.Generator().manual_seed(seed)."""
    for batch_size in _batch_sizes(rng):
        _train_order(nb, rng, batch_size)


def _batch_sizes(rng: torch.Generator) -> tuple[int, int]:
    """A fixed size that differs from the default 2, and a random one."""
    return 3, _int(rng, 2, 5)


def _train_order(nb, rng, batch_size: int) -> None:
    seed = _int(rng, 0, 10_000)
    seed = 124 if seed == 123 else seed  # differs from the default, so an ignored seed shows
    X_train, y_train, X_test, y_test = _loader_data(rng, batch_size)
    train, _ = nb.call("make_loaders", X_train, y_train, X_test, y_test, batch_size=batch_size, seed=seed)
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
    for batch_size in _batch_sizes(rng):
        _drop_last(nb, rng, batch_size)


def _drop_last(nb, rng, batch_size: int) -> None:
    X_train, y_train, X_test, y_test = _loader_data(rng, batch_size)
    train, _ = nb.call("make_loaders", X_train, y_train, X_test, y_test, batch_size=batch_size, seed=_int(rng, 0, 999))
    found = _batches(train, "training loader")
    sizes = [len(batch[1]) for batch in found]
    if sizes and sizes[-1] < batch_size and all(size == batch_size for size in sizes[:-1]):
        fail("the training loader yields a smaller final batch: use drop_last=True")
    if any(size != batch_size for size in sizes) and len(set(sizes[:-1])) == 1:
        fail("the training batches do not have batch_size examples: pass batch_size to the DataLoader")
    if len(sizes) != len(y_train) // batch_size or any(size != batch_size for size in sizes):
        fail("the training loader should yield len(X_train) // batch_size batches of batch_size examples")


@pytest.mark.grade(2, fn="make_loaders")
def test_make_loaders_test_loader(nb, rng):
    """The test loader keeps the original order and every example (no shuffle, no drop_last)."""
    for batch_size in _batch_sizes(rng):
        _test_loader(nb, rng, batch_size)


def _test_loader(nb, rng, batch_size: int) -> None:
    X_train, y_train, X_test, y_test = _loader_data(rng, batch_size)
    _, test = nb.call("make_loaders", X_train, y_train, X_test, y_test, batch_size=batch_size, seed=_int(rng, 0, 999))
    found = _batches(test, "test loader")
    if found and any(len(batch[1]) != batch_size for batch in found[:-1]):
        fail("the test batches do not have batch_size examples: pass batch_size to the test DataLoader too")
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


def _other_seed(rng: torch.Generator, *taken: int) -> int:
    """A random seed other than the default 123 and the seeds ``taken``."""
    seed = _int(rng, 0, 10_000)
    while seed == 123 or seed in taken:
        seed += 1
    return seed


def _two_loaders(value) -> tuple[Ref, Ref]:
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(isinstance(part, Ref) for part in value):
        fail("make_loaders should return the pair (train_loader, test_loader)")
    return value[0], value[1]


def _loaders_batches(nb, data, **kwargs) -> tuple[list, list]:
    """The batches of both loaders of one make_loaders call, each loader iterated once, right away."""
    train, test = _two_loaders(nb.call("make_loaders", *data, **kwargs))
    return _batches(train, "training loader"), _batches(test, "test loader")


def _same_loaders(found: tuple[list, list], wanted: tuple[list, list]) -> bool:
    return all(len(f) == len(w) and _same_batches(f, w) for f, w in zip(found, wanted))


def _batch_sizes_of(batches: tuple[list, list]) -> list[list[int]]:
    return [[len(labels) for _, labels in loader] for loader in batches]


_LOADER_DEFAULTS = {"batch_size": 2, "seed": 123}


@pytest.mark.grade(1, fn="make_loaders")
def test_make_loaders_defaults(nb, rng):
    """Called without batch_size, without seed, or without both, make_loaders does what batch_size=2, seed=123 do."""
    data = _loader_data(rng, 2)
    given = {"batch_size": _int(rng, 3, 5), "seed": _other_seed(rng)}
    # A make_loaders whose order changes from call to call (the global RNG) cannot show its default seed
    # in the order: the state check owns that; the batch sizes still show the default batch_size.
    reference_call = _loaders_batches(nb, data, **_LOADER_DEFAULTS)
    if not reference_call[0] or not reference_call[1]:
        fail("make_loaders(X_train, y_train, X_test, y_test, batch_size=2, seed=123) should give loaders "
             "that yield the batches of the data")
    repeatable = _same_loaders(_loaders_batches(nb, data, **_LOADER_DEFAULTS), reference_call)
    for left_out in (("batch_size",), ("seed",), ("batch_size", "seed")):
        others = {name: value for name, value in given.items() if name not in left_out}
        explicit = {**others, **{name: _LOADER_DEFAULTS[name] for name in left_out}}
        wanted = reference_call if not others else _loaders_batches(nb, data, **explicit)
        found = _loaders_batches(nb, data, **others)
        stated = ", ".join(f"{name}={_LOADER_DEFAULTS[name]}" for name in left_out)
        if _batch_sizes_of(found) != _batch_sizes_of(wanted) or (repeatable and not _same_loaders(found, wanted)):
            fail(f"called without {' and '.join(left_out)}, make_loaders did not give the loaders it gives with "
                 f"{stated}: check the defaults in its signature ({stated})")


def _alternating(iterators: list[Ref], lengths: list[int]) -> list[list]:
    """next() on each iterator in turn, as long as each should still yield a batch."""
    taken: list[list] = [[] for _ in iterators]
    for step in range(max(lengths)):
        for index, iterator in enumerate(iterators):
            if step >= lengths[index]:
                continue
            try:
                batch = iterator.method("__next__")
            except StudentError:
                fail("a training loader iterated in turn with another one stopped early: give every call of "
                     "make_loaders its own torch.Generator().manual_seed(seed)")
            if not isinstance(batch, (list, tuple)) or len(batch) != 2 \
                    or not all(isinstance(part, torch.Tensor) for part in batch):
                fail("each batch of the training loader should be a pair (features, labels) of tensors")
            taken[index].append((batch[0], batch[1]))
    return taken


@pytest.mark.grade(1, fn="make_loaders")
def test_make_loaders_no_shared_state(nb, rng):
    """No state between calls: the same seed gives the same order again; two loaders taken in turn shuffle as alone."""
    data = _loader_data(rng, 2)
    seeds = [_other_seed(rng)]
    seeds.append(_other_seed(rng, seeds[0]))
    alone = [_loaders_batches(nb, data, batch_size=2, seed=seed)[0] for seed in seeds]
    if not alone[0]:
        fail("the training loader of make_loaders yielded no batch")
    if not _same_loaders((_loaders_batches(nb, data, batch_size=2, seed=seeds[0])[0],), (alone[0],)):
        fail("make_loaders gave another training order when called again with the same seed: give every call "
             "its own torch.Generator().manual_seed(seed) (a generator made once at module level, or the "
             "global RNG, carries state from one call to the next)")
    loaders = [_two_loaders(nb.call("make_loaders", *data, batch_size=2, seed=seed))[0] for seed in seeds]
    iterators = [loader.method("__iter__") for loader in loaders]
    if not all(isinstance(iterator, Ref) for iterator in iterators):
        fail("iter(train_loader) should give an iterator over the batches")
    taken = _alternating(iterators, [len(batches) for batches in alone])
    if not all(_same_loaders((found,), (wanted,)) for found, wanted in zip(taken, alone)):
        fail("two training loaders made by make_loaders with different seeds and iterated in turn did not each "
             "give the order they give alone: they share a random generator. Give every call its own "
             "torch.Generator().manual_seed(seed), made inside make_loaders")


# ====================================================================== train
#
# Each check owns one aspect of the loop, so one mistake costs one check:
#   weights        one batch, one epoch, a random lr: the weights after one SGD step per loss
#                  recorded (the loss, backward, step and lr; zero_grad and epochs cannot show);
#   losses         several batches and epochs, lr 0.5: every recorded loss (zero_grad, epochs);
#   float losses   a list of Python floats, the first of them right;
#   defaults       leaving out epochs, lr or both does what giving epochs=3, lr=0.5 does;
#   train mode     a model handed over in evaluation mode is trained in training mode.


def _training_case(nb, rng, *, n_batches: int | None = None, epochs=None, lr=None, extra_layers=()):
    """A trusted model and loader in the notebook, and the same in this process."""
    num_features, num_classes = _int(rng, 2, 4), _int(rng, 2, 3)
    batch_size = _int(rng, 2, 4)
    if n_batches is None:
        n = batch_size * _int(rng, 2, 3) + _int(rng, 0, batch_size - 1)
    else:
        n = batch_size * n_batches
    X, y = random_classification(rng, n, num_features, num_classes)
    layers = _small_net(rng, num_features, num_classes)
    state = random_state_dict(layers, rng)
    loader_ref = nb.make_loader(X, y, batch_size=batch_size, shuffle=False)
    return {
        "layers": layers, "state": state, "loader": loader_ref,
        "model": nb.make_model(layers + list(extra_layers), state_dict=state),
        "reference": model_from_state(layers, state),
        "initial": {key: value.clone() for key, value in state.items()},
        "batches": sequential_batches(X, y, batch_size),
        # never the defaults (3 epochs, lr 0.5), so ignoring an argument always shows
        "epochs": epochs if epochs is not None else (2, 4)[_int(rng, 0, 1)],
        "lr": lr if lr is not None else _random_lr(rng),
    }


def _random_lr(rng: torch.Generator) -> float:
    lr = round(_float(rng, 0.05, 0.9), 3)
    return 0.45 if lr == 0.5 else lr


def _train(nb, case, *, model=None):
    return nb.call("train", model if model is not None else case["model"], case["loader"], epochs=case["epochs"],
                   lr=case["lr"])


def _expected_losses(case) -> list[float]:
    reference = model_from_state(case["layers"], case["state"])
    return reference_train(reference, case["batches"], case["epochs"], case["lr"])


def _loss_values(losses, what: str) -> list[float]:
    if not isinstance(losses, (list, tuple)):
        fail(f"{what} should return a list of losses, one per batch, but returned {describe(losses)}")
    values = [as_float(loss) for loss in losses]
    if any(value is None for value in values):
        fail(f"the losses returned by {what} should be numbers (loss.item())")
    return values


def _check_losses(losses, expected: list[float], what: str) -> None:
    values = _loss_values(losses, what)
    if len(values) != len(expected):
        fail(f"{what} returned the wrong number of losses: record one loss per batch, "
             "for every batch of every epoch (epochs * len(loader) in all)")
    for index, (value, wanted) in enumerate(zip(values, expected)):
        if not math.isclose(value, wanted, abs_tol=LOSS_ATOL, rel_tol=LOSS_ATOL):
            if index == 0:
                fail(f"the first loss of {what} is wrong: compute F.cross_entropy(model(features), labels) "
                     "and record it before changing the weights")
            fail(f"the losses of {what} drift away from plain SGD after the first batches: call "
                 "optimizer.zero_grad() before loss.backward() in every batch (PyTorch adds up "
                 "gradients otherwise), and take one optimizer.step() per batch")


def _some_losses(losses, what: str) -> list[float]:
    """The losses as floats; fails unless they look like a training run's losses.

    Checks that compare two runs of the student's loop (defaults, training mode) judge
    the loop against itself; this gate keeps a placeholder's constant list from passing.
    """
    values = _loss_values(losses, what)
    # A loop with another defect may diverge (inf, nan): still a training run, judged by its own check.
    if len(values) < 2 or len({"nan" if math.isnan(value) else value for value in values}) == 1:
        fail(f"{what} should return the loss of every batch, as training changes it")
    return values


def _same_losses(first: list[float], second: list[float]) -> bool:
    """Whether two runs of the same loop on the same model gave the same losses (nan equal to nan)."""
    return len(first) == len(second) and all(
        (math.isnan(a) and math.isnan(b)) or a == b or math.isclose(a, b, abs_tol=LOSS_ATOL, rel_tol=LOSS_ATOL)
        for a, b in zip(first, second))


def _first_loss_right(losses, case, what: str) -> list[float]:
    """The losses as floats; fails unless there are some and the first one is right."""
    values = _loss_values(losses, what)
    first = reference_train(model_from_state(case["layers"], case["state"]), case["batches"][:1], 1, case["lr"])
    if not values or not math.isclose(values[0], first[0], abs_tol=LOSS_ATOL, rel_tol=LOSS_ATOL):
        fail(f"the first loss of {what} is wrong: compute F.cross_entropy(model(features), labels) "
             "and record it before changing the weights")
    return values


@pytest.mark.grade(1, fn="train", returns=True)
def test_train_returns_float_losses(nb, rng):
    """train returns a list of Python floats (loss.item()), the first of them the first batch's loss."""
    case = _training_case(nb, rng)
    losses = _train(nb, case)
    if not isinstance(losses, list):
        fail(f"train should return a list, not {describe(losses)}")
    for loss in losses:
        if type(loss) is not float:
            kind = "tensors" if isinstance(loss, torch.Tensor) else type(loss).__name__
            fail(f"train returned {kind} in its list; append loss.item() so the losses are Python floats")
    _first_loss_right(losses, case, "train")


@pytest.mark.grade(2, fn="train")
def test_train_losses_match_reference(nb, rng):
    """The per-batch losses over several batches and epochs match SGD with F.cross_entropy, call after call."""
    case = _training_case(nb, rng, lr=0.5)
    losses = _train(nb, case)
    again = _train(nb, case, model=nb.make_model(case["layers"], state_dict=case["state"]))
    if not _same_losses(_loss_values(losses, "train"), _loss_values(again, "train")):
        fail("train returned other losses when called again on the same weights and data: keep no state "
             "between calls (a list or an optimizer at module level, or a default argument such as "
             "losses=[], is shared by every call)")
    _check_losses(losses, _expected_losses(case), "train")


@pytest.mark.grade(2, fn="train")
def test_train_updates_weights(nb, rng):
    """One batch, one epoch, a random lr: the weights afterwards are those of one SGD step."""
    case = _training_case(nb, rng, n_batches=1, epochs=1)
    losses = _train(nb, case)
    # as many steps as the loop says it took: how many epochs it runs is the losses check's business
    steps = len(losses) if isinstance(losses, (list, tuple)) and 0 < len(losses) <= 10 else 1
    reference_train(case["reference"], case["batches"], steps, case["lr"])
    found = nb.state_dict(case["model"])
    for key, wanted in case["reference"].state_dict().items():
        got = found[key]
        if got.shape == wanted.shape and torch.allclose(got, wanted, atol=WEIGHT_ATOL, rtol=WEIGHT_ATOL):
            continue
        if torch.equal(got, case["initial"][key]):
            fail("train did not change the model's weights: create torch.optim.SGD over "
                 "model.parameters() and call optimizer.step() after loss.backward()")
        fail("after one batch the weights differ from one SGD step with the given lr: use "
             "torch.optim.SGD(model.parameters(), lr=lr) and F.cross_entropy")


_TRAIN_DEFAULTS = {"epochs": 3, "lr": 0.5}


@pytest.mark.grade(1, fn="train")
def test_train_defaults(nb, rng):
    """Called without epochs, without lr, or without both, train does what epochs=3, lr=0.5 do."""
    case = _training_case(nb, rng)  # its epochs (2 or 4) and lr are never the defaults
    given = {"epochs": case["epochs"], "lr": case["lr"]}
    for left_out in (("epochs",), ("lr",), ("epochs", "lr")):
        others = {name: value for name, value in given.items() if name not in left_out}
        explicit = {**others, **{name: _TRAIN_DEFAULTS[name] for name in left_out}}
        fresh = [nb.make_model(case["layers"], state_dict=case["state"]) for _ in range(2)]
        wanted = _some_losses(nb.call("train", fresh[0], case["loader"], **explicit), "train")
        found = _loss_values(nb.call("train", fresh[1], case["loader"], **others), "train")
        if _same_losses(found, wanted):
            continue
        stated = ", ".join(f"{name}={_TRAIN_DEFAULTS[name]}" for name in left_out)
        if "epochs" in left_out and len(found) != len(wanted):
            fail(f"called without epochs, train should run 3 epochs (one loss per batch and epoch): check the "
                 f"defaults in its signature ({stated})")
        fail(f"called without {' and '.join(left_out)}, train did not do what it does with {stated} given: "
             f"check the defaults in its signature ({stated})")


@pytest.mark.grade(1, fn="train")
def test_train_sets_training_mode(nb, rng):
    """train calls model.train(): a model handed over in evaluation mode is trained in training mode."""
    case = _training_case(nb, rng)
    values = _some_losses(_train(nb, case), "train")
    # the same model with a probe that reverses the logits while the model is in evaluation mode
    probe = nb.make_model(case["layers"] + [("flip_when", "evaluation")], state_dict=case["state"])
    probe.method("eval")
    probed = _loss_values(_train(nb, case, model=probe), "train")
    if not _same_losses(values, probed):
        fail("train did not put the model in training mode: call model.train() before the loop "
             "(a model may arrive in evaluation mode, and layers such as dropout behave differently)")


# ====================================================================== compute_accuracy
#
# compute_accuracy runs trusted models on trusted loaders.  Whether it switched to
# evaluation mode and turned gradients off is judged from what it returns: a probe
# layer reverses the logits while the model is in training mode (or while gradients are
# recorded), which changes the accuracy of every batch.


def _accuracy_case(nb, rng, *, batch_size: int, n: int, drop_last: bool = False):
    """A trusted model (an even number of classes) and loader; every batch has right and wrong labels."""
    num_features, num_classes = _int(rng, 2, 4), (2, 4)[_int(rng, 0, 1)]
    layers = _small_net(rng, num_features, num_classes)
    state = random_state_dict(layers, rng, scale=1.5)
    reference = model_from_state(layers, state)
    for _ in range(500):
        X = torch.randn(n, num_features, generator=rng)
        with torch.no_grad():
            predicted = reference(X).argmax(dim=1)
        wrong = torch.rand(n, generator=rng) < 0.25
        y = torch.where(wrong, (predicted + 1) % num_classes, predicted)
        batches = sequential_batches(X, y, batch_size)
        if drop_last and len(y) % batch_size:
            batches = batches[:-1]
        if all(_discriminating(reference, features, labels) for features, labels in batches) \
                and _mistakes_differ({"reference": reference, "batches": batches, "dataset_size": n}):
            break
    else:  # pragma: no cover - 500 draws never all fail
        raise RuntimeError("could not draw labels for the accuracy checks")
    return {"layers": layers, "state": state, "reference": reference, "batches": batches,
            "loader": nb.make_loader(X, y, batch_size=batch_size, shuffle=False, drop_last=drop_last),
            "model": nb.make_model(layers, state_dict=state), "dataset_size": n}


def _discriminating(reference, features: torch.Tensor, labels: torch.Tensor) -> bool:
    """Reversing the logits makes fewer predictions of the batch right (so every way of averaging drops)."""
    with torch.no_grad():
        logits = reference(features)
    right = int((logits.argmax(dim=1) == labels).sum())
    reversed_right = int((logits.flip(-1).argmax(dim=1) == labels).sum())
    return reversed_right < right


def _mistakes_differ(case) -> bool:
    """Every usual mistake gives another value than the right one (a batch average may tie on even batches)."""
    right = reference_accuracy(case["reference"], case["batches"])
    return all(abs(value - right) > 1e-3 for message, value in _accuracy_mistakes(case).items()
               if not message.startswith("compute_accuracy averages"))


def _accuracy_mistakes(case) -> dict[str, float]:
    """The values of the usual mistakes -> the message naming each."""
    reference, batches = case["reference"], case["batches"]
    with torch.no_grad():
        correct = [int((reference(X).argmax(dim=1) == y).sum()) for X, y in batches]
    seen = sum(len(y) for _, y in batches)
    mistakes = {
        "compute_accuracy returned the number of correct predictions: divide by the number of examples":
            float(sum(correct)),
        "compute_accuracy averages the accuracies of the batches, which weighs a smaller last batch too "
        "much: count correct predictions and examples over the whole loader, then divide":
            mean_batch_accuracy(reference, batches),
        "compute_accuracy returned the accuracy of the last batch only: add up the correct predictions "
        "and the examples of every batch before dividing": correct[-1] / len(batches[-1][1]),
        "compute_accuracy returned the accuracy of the first batch only: go through every batch":
            correct[0] / len(batches[0][1]),
    }
    if case["dataset_size"] != seen:
        mistakes["compute_accuracy divided by len(loader.dataset), but this loader drops its last "
                 "incomplete batch: divide by the number of examples the loader actually yields"] = \
            sum(correct) / case["dataset_size"]
    return mistakes


def _accuracy_number(value) -> float:
    number = as_float(value)
    if number is None:
        fail(f"compute_accuracy should return a number, not {describe(value)}")
    return number


def _expect_accuracy(value, case, what: str) -> None:
    number = _accuracy_number(value)
    expected = reference_accuracy(case["reference"], case["batches"])
    if math.isclose(number, expected, abs_tol=1e-6):
        return
    for message, wrong in _accuracy_mistakes(case).items():
        if math.isclose(number, wrong, abs_tol=1e-6):
            fail(message)
    expect_number(number, expected, what=what, atol=1e-6)


def _plausible_accuracy(value, case) -> float:
    """The returned accuracy, if it is the right one or one of the usual mistakes (else the check fails)."""
    number = _accuracy_number(value)
    candidates = [reference_accuracy(case["reference"], case["batches"]), *_accuracy_mistakes(case).values()]
    if not any(math.isclose(number, wanted, abs_tol=1e-6) for wanted in candidates):
        fail("compute_accuracy should return the fraction of correct arg-max predictions (see the other checks)")
    return number


@pytest.mark.grade(1, fn="compute_accuracy", returns=True)
def test_compute_accuracy_matches_reference(nb, rng):
    """compute_accuracy returns, as a Python float, the fraction of correct arg-max predictions, call after call."""
    batch_size = _int(rng, 3, 5)
    case = _accuracy_case(nb, rng, batch_size=batch_size, n=batch_size * _int(rng, 3, 4))
    value = nb.call("compute_accuracy", case["model"], case["loader"])
    if not _same_number(value, nb.call("compute_accuracy", case["model"], case["loader"])):
        fail("compute_accuracy gave two different answers for the same model and loader: keep no state "
             "between calls (count into local variables, set to 0 at the start of every call)")
    _expect_accuracy(value, case, "compute_accuracy(model, loader)")
    if type(value) is not float:
        kind = "a tensor" if isinstance(value, torch.Tensor) else describe(value)
        fail(f"compute_accuracy returned {kind}; return a Python float (for example with .item() "
             "on the tensor ratio, or float(...))")


@pytest.mark.grade(1, fn="compute_accuracy")
def test_compute_accuracy_uneven_batches(nb, rng):
    """With a smaller last batch, and with a loader that drops it, every example seen counts once."""
    batch_size = _int(rng, 3, 5)
    n = batch_size * _int(rng, 3, 4) + _int(rng, 1, batch_size - 1)
    for drop_last in (False, True):
        case = _accuracy_case(nb, rng, batch_size=batch_size, n=n, drop_last=drop_last)
        value = nb.call("compute_accuracy", case["model"], case["loader"])
        label = "that drops its last batch" if drop_last else "with a smaller last batch"
        _expect_accuracy(value, case, f"compute_accuracy(model, loader) for a loader {label}")


def _mode_check(nb, rng, mode: str, message: str) -> None:
    batch_size = _int(rng, 3, 5)
    case = _accuracy_case(nb, rng, batch_size=batch_size, n=batch_size * _int(rng, 3, 4))
    plain = _plausible_accuracy(nb.call("compute_accuracy", case["model"], case["loader"]), case)
    probe = nb.make_model(case["layers"] + [("flip_when", mode)], state_dict=case["state"])
    probe.method("train")  # as a model comes out of training
    probed = _accuracy_number(nb.call("compute_accuracy", probe, case["loader"]))
    if not math.isclose(plain, probed, abs_tol=1e-6):
        fail(message)


@pytest.mark.grade(1, fn="compute_accuracy")
def test_compute_accuracy_evaluation_mode(nb, rng):
    """compute_accuracy calls model.eval(): a model left in training mode is evaluated in evaluation mode."""
    _mode_check(nb, rng, "training", "compute_accuracy ran the model in training mode: call model.eval() "
                                     "first (layers such as dropout behave differently while training)")


@pytest.mark.grade(1, fn="compute_accuracy")
def test_compute_accuracy_no_grad(nb, rng):
    """compute_accuracy runs the model under torch.no_grad()."""
    _mode_check(nb, rng, "grad", "compute_accuracy ran the model with gradients recorded: wrap the "
                                 "evaluation in `with torch.no_grad():`")


# ====================================================================== save_model / load_model


def _weights_path(rng: torch.Generator, stem: str) -> str:
    return f"{stem}_{_int(rng, 0, 99_999)}.pth"


def _read_saved(nb, path: str, what: str) -> dict:
    try:
        data = nb.read_weights(path)
    except StudentError as error:
        if error.exc_type in ("FileNotFoundError", "IsADirectoryError"):
            fail(f"{what} did not write a file at the path it was given: pass path to torch.save "
                 "(not a fixed file name)")
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
    nb.call("save_model", model, path)
    saved = _read_saved(nb, path, "save_model")
    if set(saved) != set(state):
        fail("the saved dictionary does not have the keys of model.state_dict(): save exactly model.state_dict()")
    for key, wanted in state.items():
        expect_tensor(saved[key], wanted, what=f"saved[{key!r}]")


@pytest.mark.grade(2, fn="load_model")
def test_load_model_restores_weights(nb, rng):
    """load_model returns a NeuralNetwork holding exactly the weights saved at the path, also after a later call."""
    num_inputs, num_outputs = _sizes(rng)
    original = nb.call("NeuralNetwork", num_inputs, num_outputs)
    # random weights with the layout of the notebook's own NeuralNetwork
    state = {key: torch.randn(value.shape, generator=rng) for key, value in nb.state_dict(original).items()}
    nb.load_state_dict(original, state)
    path = _weights_path(rng, "weights")
    nb.write_weights(path, state)  # written by the grader, so a broken save_model costs only its own check
    loaded = nb.call("load_model", path, num_inputs, num_outputs)
    if not isinstance(loaded, Ref) or not loaded.type_name.endswith("NeuralNetwork"):
        fail("load_model should return a NeuralNetwork instance with the loaded weights")
    # a later call loads other weights, which must not reach the model the first call returned
    other_state = {key: value + 1 for key, value in state.items()}
    other_path = _weights_path(rng, "other")
    nb.write_weights(other_path, other_state)
    nb.call("load_model", other_path, num_inputs, num_outputs)
    restored = nb.state_dict(loaded)
    if set(restored) != set(state):
        fail("the model returned by load_model does not have NeuralNetwork's parameters")
    if all(torch.equal(restored[key], other_state[key]) for key in state):
        fail("the model returned by load_model changed when load_model was called again for another file: "
             "build a new NeuralNetwork in every call")
    for key, wanted in state.items():
        if not torch.equal(restored[key], wanted):
            fail("the model returned by load_model does not hold the saved weights: "
                 "call model.load_state_dict(torch.load(path, weights_only=True)) on a new NeuralNetwork")
