"""Mutants of 03_autograd.ipynb: one typical mistake per variant.

The reference loss calls ``logistic_forward`` and the gradient functions call
``logistic_loss``.  The suite judges each function with trusted stand-ins for the
helpers it calls, so a mistake in the forward pass loses only the forward checks,
whether the loss calls ``logistic_forward`` (the ``*_in_chain`` mutants) or not.

Every check calls its function twice with the same arguments and holds both calls to leaving
x1, w1, b and y alone, so a function that changes an argument in place, or keeps state from one
call to the next, loses every check of that function (less any whose inputs hide it).
"""

from tests.mutants import Mutant

NOTEBOOK = "03_autograd"

_OWN_LOSS = '''
def logistic_loss(x1, w1, b, y):
    return F.binary_cross_entropy(torch.sigmoid(x1 * w1 + b), y)
'''

_LOSS_GRADIENTS = '''
def loss_gradients(x1, w1, b, y):
    w = w1.detach().clone().requires_grad_(True)
    bias = b.detach().clone().requires_grad_(True)
    loss = logistic_loss(x1, w, bias, y)
    grad_w, grad_b = torch.autograd.grad(loss, (w, bias){grad_options})
    return {returned}
'''

_BACKWARD_GRADIENTS = '''
def backward_gradients(x1, w1, b, y):
    w = w1.detach().clone().requires_grad_(True)
    bias = b.detach().clone().requires_grad_(True)
    loss = logistic_loss(x1, w, bias, y)
    loss.backward({backward_options})
    return {returned}
'''


def _loss_gradients(grad_options: str = "", returned: str = "grad_w, grad_b") -> str:
    return _LOSS_GRADIENTS.format(grad_options=grad_options, returned=returned)


def _backward_gradients(backward_options: str = "", returned: str = "w.grad, bias.grad") -> str:
    return _BACKWARD_GRADIENTS.format(backward_options=backward_options, returned=returned)


_GRADIENT_VALUE_CHECKS = {
    "test_loss_gradients_book_example", "test_loss_gradients_random_scalars", "test_loss_gradients_vectors",
    "test_loss_gradients_exact", "test_backward_gradients_book_example",
    "test_backward_gradients_random_scalars", "test_backward_gradients_vectors",
}

