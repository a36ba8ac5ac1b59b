"""Mutants of 05_device.ipynb: one typical mistake per variant."""

from tests.mutants import Mutant

NOTEBOOK = "05_device"

_TRAIN = '''
def train_on_device(model, loader, device, epochs={epochs}, lr=0.5):
    {move_model}
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        model.train()
        for features, labels in loader:
            {move_batch}
            logits = model(features)
            {after_forward}
            loss = F.cross_entropy(logits, labels)
            {zero_grad}
            loss.backward()
            optimizer.step()
            losses.append({record})
    {after_training}
    return losses
'''


def _train(*, move_model="model = model.to(device)",
           move_batch="features, labels = features.to(device), labels.to(device)",
           zero_grad="optimizer.zero_grad()", record="loss.item()", epochs="3", after_forward="pass",
           after_training="pass") -> str:
    return _TRAIN.format(move_model=move_model, move_batch=move_batch, zero_grad=zero_grad, record=record,
                         epochs=epochs, after_forward=after_forward, after_training=after_training)


MUTANTS = [
    Mutant(
        name="device_no_mps_branch",
        defect="get_device only knows CUDA and the CPU.",
        cells={"get_device": '''
def get_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
'''},
        loses=frozenset({"test_get_device_mps"}),
        message_contains="mps",
    ),
    Mutant(
        name="device_mps_before_cuda",
        defect="get_device tests MPS before CUDA.",
        cells={"get_device": '''
def get_device():
    if torch.backends.mps.is_available():
        return torch.device("mps")
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
'''},
        loses=frozenset({"test_get_device_prefers_cuda"}),
        message_contains="first",
    ),
    Mutant(
        name="device_returns_string",
        defect="get_device returns a device name string instead of a torch.device.",
        cells={"get_device": '''
def get_device():
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"
'''},
        loses=frozenset({"test_get_device_returns_device"}),
        message_contains="torch.device",
    ),
    Mutant(
        name="device_always_cpu",
        defect="get_device always returns the CPU.",
        cells={"get_device": '''
def get_device():
    return torch.device("cpu")
'''},
        # a constant is not a choice of device: the type check awards nothing either
        loses=frozenset({"test_get_device_cuda", "test_get_device_prefers_cuda", "test_get_device_mps",
                         "test_get_device_returns_device"}),
    ),
    Mutant(
        name="to_device_labels_stay",
        defect="to_device moves the features but not the labels.",
        cells={"to_device": '''
def to_device(features, labels, device):
    return features.to(device), labels
'''},
        loses=frozenset({"test_to_device_labels_moved"}),
        message_contains="labels",
    ),
    Mutant(
        name="to_device_in_place_assumption",
        defect="to_device calls .to(device) but returns the original tensors, as if .to worked in place.",
        cells={"to_device": '''
def to_device(features, labels, device):
    features.to(device)
    labels.to(device)
    return features, labels
'''},
        loses=frozenset({"test_to_device_features_moved", "test_to_device_labels_moved"}),
    ),
    Mutant(
        name="to_device_swapped",
        defect="to_device returns (labels, features).",
        cells={"to_device": '''
def to_device(features, labels, device):
    return labels.to(device), features.to(device)
'''},
        loses=frozenset({"test_to_device_features_moved", "test_to_device_labels_moved",
                         "test_to_device_cpu_values"}),
    ),
    Mutant(
        name="train_model_not_moved",
        defect="train_on_device moves the batches but never the model.",
        cells={"train_on_device": _train(move_model="pass")},
        loses=frozenset({"test_train_on_device_moves_model"}),
        message_contains="model.to(device)",
    ),
    Mutant(
        name="train_batches_not_moved",
        defect="train_on_device moves the model but not the batches.",
        cells={"train_on_device": _train(move_batch="pass")},
        loses=frozenset({"test_train_on_device_moves_batches"}),
        message_contains="move features and labels",
    ),
    Mutant(
        name="train_features_only_moved",
        defect="train_on_device moves the features of each batch but forgets the labels.",
        cells={"train_on_device": _train(move_batch="features = features.to(device)")},
        loses=frozenset({"test_train_on_device_moves_batches"}),
        message_contains="labels",
    ),
    Mutant(
        name="train_no_zero_grad",
        defect="train_on_device never resets the gradients.",
        cells={"train_on_device": _train(zero_grad="pass")},
        loses=frozenset({"test_train_on_device_cpu_losses"}),
        message_contains="zero_grad",
    ),
    Mutant(
        name="train_losses_as_tensors",
        defect="train_on_device appends the loss tensors instead of loss.item().",
        cells={"train_on_device": _train(record="loss")},
        loses=frozenset({"test_train_on_device_cpu_losses"}),
        message_contains="loss.item()",
    ),
    Mutant(
        name="to_device_casts_features",
        defect="to_device converts the features to float32 while moving them.",
        cells={"to_device": '''
def to_device(features, labels, device):
    return features.to(device, torch.float32), labels.to(device)
'''},
        loses=frozenset({"test_to_device_features_moved"}),
        message_contains="float64",
    ),
    Mutant(
        name="train_ignores_device",
        defect="train_on_device trains wherever the model and the batches already are.",
        cells={"train_on_device": _train(move_model="pass", move_batch="pass")},
        loses=frozenset({"test_train_on_device_moves_model", "test_train_on_device_moves_batches"}),
        message_contains="model.to(device)",
    ),
    Mutant(
        name="device_asks_is_built",
        defect="get_device asks whether PyTorch was built with MPS, not whether an MPS device is there.",
        cells={"get_device": '''
def get_device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_built():
        return torch.device("mps")
    return torch.device("cpu")
'''},
        loses=frozenset({"test_get_device_cpu"}),
    ),
    Mutant(
        name="train_epochs_default_5",
        defect="train_on_device's signature says epochs=5 instead of epochs=3.",
        cells={"train_on_device": _train(epochs="5")},
        loses=frozenset({"test_train_on_device_defaults"}),
        message_contains="epochs=3",
    ),
    Mutant(
        name="train_model_moved_after_training",
        defect="train_on_device moves the model to the device only after the training loop.",
        cells={"train_on_device": _train(move_model="pass", after_training="model = model.to(device)")},
        loses=frozenset({"test_train_on_device_moves_model"}),
        message_contains="model.to(device)",
    ),
    Mutant(
        name="train_model_moved_after_first_forward",
        defect="train_on_device moves the model inside the loop, after the forward pass of each batch.",
        cells={"train_on_device": _train(move_model="pass", after_forward="model.to(device)")},
        loses=frozenset({"test_train_on_device_moves_model"}),
    ),
    Mutant(
        name="train_batches_moved_after_forward",
        defect="train_on_device moves each batch to the device after the model has already run on it.",
        cells={"train_on_device": _train(
            move_batch="pass", after_forward="features, labels = features.to(device), labels.to(device)")},
        loses=frozenset({"test_train_on_device_moves_batches"}),
        message_contains="before calling the model",
    ),
    Mutant(
        name="train_batch_moves_not_kept",
        defect="train_on_device calls .to(device) on the batch but keeps the tensors it already had, as if .to "
               "worked in place.",
        cells={"train_on_device": _train(move_batch="features.to(device); labels.to(device)")},
        loses=frozenset({"test_train_on_device_moves_batches"}),
    ),
    Mutant(
        name="train_labels_moved_features_stay",
        defect="train_on_device moves the labels of each batch but not the features.",
        cells={"train_on_device": _train(move_batch="labels = labels.to(device)")},
        loses=frozenset({"test_train_on_device_moves_batches"}),
        message_contains="when the model saw them",
    ),
]
