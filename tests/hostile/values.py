"""Values a student's function can return that trusted code handling them might trip over.

Each is a Python expression (``torch`` imported).  A check that meets one must fail, counted in the
maximum, whatever its own code does with the value: never a grader error, never a crash of the run.
"""

HOSTILE_VALUES = {
    "nan": "float('nan')",
    "infinity": "float('-inf')",
    "huge_int": "10 ** 400",
    "meta_tensor": "torch.zeros(2, 3, device='meta')",
    "complex_tensor": "torch.zeros(2, 3, dtype=torch.complex64)",
    "sparse_tensor": "torch.eye(3).to_sparse()",
    "quantized_tensor": "torch.quantize_per_tensor(torch.zeros(2, 3), 0.1, 0, torch.quint8)",
    "numpy_nan": "__import__('numpy').float64('nan')",
    "nested_nan": "[[float('nan')], {'loss': float('nan')}]",
    "string": "'0.0898'",
    "bytes": "b'\\x00' * 8",
    "boolean": "True",
}

# Exceptions whose text or type is computed from the hidden input: none of it may reach a student.
LEAK_MARKER = "HIDDENLEAK"
SPELL_INPUT = f'''
def _spell(value):
    digits = "zero one two three four five six seven eight nine".split()
    return " ".join(digits[int(c)] if c.isdigit() else {{".": "point", "-": "minus"}}.get(c, c)
                    for c in repr(value)[:4000])

def _leak(*args, **kwargs):
    return "{LEAK_MARKER} " + _spell([getattr(a, "tolist", lambda: a)() for a in args])
'''
LEAKING_RAISES = {
    "message": "raise ValueError(_leak(*args, **kwargs))",
    "class_name": "raise type('{marker}' + ''.join(c for c in _leak(*args) if c.isalnum())[:60], "
                  "(Exception,), {{}})()".format(marker=LEAK_MARKER),
    "exit_code": "import os; os._exit(int(abs(hash(_leak(*args))) % 250) + 3)",
    "fake_location": "exec(compile('raise KeyError(1)', '<cell 1>', 'exec'), {'__name__': _leak(*args)[:40]})",
}
