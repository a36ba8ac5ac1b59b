"""A correct 03_autograd.ipynb written in another style than the reference solution."""

NOTEBOOK = "03_autograd"

_CELLS = {
    "logistic_forward": '''
def logistic_forward(x1, w1, b):
    z = torch.add(torch.mul(w1, x1), b)
    return 1 / (1 + torch.exp(-z))
''',
    "logistic_loss": '''
def logistic_loss(x1, w1, b, y):
    logits = w1 * x1 + b
    return F.binary_cross_entropy_with_logits(logits, y, reduction="mean")
''',
    "loss_gradients": '''
def loss_gradients(x1, w1, b, y):
    w = torch.tensor(w1.tolist(), dtype=w1.dtype, requires_grad=True)
    bias = torch.tensor(b.tolist(), dtype=b.dtype, requires_grad=True)
    grads = torch.autograd.grad(outputs=logistic_loss(x1, w, bias, y), inputs=[w, bias])
    return tuple(g.detach() for g in grads)
''',
    "backward_gradients": '''
def backward_gradients(x1, w1, b, y):
    params = [p.detach().clone() for p in (w1, b)]
    for p in params:
        p.requires_grad = True
    logistic_loss(x1, *params, y).backward()
    return params[0].grad, params[1].grad
''',
}

# In-place operations on tensors the function made itself (never on its arguments) are fine.
_IN_PLACE_ON_OWN_TENSORS = {
    "logistic_forward": '''
def logistic_forward(x1, w1, b):
    z = x1 * w1
    z += b
    return z.sigmoid_()
''',
    "logistic_loss": '''
def logistic_loss(x1, w1, b, y):
    return torch.nn.BCELoss()(logistic_forward(x1, w1, b), y)
''',
    "loss_gradients": '''
def loss_gradients(x1, w1, b, y):
    w = w1.clone().detach().requires_grad_(True)
    bias = b.clone().detach().requires_grad_(True)
    grad_w, grad_b = torch.autograd.grad(logistic_loss(x1, w, bias, y), [w, bias])
    return grad_w, grad_b
''',
    "backward_gradients": '''
def backward_gradients(x1, w1, b, y):
    w, bias = w1.detach().clone(), b.detach().clone()
    w.requires_grad = True
    bias.requires_grad = True
    logistic_loss(x1, w, bias, y).backward()
    grads = w.grad.detach().clone(), bias.grad.detach().clone()
    w.grad.zero_()
    bias.grad.zero_()
    return grads
''',
}

ALTERNATIVES = {"by_hand": _CELLS, "in_place_on_own_tensors": _IN_PLACE_ON_OWN_TENSORS}
