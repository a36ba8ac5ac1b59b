"""Mutants of 04_mlp.ipynb: one typical mistake per variant."""

from tests.mutants import Mutant

NOTEBOOK = "04_mlp"

_NETWORK = '''
class NeuralNetwork(nn.Module):
    def __init__(self, num_inputs, num_outputs):
        super().__init__()
        self.layers = nn.Sequential(
            {layers}
        )

    def forward(self, x):
        {forward}
'''


def _network(layers: str, forward: str = "return self.layers(x)") -> str:
    return _NETWORK.format(layers=layers, forward=forward)


_BOOK_LAYERS = ("nn.Linear(num_inputs, 30), nn.ReLU(), nn.Linear(30, 20), nn.ReLU(), "
                "nn.Linear(20, num_outputs),")

_TRAIN = '''
def train(model, loader, epochs={default_epochs}, lr={default_lr}):
    optimizer = torch.optim.SGD(model.parameters(), lr={lr})
    losses = []
    for epoch in range({epochs}):
        model.train()
        for features, labels in loader:
            logits = model(features)
            loss = {loss}
            {zero_grad}
            loss.backward()
            optimizer.step()
            losses.append({record})
    return losses
'''


def _train(*, lr="lr", epochs="epochs", loss="F.cross_entropy(logits, labels)",
           zero_grad="optimizer.zero_grad()", record="loss.item()", default_epochs="3", default_lr="0.5") -> str:
    return _TRAIN.format(lr=lr, epochs=epochs, loss=loss, zero_grad=zero_grad, record=record,
                         default_epochs=default_epochs, default_lr=default_lr)


_LOADERS = '''{before}
def make_loaders(X_train, y_train, X_test, y_test, batch_size={default_batch_size}, seed={default_seed}):
    {setup}
    train_loader = DataLoader(ToyDataset(X_train, y_train), batch_size=batch_size, shuffle={train_shuffle},
                              {generator}drop_last={drop_last})
    test_loader = DataLoader(ToyDataset(X_test, y_test), batch_size=batch_size, shuffle={test_shuffle}{test_extra})
    return train_loader, test_loader
'''


def _loaders(*, setup="pass", train_shuffle="True",
             generator="generator=torch.Generator().manual_seed(seed), ",
             drop_last="True", test_shuffle="False", test_extra="", before="", default_batch_size="2",
             default_seed="123") -> str:
    return _LOADERS.format(setup=setup, train_shuffle=train_shuffle, generator=generator,
                           drop_last=drop_last, test_shuffle=test_shuffle, test_extra=test_extra, before=before,
                           default_batch_size=default_batch_size, default_seed=default_seed)


