"""A correct 04_mlp.ipynb written in another style than the reference solution."""

NOTEBOOK = "04_mlp"

_CELLS = {
    "NeuralNetwork": '''
class NeuralNetwork(nn.Module):
    def __init__(self, num_inputs, num_outputs):
        super().__init__()
        sizes = [num_inputs, 30, 20]
        modules = []
        for width_in, width_out in zip(sizes, sizes[1:]):
            modules += [nn.Linear(width_in, width_out), nn.ReLU()]
        modules.append(nn.Linear(sizes[-1], num_outputs))
        self.layers = nn.Sequential(*modules)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
''',
    "count_parameters": '''
def count_parameters(model):
    total = 0
    for _, parameter in model.named_parameters():
        if parameter.requires_grad:
            total += parameter.numel()
    return total
''',
    "ToyDataset": '''
class ToyDataset(Dataset):
    def __init__(self, features, labels):
        assert len(features) == len(labels)
        self.pairs = (features, labels)

    def __getitem__(self, index):
        features, labels = self.pairs
        return features[index], labels[index]

    def __len__(self):
        return len(self.pairs[1])
''',
    "make_loaders": '''
def make_loaders(X_train, y_train, X_test, y_test, batch_size=2, seed=123):
    generator = torch.Generator()
    generator.manual_seed(seed)
    train_loader = DataLoader(ToyDataset(X_train, y_train), batch_size, shuffle=True,
                              num_workers=0, drop_last=True, generator=generator)
    test_loader = DataLoader(ToyDataset(X_test, y_test), batch_size)
    return (train_loader, test_loader)
''',
    "train": '''
def train(model, loader, epochs=3, lr=0.5):
    # plain gradient descent written out by hand instead of torch.optim.SGD
    history = []
    model.train()
    for _ in range(epochs):
        for features, labels in loader:
            for parameter in model.parameters():
                parameter.grad = None
            loss = F.cross_entropy(model(features), labels)
            loss.backward()
            with torch.no_grad():
                for parameter in model.parameters():
                    if parameter.grad is not None:
                        parameter.add_(parameter.grad, alpha=-lr)
            history.append(loss.detach().item())
    return history
''',
    "compute_accuracy": '''
@torch.no_grad()
def compute_accuracy(model, loader):
    was_training = model.training
    model.eval()
    right = seen = 0
    for features, labels in loader:
        right += (model(features).argmax(dim=-1) == labels).sum().item()
        seen += labels.numel()
    model.train(was_training)
    return right / seen
''',
    "save_model": '''
def save_model(model, path):
    state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    torch.save(state, path)
''',
    "load_model": '''
def load_model(path, num_inputs, num_outputs):
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = NeuralNetwork(num_inputs=num_inputs, num_outputs=num_outputs)
    model.load_state_dict(state)
    return model.eval()
''',
}

_INFERENCE_MODE = {
    "NeuralNetwork": '''
class NeuralNetwork(nn.Module):
    def __init__(self, num_inputs, num_outputs):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(num_inputs, 30), nn.ReLU(inplace=True),
            nn.Linear(30, 20), nn.ReLU(),
            nn.Linear(20, num_outputs),
        )

    def forward(self, x):
        logits = self.layers(x)
        return logits
''',
    "train": '''
def train(model, loader, epochs=3, lr=0.5):
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        for features, labels in loader:
            optimizer.zero_grad()
            loss = nn.CrossEntropyLoss()(model(features), labels)
            loss.backward()
            optimizer.step()
            losses.append(float(loss))
    return losses
''',
    "compute_accuracy": '''
def compute_accuracy(model, loader):
    model = model.eval()
    correct = torch.tensor(0)
    count = 0
    with torch.inference_mode():
        for features, labels in loader:
            correct += (model(features).max(dim=1).indices == labels).sum()
            count += labels.shape[0]
    return float(correct) / count
''',
    "save_model": '''
from pathlib import Path

def save_model(model, path):
    torch.save(model.state_dict(), Path(path))
''',
}

# The book's loop (A.7): it prints every batch's loss with an f-string, then records loss.item().
_BOOK_LOOP = {
    "train": '''
def train(model, loader, epochs=3, lr=0.5):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    num_epochs = epochs
    losses = []
    for epoch in range(num_epochs):
        model.train()
        for batch_idx, (features, labels) in enumerate(loader):
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

# Other ways to read a loss back: float() of a CPU copy, .cpu().item(), and CPU tensors kept
# during the loop and turned into floats at the end.
_READ_BACK = {
    "train": '''
def train(model, loader, epochs=3, lr=0.5):
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    kept, checks = [], []
    for epoch in range(epochs):
        for features, labels in loader:
            loss = F.cross_entropy(model(features), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            checks.append(float(loss.detach().cpu()) - loss.cpu().item())
            kept.append(loss.detach().cpu())
    print(f"epochs {epochs}: last loss {kept[-1]:.3f}" if kept else "no batches", sum(checks))
    return [float(loss) for loss in torch.stack(kept)] if kept else []
''',
}

ALTERNATIVES = {"loops_by_hand": _CELLS, "inference_mode": _INFERENCE_MODE, "book_loop": _BOOK_LOOP,
                "read_back": _READ_BACK}
