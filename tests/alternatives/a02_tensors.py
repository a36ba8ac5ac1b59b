"""A correct 02_tensors.ipynb written in another style than the reference solution."""

NOTEBOOK = "02_tensors"

_CELLS = {
    "make_tensors": '''
def make_tensors():
    values = list(range(1, 9))
    rank0 = torch.tensor(values[0], dtype=torch.long)
    rank1 = torch.tensor(values[:3], dtype=torch.long)
    rank2 = torch.arange(1, 5).reshape(2, 2)
    rank3 = torch.arange(1, 9).view(2, 2, 2)
    return tuple([rank0, rank1, rank2, rank3])
''',
    "to_float32": '''
def to_float32(t):
    result = torch.empty(t.shape, dtype=torch.float32)
    result.copy_(t)
    return result
''',
    "reshape_to": '''
def reshape_to(t, rows, cols):
    return t.contiguous().view(rows, cols)
''',
    "transpose": '''
def transpose(t):
    return torch.transpose(t, 0, 1).contiguous()
''',
    "gram": '''
def gram(t):
    return torch.matmul(t, t.transpose(0, 1))
''',
}

# Other documented spellings; einsum sums in another order (float64 results differ in the last digits).
_OTHER_FUNCTIONS = {
    "make_tensors": '''
def make_tensors():
    cube = torch.tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
    return cube[0, 0, 0].clone(), torch.arange(1, 4), cube[0].clone(), cube
''',
    "to_float32": '''
def to_float32(t):
    return t.type(torch.float32)
''',
    "reshape_to": '''
def reshape_to(t, rows, cols):
    return torch.reshape(t.flatten(), (rows, cols))
''',
    "transpose": '''
def transpose(t):
    return t.permute(1, 0)
''',
    "gram": '''
def gram(t):
    return torch.einsum("ik,jk->ij", t, t)
''',
}

ALTERNATIVES = {"matmul_and_views": _CELLS, "permute_and_einsum": _OTHER_FUNCTIONS}
