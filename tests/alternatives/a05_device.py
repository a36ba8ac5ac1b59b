"""A correct 05_device.ipynb written in another style than the reference solution."""

NOTEBOOK = "05_device"

ALTERNATIVE = {
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