MUTANTS = [
    Mutant(
        name="network_missing_relu",
        defect="The second hidden layer has no ReLU after it.",
        cells={"NeuralNetwork": _network(
            "nn.Linear(num_inputs, 30), nn.ReLU(), nn.Linear(30, 20), nn.Linear(20, num_outputs),")},
        loses=frozenset({"test_NeuralNetwork_layer_types"}),
        message_contains="the second hidden layer is not followed by a ReLU",
    ),
    Mutant(
        name="network_hidden_sizes_swapped",
        defect="The hidden layers have 20 then 30 units instead of 30 then 20.",
        cells={"NeuralNetwork": _network(
            "nn.Linear(num_inputs, 20), nn.ReLU(), nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, num_outputs),")},
        loses=frozenset({"test_NeuralNetwork_layer_sizes"}),
        message_contains="swapped",
    ),
    Mutant(
        name="network_softmax_in_forward",
        defect="forward returns softmax probabilities instead of logits.",
        cells={"NeuralNetwork": _network(_BOOK_LAYERS, "return torch.softmax(self.layers(x), dim=1)")},
        loses=frozenset({"test_NeuralNetwork_forward_matches_reference"}),
        message_contains="softmax",
    ),
    Mutant(
        name="network_layers_not_sequential",
        defect="The layers are separate attributes and forward chains them by hand; there is no self.layers.",
        cells={"NeuralNetwork": '''
class NeuralNetwork(nn.Module):
    def __init__(self, num_inputs, num_outputs):
        super().__init__()
        self.hidden1 = nn.Linear(num_inputs, 30)
        self.hidden2 = nn.Linear(30, 20)
        self.out = nn.Linear(20, num_outputs)

    def forward(self, x):
        return self.out(torch.relu(self.hidden2(torch.relu(self.hidden1(x)))))
'''},
        loses=frozenset({"test_NeuralNetwork_layer_types"}),
        message_contains="self.layers",
    ),
    Mutant(
        name="count_parameters_counts_frozen",
        defect="count_parameters also counts parameters with requires_grad=False.",
        cells={"count_parameters": '''
def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
'''},
        loses=frozenset({"test_count_parameters_skips_frozen"}),
        message_contains="frozen",
    ),
    Mutant(
        name="count_parameters_counts_tensors",
        defect="count_parameters counts parameter tensors instead of their elements.",
        cells={"count_parameters": '''
def count_parameters(model):
    return len([p for p in model.parameters() if p.requires_grad])
'''},
        loses=frozenset({"test_count_parameters_book_examples", "test_count_parameters_random_models",
                         "test_count_parameters_skips_frozen"}),
    ),
    Mutant(
        name="count_parameters_returns_tensor",
        defect="count_parameters returns a 0-d tensor instead of a Python int.",
        cells={"count_parameters": '''
def count_parameters(model):
    return torch.tensor([p.numel() for p in model.parameters() if p.requires_grad]).sum()
'''},
        loses=frozenset({"test_count_parameters_returns_int"}),
        message_contains="Python int",
    ),
    Mutant(
        name="dataset_len_counts_features",
        defect="ToyDataset.__len__ returns the number of features instead of the number of examples.",
        cells={"ToyDataset": '''
class ToyDataset(Dataset):
    def __init__(self, features, labels):
        self.features = features
        self.labels = labels

    def __getitem__(self, index):
        return self.features[index], self.labels[index]

    def __len__(self):
        return self.features.shape[1]
'''},
        # make_loaders builds on ToyDataset, so its loaders see too few examples as well
        loses=frozenset({"test_ToyDataset_len", "test_make_loaders_train_order", "test_make_loaders_drop_last",
                         "test_make_loaders_test_loader"}),
        message_contains="number of features",
    ),
    Mutant(
        name="dataset_pair_swapped",
        defect="ToyDataset.__getitem__ returns (label, features).",
        cells={"ToyDataset": '''
class ToyDataset(Dataset):
    def __init__(self, features, labels):
        self.features = features
        self.labels = labels

    def __getitem__(self, index):
        return self.labels[index], self.features[index]

    def __len__(self):
        return len(self.labels)
'''},
        loses=frozenset({"test_ToyDataset_getitem", "test_make_loaders_train_order",
                         "test_make_loaders_test_loader"}),
        message_contains="(label, features)",
    ),
    Mutant(
        name="loaders_global_seed",
        defect="The training loader is shuffled with a global torch.manual_seed instead of a seeded generator.",
        cells={"make_loaders": _loaders(setup="torch.manual_seed(seed)", generator="")},
        # the global RNG is shared: a second loader made before the first is iterated changes its order
        loses=frozenset({"test_make_loaders_train_order", "test_make_loaders_no_shared_state"}),
        message_contains="torch.Generator().manual_seed(seed)",
    ),
    Mutant(
        name="loaders_seed_ignored",
        defect="The generator is always seeded with 123, whatever seed is passed.",
        cells={"make_loaders": _loaders(generator="generator=torch.Generator().manual_seed(123), ")},
        loses=frozenset({"test_make_loaders_train_order"}),
    ),
    Mutant(
        name="loaders_train_not_shuffled",
        defect="The training loader does not shuffle.",
        cells={"make_loaders": _loaders(train_shuffle="False", generator="")},
        loses=frozenset({"test_make_loaders_train_order"}),
        message_contains="shuffle=True",
    ),
    Mutant(
        name="loaders_test_shuffled",
        defect="The test loader is shuffled too.",
        cells={"make_loaders": _loaders(test_shuffle="True",
                                        test_extra=", generator=torch.Generator().manual_seed(seed)")},
        loses=frozenset({"test_make_loaders_test_loader"}),
        message_contains="do not shuffle the test set",
    ),
    Mutant(
        name="loaders_no_drop_last",
        defect="The training loader keeps the last, incomplete batch.",
        cells={"make_loaders": _loaders(drop_last="False")},
        loses=frozenset({"test_make_loaders_drop_last"}),
        message_contains="drop_last=True",
    ),
    Mutant(
        name="loaders_test_drop_last",
        defect="The test loader drops its last, incomplete batch too.",
        cells={"make_loaders": _loaders(test_extra=", drop_last=True")},
        loses=frozenset({"test_make_loaders_test_loader"}),
        message_contains="drops the last",
    ),
    Mutant(
        name="train_no_zero_grad",
        defect="The training loop never resets the gradients, so they accumulate across batches.",
        cells={"train": _train(zero_grad="pass")},
        loses=frozenset({"test_train_losses_match_reference"}),
        message_contains="zero_grad",
    ),
    Mutant(
        name="train_losses_as_tensors",
        defect="The loop appends the loss tensors instead of loss.item().",
        cells={"train": _train(record="loss")},
        loses=frozenset({"test_train_returns_float_losses"}),
        message_contains="loss.item()",
    ),
    Mutant(
        name="train_fixed_lr",
        defect="The learning rate is hard-coded to 0.5 instead of using lr.",
        cells={"train": _train(lr="0.5")},
        loses=frozenset({"test_train_updates_weights"}),
    ),
    Mutant(
        name="train_fixed_epochs",
        defect="The number of epochs is hard-coded to 3 instead of using epochs.",
        cells={"train": _train(epochs="3")},
        loses=frozenset({"test_train_losses_match_reference"}),
        message_contains="wrong number of losses",
    ),
    Mutant(
        name="train_mse_loss",
        defect="The loss is the mean squared error on the arg-max instead of cross-entropy.",
        cells={"train": _train(loss="F.mse_loss(logits, F.one_hot(labels, logits.shape[1]).float())")},
        loses=frozenset({"test_train_losses_match_reference", "test_train_updates_weights",
                         "test_train_returns_float_losses"}),
        message_contains="first loss",
    ),
    Mutant(
        name="train_step_before_backward",
        defect="optimizer.step() is called between the forward pass and loss.backward(); autograd then "
               "refuses to backpropagate through the changed weights.",
        cells={"train": '''
def train(model, loader, epochs=3, lr=0.5):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        for features, labels in loader:
            loss = F.cross_entropy(model(features), labels)
            optimizer.step()
            optimizer.zero_grad()
            loss.backward()
            losses.append(loss.item())
    return losses
'''},
        # the loop raises on every call, so every check that calls it fails
        loses=frozenset({"test_train_returns_float_losses", "test_train_losses_match_reference",
                         "test_train_updates_weights", "test_train_defaults", "test_train_sets_training_mode"}),
        message_contains="inplace operation",
    ),
    Mutant(
        name="accuracy_mean_of_batches",
        defect="compute_accuracy averages the per-batch accuracies.",
        cells={"compute_accuracy": '''
def compute_accuracy(model, loader):
    model.eval()
    accuracies = []
    with torch.no_grad():
        for features, labels in loader:
            predictions = model(features).argmax(dim=1)
            accuracies.append((predictions == labels).float().mean().item())
    return sum(accuracies) / len(accuracies)
'''},
        loses=frozenset({"test_compute_accuracy_uneven_batches"}),
        message_contains="averages the accuracies",
    ),
    Mutant(
        name="accuracy_returns_count",
        defect="compute_accuracy returns the number of correct predictions.",
        cells={"compute_accuracy": '''
def compute_accuracy(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for features, labels in loader:
            correct += int((model(features).argmax(dim=1) == labels).sum())
    return correct
'''},
        loses=frozenset({"test_compute_accuracy_matches_reference", "test_compute_accuracy_uneven_batches"}),
        message_contains="number of correct predictions",
    ),
    Mutant(
        name="accuracy_returns_tensor",
        defect="compute_accuracy returns a 0-d tensor instead of a float.",
        cells={"compute_accuracy": '''
def compute_accuracy(model, loader):
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for features, labels in loader:
            correct += (model(features).argmax(dim=1) == labels).sum()
            total += len(labels)
    return correct / total
'''},
        loses=frozenset({"test_compute_accuracy_matches_reference"}),
        message_contains="Python float",
    ),
    Mutant(
        name="save_whole_model",
        defect="save_model pickles the whole model object instead of its state_dict.",
        cells={"save_model": '''
def save_model(model, path):
    torch.save(model, path)
'''},
        loses=frozenset({"test_save_model_writes_state_dict"}),
        message_contains="weights_only=True",
    ),
    Mutant(
        name="load_model_fresh_weights",
        defect="load_model builds a new NeuralNetwork but never loads the saved weights into it.",
        cells={"load_model": '''
def load_model(path, num_inputs, num_outputs):
    model = NeuralNetwork(num_inputs, num_outputs)
    torch.load(path, weights_only=True)
    return model
'''},
        loses=frozenset({"test_load_model_restores_weights"}),
        message_contains="does not hold the saved weights",
    ),
    Mutant(
        name="network_squeezes_output",
        defect="forward squeezes the logits, so a batch of one example loses its batch dimension.",
        cells={"NeuralNetwork": _network(_BOOK_LAYERS, "return self.layers(x).squeeze()")},
        loses=frozenset({"test_NeuralNetwork_forward_matches_reference"}),
        message_contains="batch of one",
    ),
    Mutant(
        name="network_relu_after_output",
        defect="A ReLU follows the output layer too, so no logit can be negative.",
        cells={"NeuralNetwork": _network(_BOOK_LAYERS + " nn.ReLU(),")},
        loses=frozenset({"test_NeuralNetwork_layer_types"}),
        message_contains="output layer is followed by a ReLU",
    ),
    Mutant(
        name="count_parameters_weights_only",
        defect="count_parameters counts the weight matrices and forgets the biases.",
        cells={"count_parameters": '''
def count_parameters(model):
    return sum(p.numel() for name, p in model.named_parameters() if p.requires_grad and name.endswith("weight"))
'''},
        loses=frozenset({"test_count_parameters_book_examples", "test_count_parameters_random_models",
                         "test_count_parameters_skips_frozen"}),
        message_contains="bias",
    ),
    Mutant(
        name="loaders_fixed_batch_size",
        defect="make_loaders always uses batches of 2, whatever batch_size is passed.",
        cells={"make_loaders": _loaders().replace("batch_size=batch_size", "batch_size=2")},
        loses=frozenset({"test_make_loaders_train_order", "test_make_loaders_drop_last",
                         "test_make_loaders_test_loader"}),
        message_contains="batch_size",
    ),
    Mutant(
        name="train_never_sets_training_mode",
        defect="train never calls model.train(), so a model in evaluation mode is trained in evaluation mode.",
        cells={"train": _train().replace("        model.train()\n", "")},
        loses=frozenset({"test_train_sets_training_mode"}),
        message_contains="model.train()",
    ),
    Mutant(
        name="accuracy_without_eval",
        defect="compute_accuracy never calls model.eval().",
        cells={"compute_accuracy": '''
def compute_accuracy(model, loader):
    correct, total = 0, 0
    with torch.no_grad():
        for features, labels in loader:
            correct += int((model(features).argmax(dim=1) == labels).sum())
            total += len(labels)
    return correct / total
'''},
        loses=frozenset({"test_compute_accuracy_evaluation_mode"}),
        message_contains="model.eval()",
    ),
    Mutant(
        name="accuracy_without_no_grad",
        defect="compute_accuracy runs the model with gradients recorded (no torch.no_grad()).",
        cells={"compute_accuracy": '''
def compute_accuracy(model, loader):
    model.eval()
    correct, total = 0, 0
    for features, labels in loader:
        correct += int((model(features).argmax(dim=1) == labels).sum())
        total += len(labels)
    return correct / total
'''},
        loses=frozenset({"test_compute_accuracy_no_grad"}),
        message_contains="torch.no_grad()",
    ),
    Mutant(
        name="accuracy_without_eval_or_no_grad",
        defect="compute_accuracy neither switches to evaluation mode nor turns gradients off.",
        cells={"compute_accuracy": '''
def compute_accuracy(model, loader):
    correct, total = 0, 0
    for features, labels in loader:
        correct += int((model(features).argmax(dim=1) == labels).sum())
        total += len(labels)
    return correct / total
'''},
        loses=frozenset({"test_compute_accuracy_evaluation_mode", "test_compute_accuracy_no_grad"}),
    ),
    Mutant(
        name="accuracy_last_batch_only",
        defect="compute_accuracy resets its counts in every batch and returns the last batch's accuracy.",
        cells={"compute_accuracy": '''
def compute_accuracy(model, loader):
    model.eval()
    with torch.no_grad():
        for features, labels in loader:
            correct = int((model(features).argmax(dim=1) == labels).sum())
            total = len(labels)
    return correct / total
'''},
        loses=frozenset({"test_compute_accuracy_matches_reference", "test_compute_accuracy_uneven_batches"}),
        message_contains="last batch only",
    ),
    Mutant(
        name="accuracy_divides_by_dataset",
        defect="compute_accuracy divides by len(loader.dataset), wrong for a loader that drops its last batch.",
        cells={"compute_accuracy": '''
def compute_accuracy(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for features, labels in loader:
            correct += int((model(features).argmax(dim=1) == labels).sum())
    return correct / len(loader.dataset)
'''},
        loses=frozenset({"test_compute_accuracy_uneven_batches"}),
        message_contains="len(loader.dataset)",
    ),
    Mutant(
        name="save_ignores_path",
        defect="save_model always writes model.pth instead of the path it is given.",
        cells={"save_model": '''
def save_model(model, path):
    torch.save(model.state_dict(), "model.pth")
'''},
        loses=frozenset({"test_save_model_writes_state_dict"}),
        message_contains="did not write a file at the path",
    ),
    Mutant(
        name="loaders_default_batch_size_4",
        defect="make_loaders' signature says batch_size=4 instead of batch_size=2.",
        cells={"make_loaders": _loaders(default_batch_size="4")},
        loses=frozenset({"test_make_loaders_defaults"}),
        message_contains="batch_size=2",
    ),
    Mutant(
        name="loaders_default_seed_0",
        defect="make_loaders' signature says seed=0 instead of seed=123.",
        cells={"make_loaders": _loaders(default_seed="0")},
        loses=frozenset({"test_make_loaders_defaults"}),
        message_contains="seed=123",
    ),
    Mutant(
        name="loaders_module_generator",
        defect="One generator made at module level is re-seeded and handed to every training loader, so two "
               "loaders share its state.",
        cells={"make_loaders": _loaders(before="\n_GENERATOR = torch.Generator()\n",
                                        setup="_GENERATOR.manual_seed(seed)", generator="generator=_GENERATOR, ")},
        loses=frozenset({"test_make_loaders_no_shared_state"}),
        message_contains="share a random generator",
    ),
    Mutant(
        name="loaders_module_generator_seeded_once",
        defect="One generator, seeded with 123 once at module level, is handed to every training loader.",
        cells={"make_loaders": _loaders(before="\n_G = torch.Generator().manual_seed(123)\n",
                                        generator="generator=_G, ")},
        loses=frozenset({"test_make_loaders_train_order", "test_make_loaders_no_shared_state"}),
        message_contains="same seed",
    ),
    Mutant(
        name="loaders_global_rng_seeded_at_import",
        defect="The global RNG is seeded once when the cell runs; the training loader shuffles with it.",
        cells={"make_loaders": _loaders(before="\ntorch.manual_seed(123)\n", generator="")},
        loses=frozenset({"test_make_loaders_train_order", "test_make_loaders_no_shared_state"}),
        message_contains="same seed",
    ),
    Mutant(
        name="train_default_lr_0_1",
        defect="train's signature says lr=0.1 instead of lr=0.5.",
        cells={"train": _train(default_lr="0.1")},
        loses=frozenset({"test_train_defaults"}),
        message_contains="lr=0.5",
    ),
    Mutant(
        name="train_default_epochs_5",
        defect="train's signature says epochs=5 instead of epochs=3.",
        cells={"train": _train(default_epochs="5")},
        loses=frozenset({"test_train_defaults"}),
        message_contains="epochs=3",
    ),
    Mutant(
        name="train_shared_losses_default",
        defect="train records into a default argument losses=[], shared by every call.",
        cells={"train": _train().replace("lr=0.5):", "lr=0.5, losses=[]):").replace("    losses = []\n", "")},
        # every call returns what the calls before it recorded too (the notebook's own check cell made the first)
        loses=frozenset({"test_train_returns_float_losses", "test_train_losses_match_reference",
                         "test_train_defaults", "test_train_sets_training_mode"}),
        message_contains="keep no state",
    ),
    Mutant(
        name="count_parameters_module_total",
        defect="count_parameters adds up into a module-level list, so every call adds to the previous ones.",
        cells={"count_parameters": '''
_COUNTED = []

def count_parameters(model):
    _COUNTED.extend(p.numel() for p in model.parameters() if p.requires_grad)
    return sum(_COUNTED)
'''},
        # every answer after the first is off, so every check of the function fails
        loses=frozenset({"test_count_parameters_book_examples", "test_count_parameters_random_models",
                         "test_count_parameters_skips_frozen", "test_count_parameters_returns_int"}),
        message_contains="keep no state",
    ),
    Mutant(
        name="load_model_one_shared_model",
        defect="load_model builds one NeuralNetwork the first time and loads every later file into it.",
        cells={"load_model": '''
_LOADED = {}

def load_model(path, num_inputs, num_outputs):
    model = _LOADED.setdefault((num_inputs, num_outputs), NeuralNetwork(num_inputs, num_outputs))
    model.load_state_dict(torch.load(path, weights_only=True))
    return model
'''},
        loses=frozenset({"test_load_model_restores_weights"}),
        message_contains="build a new NeuralNetwork in every call",
    ),
]
