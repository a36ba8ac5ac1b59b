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

ALTERNATIVES = {"matmul_and_views": _CELLS}
