"""Mutants of 02_tensors.ipynb: one typical mistake per variant.

Every check calls its function twice with the same arguments and holds both calls to leaving
their tensor arguments alone, so a function that changes its argument in place, or keeps state
from one call to the next, loses every check of that function.
"""

from tests.mutants import Mutant

NOTEBOOK = "02_tensors"

MUTANTS = [
    Mutant(
        name="make_tensors_float",
        defect="writes the numbers as floats (1.0), giving float32 tensors",
        cells={"make_tensors": '''
def make_tensors():
    return (torch.tensor(1.0), torch.tensor([1.0, 2.0, 3.0]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
            torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]))
'''},
        loses=frozenset({"test_make_tensors_dtype"}),
        message_contains="int64",
    ),
    Mutant(
        name="make_tensors_flat_cube",
        defect="builds the rank-3 tensor as a 2x4 matrix",
        cells={"make_tensors": '''
def make_tensors():
    return (torch.tensor(1), torch.tensor([1, 2, 3]), torch.tensor([[1, 2], [3, 4]]),
            torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]))
'''},
        loses=frozenset({"test_make_tensors_shapes"}),
    ),
    Mutant(
        name="make_tensors_scalar_as_vector",
        defect="builds the scalar from the list [1], a rank-1 tensor",
        cells={"make_tensors": '''
def make_tensors():
    return (torch.tensor([1]), torch.tensor([1, 2, 3]), torch.tensor([[1, 2], [3, 4]]),
            torch.tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]))
'''},
        loses=frozenset({"test_make_tensors_shapes"}),
    ),
    Mutant(
        name="make_tensors_reversed",
        defect="returns the tensors from rank 3 down to rank 0",
        cells={"make_tensors": '''
def make_tensors():
    return (torch.tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]), torch.tensor([[1, 2], [3, 4]]),
            torch.tensor([1, 2, 3]), torch.tensor(1))
'''},
        loses=frozenset({"test_make_tensors_shapes", "test_make_tensors_values"}),
    ),
    Mutant(
        name="to_float32_double",
        defect="converts to float64 (.double()) instead of float32",
        cells={"to_float32": '''
def to_float32(t):
    return t.double()
'''},
        loses=frozenset({"test_to_float32_book_example", "test_to_float32_random_integers",
                         "test_to_float32_from_float64", "test_to_float32_any_shape"}),
        message_contains="dtype torch.float64",
    ),
    Mutant(
        name="to_float32_times_one",
        defect="multiplies by 1.0, which turns integers into float32 but leaves float64 as float64",
        cells={"to_float32": '''
def to_float32(t):
    return t * 1.0
'''},
        loses=frozenset({"test_to_float32_from_float64"}),
    ),
    Mutant(
        name="to_float32_element_loop",
        defect="rebuilds the tensor from its elements with a loop, which only works for vectors",
        cells={"to_float32": '''
def to_float32(t):
    return torch.tensor([float(value) for value in t], dtype=torch.float32)
'''},
        loses=frozenset({"test_to_float32_any_shape"}),
    ),
    Mutant(
        name="to_float32_hard_coded",
        defect="returns the book's answer whatever the input",
        cells={"to_float32": '''
def to_float32(t):
    return torch.tensor([1.0, 2.0, 3.0])
'''},
        loses=frozenset({"test_to_float32_random_integers", "test_to_float32_from_float64",
                         "test_to_float32_any_shape"}),
    ),
    Mutant(
        name="reshape_as_transpose",
        defect="transposes instead of reshaping",
        cells={"reshape_to": '''
def reshape_to(t, rows, cols):
    return t.T
'''},
        loses=frozenset({"test_reshape_to_book_example", "test_reshape_to_random_matrices",
                         "test_reshape_to_non_contiguous", "test_reshape_to_any_input_rank"}),
    ),
    Mutant(
        name="reshape_with_view",
        defect="uses .view, which fails on non-contiguous tensors",
        cells={"reshape_to": '''
def reshape_to(t, rows, cols):
    return t.view(rows, cols)
'''},
        loses=frozenset({"test_reshape_to_non_contiguous"}),
        message_contains=".reshape()",
    ),
    Mutant(
        name="reshape_storage_order",
        defect="reads the elements in the order they are stored in memory, not in the order they are seen",
        cells={"reshape_to": '''
def reshape_to(t, rows, cols):
    flat = torch.as_strided(t, (t.numel(),), (1,), t.storage_offset())
    return flat.reshape(rows, cols)
'''},
        loses=frozenset({"test_reshape_to_non_contiguous"}),
    ),
    Mutant(
        name="reshape_rebuilds_from_list",
        defect="rebuilds the result from a Python list, losing the input's dtype",
        cells={"reshape_to": '''
def reshape_to(t, rows, cols):
    return torch.tensor(t.flatten().tolist()).reshape(rows, cols)
'''},
        loses=frozenset({"test_reshape_to_keeps_dtype"}),
        message_contains="keep the dtype",
    ),
    Mutant(
        name="reshape_assumes_matrix",
        defect="copies element by element with two loops over a 2-d input",
        cells={"reshape_to": '''
def reshape_to(t, rows, cols):
    out = torch.empty(rows, cols, dtype=t.dtype)
    n_cols = t.shape[1]
    for i in range(t.shape[0]):
        for j in range(n_cols):
            k = i * n_cols + j
            out[k // cols, k % cols] = t[i, j]
    return out
'''},
        loses=frozenset({"test_reshape_to_any_input_rank"}),
    ),
    Mutant(
        name="reshape_hard_coded",
        defect="returns the book's answer whatever the input",
        cells={"reshape_to": '''
def reshape_to(t, rows, cols):
    return torch.tensor([[1, 2], [3, 4], [5, 6]])
'''},
        loses=frozenset({"test_reshape_to_random_matrices", "test_reshape_to_non_contiguous",
                         "test_reshape_to_keeps_dtype", "test_reshape_to_any_input_rank"}),
    ),
    Mutant(
        name="transpose_as_reshape",
        defect="reshapes to the swapped shape instead of transposing",
        cells={"transpose": '''
def transpose(t):
    return t.reshape(t.shape[1], t.shape[0])
'''},
        loses=frozenset({"test_transpose_book_example", "test_transpose_random_matrices"}),
        message_contains="wrong values",
    ),
    Mutant(
        name="transpose_squeezes",
        defect="squeezes the input first, so a single row loses a dimension",
        cells={"transpose": '''
def transpose(t):
    return t.squeeze().T
'''},
        loses=frozenset({"test_transpose_single_row_or_column"}),
    ),
    Mutant(
        name="transpose_hard_coded",
        defect="returns the book's answer whatever the input",
        cells={"transpose": '''
def transpose(t):
    return torch.tensor([[1, 4], [2, 5], [3, 6]])
'''},
        loses=frozenset({"test_transpose_random_matrices", "test_transpose_single_row_or_column"}),
    ),
    Mutant(
        name="gram_wrong_order",
        defect="computes t.T @ t instead of t @ t.T",
        cells={"gram": '''
def gram(t):
    return t.T @ t
'''},
        loses=frozenset({"test_gram_book_example", "test_gram_random_matrices", "test_gram_single_row_or_column"}),
        message_contains="not t.T @ t",
    ),
    Mutant(
        name="gram_float_result",
        defect="converts the product to float32",
        cells={"gram": '''
def gram(t):
    return torch.matmul(t.float(), t.float().T)
'''},
        # the random matrices include float64 and int64 ones
        loses=frozenset({"test_gram_book_example", "test_gram_random_matrices", "test_gram_keeps_dtype",
                         "test_gram_single_row_or_column"}),
    ),
    Mutant(
        name="gram_squeezes",
        defect="squeezes the input, so a single row or column becomes a vector",
        cells={"gram": '''
def gram(t):
    s = t.squeeze()
    return s @ s.mT if s.dim() == 2 else s @ s
'''},
        loses=frozenset({"test_gram_single_row_or_column"}),
    ),
    Mutant(
        name="gram_hard_coded",
        defect="returns the book's answer whatever the input",
        cells={"gram": '''
def gram(t):
    return torch.tensor([[14, 32], [32, 77]])
'''},
        loses=frozenset({"test_gram_random_matrices", "test_gram_keeps_dtype", "test_gram_single_row_or_column"}),
    ),
    Mutant(
        name="to_float32_changes_input",
        defect="converts the input in place (t.data = ...) and returns it, changing the caller's tensor",
        cells={"to_float32": '''
def to_float32(t):
    t.data = t.data.to(torch.float32)
    return t
'''},
        # every check holds the call to leaving its argument alone
        loses=frozenset({"test_to_float32_book_example", "test_to_float32_random_integers",
                         "test_to_float32_from_float64", "test_to_float32_any_shape"}),
        message_contains="changed its",
    ),
    Mutant(
        name="gram_promotes_int32",
        defect="computes integer products in int64, so an int32 input gives an int64 result",
        cells={"gram": '''
def gram(t):
    if not t.is_floating_point():
        t = t.long()
    return t @ t.T
'''},
        loses=frozenset({"test_gram_keeps_dtype"}),
        message_contains="torch.int32",
    ),
    Mutant(
        name="make_tensors_int32",
        defect="asks for dtype=torch.int32 instead of keeping the default int64",
        cells={"make_tensors": '''
def make_tensors():
    kind = torch.int32
    return (torch.tensor(1, dtype=kind), torch.tensor([1, 2, 3], dtype=kind),
            torch.tensor([[1, 2], [3, 4]], dtype=kind),
            torch.tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], dtype=kind))
'''},
        loses=frozenset({"test_make_tensors_dtype"}),
        message_contains="do not pass another dtype",
    ),
    Mutant(
        name="transpose_to_float",
        defect="converts the matrix to float32 before transposing",
        cells={"transpose": '''
def transpose(t):
    return t.float().T
'''},
        loses=frozenset({"test_transpose_book_example", "test_transpose_random_matrices"}),
    ),
    Mutant(
        name="make_tensors_accumulates",
        defect="appends the tensors to a list made outside the function, so every call returns more of them",
        cells={"make_tensors": '''
built = []

def make_tensors():
    for values in (1, [1, 2, 3], [[1, 2], [3, 4]], [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]):
        built.append(torch.tensor(values))
    return tuple(built)
'''},
        loses=frozenset({"test_make_tensors_structure", "test_make_tensors_shapes", "test_make_tensors_values",
                         "test_make_tensors_dtype"}),
    ),
    Mutant(
        name="reshape_with_resize",
        defect="reshapes with t.resize_(rows, cols), which changes the caller's tensor in place",
        cells={"reshape_to": '''
def reshape_to(t, rows, cols):
    return t.resize_(rows, cols)
'''},
        loses=frozenset({"test_reshape_to_book_example", "test_reshape_to_random_matrices",
                         "test_reshape_to_non_contiguous", "test_reshape_to_keeps_dtype",
                         "test_reshape_to_any_input_rank"}),
        message_contains="changed its",
    ),
    Mutant(
        name="reshape_through_float64",
        defect="passes the elements through float64 and back, which rounds int64 values beyond 2**53",
        cells={"reshape_to": '''
def reshape_to(t, rows, cols):
    return t.double().reshape(rows, cols).to(t.dtype)
'''},
        loses=frozenset({"test_reshape_to_random_matrices"}),
    ),
    Mutant(
        name="transpose_in_place",
        defect="transposes with t.t_(), which turns the caller's matrix around in place",
        cells={"transpose": '''
def transpose(t):
    return t.t_()
'''},
        loses=frozenset({"test_transpose_book_example", "test_transpose_random_matrices",
                         "test_transpose_single_row_or_column"}),
        message_contains="changed its",
    ),
    Mutant(
        name="transpose_columns_from_flat_view",
        defect="reads column j as every cols-th element of t.view(-1), which fails for non-contiguous matrices "
               "and for matrices without columns",
        cells={"transpose": '''
def transpose(t):
    rows, cols = t.shape
    flat = t.view(-1)
    return torch.stack([flat[j::cols] for j in range(cols)])
'''},
        loses=frozenset({"test_transpose_random_matrices", "test_transpose_single_row_or_column"}),
    ),
    Mutant(
        name="transpose_through_float32",
        defect="transposes a float32 copy and converts back, which rounds int64 and float64 values",
        cells={"transpose": '''
def transpose(t):
    return t.float().T.to(t.dtype)
'''},
        loses=frozenset({"test_transpose_random_matrices"}),
    ),
    Mutant(
        name="gram_through_float32",
        defect="multiplies float32 copies and converts the product back, which rounds large int64 values and "
               "the last digits of float64",
        cells={"gram": '''
def gram(t):
    f = t.float()
    return (f @ f.T).to(t.dtype)
'''},
        loses=frozenset({"test_gram_random_matrices"}),
        message_contains="detour through float32",
    ),
    Mutant(
        name="gram_cached_by_shape",
        defect="keeps the products in a module-level dict keyed by the shape, so another matrix of the same "
               "shape gets a stale answer",
        cells={"gram": '''
products = {}

def gram(t):
    if t.shape not in products:
        products[t.shape] = t @ t.T
    return products[t.shape]
'''},
        loses=frozenset({"test_gram_random_matrices", "test_gram_keeps_dtype"}),
    ),
]