MUTANTS = [
    Mutant(
        name="forward_missing_sigmoid",
        defect="returns x1 * w1 + b without the sigmoid",
        cells={"logistic_forward": '''
def logistic_forward(x1, w1, b):
    return x1 * w1 + b
''', "logistic_loss": _OWN_LOSS},
        loses=frozenset({"test_logistic_forward_keeps_graph", "test_logistic_forward_random_scalars",
                         "test_logistic_forward_vectors", "test_logistic_forward_float64"}),
        message_contains="torch.sigmoid",
    ),
    Mutant(
        name="forward_without_bias",
        defect="forgets the bias, which the book's example (b = 0) does not reveal",
        cells={"logistic_forward": '''
def logistic_forward(x1, w1, b):
    return torch.sigmoid(x1 * w1)
''', "logistic_loss": _OWN_LOSS},
        loses=frozenset({"test_logistic_forward_random_scalars", "test_logistic_forward_vectors",
                         "test_logistic_forward_float64"}),
        message_contains="bias included",
    ),
    Mutant(
        name="forward_casts_to_float32",
        defect="converts the result to float32 whatever the input dtype",
        cells={"logistic_forward": '''
def logistic_forward(x1, w1, b):
    return torch.sigmoid((x1 * w1 + b).float())
''', "logistic_loss": _OWN_LOSS},
        loses=frozenset({"test_logistic_forward_float64"}),
    ),
    Mutant(
        name="loss_mse",
        defect="uses the mean squared error instead of the binary cross-entropy",
        cells={"logistic_loss": '''
def logistic_loss(x1, w1, b, y):
    return F.mse_loss(logistic_forward(x1, w1, b), y)
'''},
        # a wrong loss everywhere; the gradient checks use a trusted loss and are not charged
        loses=frozenset({"test_logistic_loss_book_example", "test_logistic_loss_random_scalars",
                         "test_logistic_loss_vectors", "test_logistic_loss_saturated_predictions",
                         "test_logistic_loss_float64"}),
        message_contains="binary_cross_entropy",
    ),
    Mutant(
        name="loss_summed",
        defect="sums the loss over the samples instead of averaging it",
        cells={"logistic_loss": '''
def logistic_loss(x1, w1, b, y):
    return F.binary_cross_entropy(logistic_forward(x1, w1, b), y, reduction="sum")
'''},
        loses=frozenset({"test_logistic_loss_vectors"}),
        message_contains="not the sum",
    ),
    Mutant(
        name="loss_hand_written_log",
        defect="types in the cross-entropy formula, which gives inf when a prediction is exactly 1",
        cells={"logistic_loss": '''
def logistic_loss(x1, w1, b, y):
    p = logistic_forward(x1, w1, b)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
'''},
        loses=frozenset({"test_logistic_loss_saturated_predictions"}),
        message_contains="inf",
    ),
    Mutant(
        name="loss_in_float32",
        defect="converts prediction and labels to float32 before the loss",
        cells={"logistic_loss": '''
def logistic_loss(x1, w1, b, y):
    return F.binary_cross_entropy(logistic_forward(x1, w1, b).float(), y.float())
'''},
        loses=frozenset({"test_logistic_loss_float64"}),
    ),
    Mutant(
        name="gradients_swapped",
        defect="returns (dL/db, dL/dw1)",
        cells={"loss_gradients": _loss_gradients(returned="grad_b, grad_w")},
        loses=frozenset({"test_loss_gradients_book_example", "test_loss_gradients_random_scalars",
                         "test_loss_gradients_vectors", "test_loss_gradients_exact"}),
        message_contains="wrong order",
    ),
    Mutant(
        name="gradients_hard_coded",
        defect="returns the book's gradients whatever the input",
        cells={"loss_gradients": '''
def loss_gradients(x1, w1, b, y):
    return torch.tensor([-0.0898]), torch.tensor([-0.0817])
'''},
        loses=frozenset({"test_loss_gradients_random_scalars", "test_loss_gradients_vectors",
                         "test_loss_gradients_float64", "test_loss_gradients_exact",
                         "test_loss_gradients_plain_tensors"}),
    ),
    Mutant(
        name="gradients_with_graph",
        defect="asks autograd for a graph of the gradients (create_graph=True) and returns them attached",
        cells={"loss_gradients": _loss_gradients(grad_options=", create_graph=True")},
        loses=frozenset({"test_loss_gradients_plain_tensors"}),
        message_contains="create_graph",
    ),
    Mutant(
        name="gradients_finite_differences",
        defect="approximates the gradients with central differences instead of using autograd",
        cells={"loss_gradients": '''
def loss_gradients(x1, w1, b, y):
    step = 1e-6
    params = [w1.detach().double(), b.detach().double()]

    def loss_of(values):
        return logistic_loss(x1.double(), values[0], values[1], y.double()).item()

    grads = []
    for index, param in enumerate(params):
        grad = torch.zeros_like(param)
        for k in range(param.numel()):
            up = [p.clone() for p in params]
            down = [p.clone() for p in params]
            up[index].view(-1)[k] += step
            down[index].view(-1)[k] -= step
            grad.view(-1)[k] = (loss_of(up) - loss_of(down)) / (2 * step)
        grads.append(grad.to((w1 if index == 0 else b).dtype))
    return grads[0], grads[1]
'''},
        loses=frozenset({"test_loss_gradients_exact"}),
        message_contains="torch.autograd.grad",
    ),
    Mutant(
        name="gradients_in_float32",
        defect="copies the parameters as float32, losing the float64 dtype",
        cells={"loss_gradients": '''
def loss_gradients(x1, w1, b, y):
    w = w1.detach().float().requires_grad_(True)
    bias = b.detach().float().requires_grad_(True)
    loss = logistic_loss(x1.float(), w, bias, y.float())
    return tuple(torch.autograd.grad(loss, (w, bias)))
'''},
        loses=frozenset({"test_loss_gradients_float64", "test_loss_gradients_exact"}),
    ),
    Mutant(
        name="backward_swapped",
        defect="returns (b.grad, w1.grad)",
        cells={"backward_gradients": _backward_gradients(returned="bias.grad, w.grad")},
        loses=frozenset({"test_backward_gradients_book_example", "test_backward_gradients_random_scalars",
                         "test_backward_gradients_vectors"}),
    ),
    Mutant(
        name="backward_with_graph",
        defect="calls loss.backward(create_graph=True), so the stored gradients carry a graph",
        cells={"backward_gradients": _backward_gradients(backward_options="create_graph=True")},
        loses=frozenset({"test_backward_gradients_plain_tensors"}),
    ),
    Mutant(
        name="backward_returns_parameters",
        defect="returns the parameters themselves instead of their .grad",
        cells={"backward_gradients": _backward_gradients(returned="w, bias")},
        loses=frozenset({"test_backward_gradients_book_example", "test_backward_gradients_random_scalars",
                         "test_backward_gradients_vectors", "test_backward_gradients_plain_tensors",
                         "test_backward_gradients_float64"}),
    ),
    Mutant(
        name="backward_on_non_leaf",
        defect="calls backward on a computed copy (w1 * 1) whose .grad PyTorch never fills in",
        cells={"backward_gradients": '''
def backward_gradients(x1, w1, b, y):
    w1.requires_grad_(True)
    b.requires_grad_(True)
    w, bias = w1 * 1, b * 1
    loss = logistic_loss(x1, w, bias, y)
    loss.backward()
    return w.grad, bias.grad
'''},
        loses=frozenset({"test_backward_gradients_book_example", "test_backward_gradients_random_scalars",
                         "test_backward_gradients_vectors", "test_backward_gradients_float64",
                         "test_backward_gradients_plain_tensors"}),
    ),
    Mutant(
        name="loss_gradients_modifies_inputs",
        defect="calls requires_grad_() on the caller's w1 and b instead of on copies",
        cells={"loss_gradients": '''
def loss_gradients(x1, w1, b, y):
    w1.requires_grad_(True)
    b.requires_grad_(True)
    loss = F.binary_cross_entropy(torch.sigmoid(x1 * w1 + b), y)
    return torch.autograd.grad(loss, [w1, b])
'''},
        # every check holds the call to leaving its arguments alone
        loses=frozenset({"test_loss_gradients_book_example", "test_loss_gradients_random_scalars",
                         "test_loss_gradients_vectors", "test_loss_gradients_float64", "test_loss_gradients_exact",
                         "test_loss_gradients_plain_tensors"}),
        message_contains="changed its 2nd argument (it now requires grad)",
    ),
    Mutant(
        name="forward_casts_to_float32_in_chain",
        defect="converts the prediction to float32, with the reference loss calling logistic_forward",
        cells={"logistic_forward": '''
def logistic_forward(x1, w1, b):
    return torch.sigmoid(x1 * w1 + b).float()
'''},
        loses=frozenset({"test_logistic_forward_float64"}),
    ),
    Mutant(
        name="forward_cuts_graph_in_chain",
        defect="detaches the prediction, so no gradient can flow back through the forward pass",
        cells={"logistic_forward": '''
def logistic_forward(x1, w1, b):
    return torch.sigmoid(x1 * w1 + b).detach()
'''},
        loses=frozenset({"test_logistic_forward_keeps_graph"}),
        message_contains="cut the computation graph",
    ),
    Mutant(
        name="loss_without_mean",
        defect="returns the per-sample losses instead of their mean",
        cells={"logistic_loss": '''
def logistic_loss(x1, w1, b, y):
    return F.binary_cross_entropy(logistic_forward(x1, w1, b), y, reduction="none")
'''},
        loses=frozenset({"test_logistic_loss_vectors", "test_logistic_loss_book_example",
                         "test_logistic_loss_saturated_predictions"}),
        message_contains="one number",
    ),
    Mutant(
        name="forward_in_place",
        defect="computes z = x1; z *= w1; z += b, which writes the logits into the caller's x1",
        cells={"logistic_forward": '''
def logistic_forward(x1, w1, b):
    z = x1
    z *= w1
    z += b
    return torch.sigmoid(z)
'''},
        # the loss and gradient checks use a trusted forward pass, so only the forward checks see it
        loses=frozenset({"test_logistic_forward_keeps_graph", "test_logistic_forward_random_scalars",
                         "test_logistic_forward_vectors", "test_logistic_forward_float64"}),
        message_contains="changed its",
    ),
    Mutant(
        name="forward_float32_inside",
        defect="computes the prediction in float32 and converts it back, so float64 results have float32 precision",
        cells={"logistic_forward": '''
def logistic_forward(x1, w1, b):
    z = x1.float() * w1.float() + b.float()
    return torch.sigmoid(z).to(x1.dtype)
'''},
        loses=frozenset({"test_logistic_forward_float64"}),
        message_contains="only as precise as float32",
    ),
    Mutant(
        name="forward_cached_by_x1",
        defect="keeps the predictions in a module-level dict keyed by the values of x1, ignoring w1 and b",
        cells={"logistic_forward": '''
predictions = {}

def logistic_forward(x1, w1, b):
    key = tuple(x1.reshape(-1).tolist())
    if key not in predictions:
        predictions[key] = torch.sigmoid(x1 * w1 + b)
    return predictions[key]
'''},
        # the visible check cell runs first, with the book's x1 and without gradients
        loses=frozenset({"test_logistic_forward_keeps_graph", "test_logistic_forward_random_scalars"}),
    ),
    Mutant(
        name="loss_logits_in_place",
        defect="computes the logits with x1.mul_(w1).add_(b), overwriting the caller's x1",
        cells={"logistic_loss": '''
def logistic_loss(x1, w1, b, y):
    logits = x1.mul_(w1).add_(b)
    return F.binary_cross_entropy(torch.sigmoid(logits), y)
'''},
        # the saturated check uses w1 = 1 and b = 0, where x1 * w1 + b is x1 itself
        loses=frozenset({"test_logistic_loss_book_example", "test_logistic_loss_random_scalars",
                         "test_logistic_loss_vectors", "test_logistic_loss_float64"}),
        message_contains="changed its",
    ),
    Mutant(
        name="loss_float32_inside",
        defect="computes the loss of float32 copies and converts it back, so a float64 loss has float32 precision",
        cells={"logistic_loss": '''
def logistic_loss(x1, w1, b, y):
    prediction = logistic_forward(x1, w1, b)
    return F.binary_cross_entropy(prediction.float(), y.float()).to(prediction.dtype)
'''},
        loses=frozenset({"test_logistic_loss_float64"}),
    ),
    Mutant(
        name="loss_running_mean",
        defect="averages the new loss with every loss computed before, in a module-level list",
        cells={"logistic_loss": '''
history = []

def logistic_loss(x1, w1, b, y):
    history.append(F.binary_cross_entropy(logistic_forward(x1, w1, b), y))
    return torch.stack(history).mean()
'''},
        # the visible check cells only ever compute the book's loss, which the book check asks for too
        loses=frozenset({"test_logistic_loss_random_scalars", "test_logistic_loss_vectors",
                         "test_logistic_loss_float64", "test_logistic_loss_saturated_predictions"}),
    ),
    Mutant(
        name="backward_on_caller_tensors",
        defect="calls requires_grad_() on the caller's w1 and b and reads their .grad instead of using copies",
        cells={"backward_gradients": '''
def backward_gradients(x1, w1, b, y):
    w1.requires_grad_(True)
    b.requires_grad_(True)
    loss = logistic_loss(x1, w1, b, y)
    loss.backward()
    return w1.grad, b.grad
'''},
        loses=frozenset({"test_backward_gradients_book_example", "test_backward_gradients_random_scalars",
                         "test_backward_gradients_vectors", "test_backward_gradients_float64",
                         "test_backward_gradients_plain_tensors"}),
        message_contains="changed its 2nd argument (it now requires grad)",
    ),
    Mutant(
        name="backward_reuses_leaf_copies",
        defect="keeps the leaf copies of parameters it has seen in a module-level dict and never resets their "
               ".grad, so a repeated call adds the new gradients to the old ones",
        cells={"backward_gradients": '''
leaves = {}

def backward_gradients(x1, w1, b, y):
    key = (tuple(w1.reshape(-1).tolist()), tuple(b.reshape(-1).tolist()), w1.dtype)
    if key not in leaves:
        leaves[key] = (w1.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True))
    w, bias = leaves[key]
    loss = logistic_loss(x1, w, bias, y)
    loss.backward()
    return w.grad.clone(), bias.grad.clone()
'''},
        loses=frozenset({"test_backward_gradients_book_example", "test_backward_gradients_random_scalars",
                         "test_backward_gradients_vectors", "test_backward_gradients_float64",
                         "test_backward_gradients_plain_tensors"}),
        message_contains="called again with the same arguments",
    ),
]
