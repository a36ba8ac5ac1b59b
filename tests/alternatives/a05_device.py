"""A correct 05_device.ipynb written in another style than the reference solution."""

NOTEBOOK = "05_device"

_LOOPS = {
    "get_device": '''
def get_device():
    for name, available in (("cuda", torch.cuda.is_available), ("mps", torch.backends.mps.is_available)):
        if available():
            return torch.device(name)
    return torch.device("cpu")
''',
    "to_device": '''
def to_device(features, labels, device):
    return tuple(tensor.to(device=device) for tensor in (features, labels))
''',
    "train_on_device": '''
def train_on_device(model, loader, device, epochs=3, lr=0.5):
    model.to(device)
    optimizer = torch.optim.SGD(params=model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        model.train()
        for batch in loader:
            features, labels = (part.to(device, non_blocking=True) for part in batch)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(input=model(features), target=labels)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    return losses
''',
}

# Documented idioms for choosing a device: each asks torch in another way, and a simulated
# machine must answer all of them consistently.
_BUILT_AND_AVAILABLE = {
    "get_device": '''
def get_device():
    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        return torch.device("cuda")
    if torch.backends.mps.is_built() and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
''',
}

_ACCELERATOR_API = {
    "get_device": '''
def get_device():
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if torch.accelerator.is_available():
        return torch.accelerator.current_accelerator()
    return torch.device("cpu")
''',
    "to_device": '''
def to_device(features, labels, device):
    device = torch.device(device)
    return features.to(device, non_blocking=True), labels.to(device, non_blocking=True)
''',
}

ALTERNATIVES = {"loops": _LOOPS, "built_and_available": _BUILT_AND_AVAILABLE, "accelerator_api": _ACCELERATOR_API}
