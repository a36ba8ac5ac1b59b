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

# The book's loop (A.9): it prints every batch's loss with an f-string, which reads the loss's
# value on the device, then records loss.item().
_BOOK_LOOP = {
    "train_on_device": '''
def train_on_device(model, loader, device, epochs=3, lr=0.5):
    model = model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    num_epochs = epochs
    losses = []
    for epoch in range(num_epochs):
        model.train()
        for batch_idx, (features, labels) in enumerate(loader):
            features, labels = features.to(device), labels.to(device)
            logits = model(features)
            loss = F.cross_entropy(logits, labels)  # Loss function
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            ### LOGGING
            print(f"Epoch: {epoch+1:03d}/{num_epochs:03d}"
                  f" | Batch {batch_idx:03d}/{len(loader):03d}"
                  f" | Train Loss: {loss:.2f}")
            losses.append(loss.item())
    model.eval()
    return losses
''',
}

# Other ways to read a loss back from the device: float() of a CPU copy, .cpu().item(), and CPU
# tensors kept during the loop and turned into floats at the end; a running total built on the device
# with a factory; the model moved back to the CPU once trained.
_READ_BACK = {
    "train_on_device": '''
def train_on_device(model, loader, device, epochs=3, lr=0.5):
    model.to(device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    kept, checks = [], []
    running = torch.zeros((), device=device)
    for epoch in range(epochs):
        model.train()
        for features, labels in loader:
            features = features.to(device, non_blocking=True)
            labels = labels.to(device=device)
            assert features.device.type == labels.device.type == torch.device(device).type
            loss = F.cross_entropy(model(features), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.detach()
            checks.append(float(loss.detach().cpu()) - loss.cpu().item())
            kept.append(loss.detach().cpu())
    print(f"mean loss {running.item() / max(1, len(kept)):.3f}", sum(checks))
    model.cpu()
    return torch.stack(kept).tolist() if kept else []
''',
}

ALTERNATIVES = {"loops": _LOOPS, "built_and_available": _BUILT_AND_AVAILABLE, "accelerator_api": _ACCELERATOR_API,
                "book_loop": _BOOK_LOOP, "read_back": _READ_BACK}
