"""Hidden checks for 02_tensors.ipynb: creating tensors, dtypes and basic operations (A.2).

Every function is tried on the book's example and on random tensors (shapes, dtypes and
values drawn from ``rng``), compared with a reference computed here.  Tensors cross to
the notebook process as compact copies; non-contiguous inputs (a transposed matrix, a
slice of columns) are made there with ``nb.view_in_notebook``.
Fixed edge cases run every time next to the random ones: every dtype the notebook
promises to keep (int32 included), single rows and columns, empty and 0-d tensors.
A check about one aspect (a dtype, a shape) awards its points only when the answer is
also recognisably the asked-for one, so that a placeholder earns nothing.
"""

from __future__ import annotations

import pytest
import torch

from autograder.grading.judge import StudentError, describe, expect_tensor, fail, matching_variant, meta
from autograder.mistakes import known_mistakes

NOTEBOOK = "02_tensors"

BOOK_MATRIX = [[1, 2, 3], [4, 5, 6]]

RANKS = (
    (),
    (3,),
    (2, 2),
    (2, 2, 2),
)
SOURCES = ("a single Python number (no list)", "a flat list", "a list of lists", "a list of lists of lists")
VALUES = (
    [1],
    [1, 2, 3],
    [1, 2, 3, 4],
    [1, 2, 3, 4, 5, 6, 7, 8],
)


def _int(rng: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=rng))


def _pick(rng: torch.Generator, options):
    return options[_int(rng, 0, len(options) - 1)]


def _random_tensor(rng: torch.Generator, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Random values of ``dtype``; integer values are distinct-ish and small, floats are normal."""
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=rng, dtype=torch.float64) * 10).to(dtype)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=rng).bool()
    return torch.randint(-1000, 1000, shape, generator=rng).to(dtype)


def _plain(value, what: str) -> torch.Tensor:
    """Fail unless ``value`` is exactly a torch.Tensor."""
    if not isinstance(value, torch.Tensor):
        fail(f"{what} should return a torch.Tensor, but returned {describe(value)}")
    if meta(value).type_name != "torch.Tensor":
        fail(f"{what} returned a {meta(value).type_name}; return a plain torch.Tensor")
    return value


def _same_elements(result: torch.Tensor, t: torch.Tensor, what: str) -> None:
    """Fail unless ``result`` holds the elements of ``t`` (in any order): the answer is recognisable."""
    if result.numel() != t.numel() or not torch.equal(result.reshape(-1).double().sort().values,
                                                      t.reshape(-1).double().sort().values):
        fail(f"{what} should hold the elements of t")


# ------------------------------------------------------------------ make_tensors


def _four_tensors(nb) -> tuple:
    result = nb.call("make_tensors")
    if not isinstance(result, (tuple, list)):
        fail(f"make_tensors should return a tuple of four tensors, but returned {describe(result)}")
    if len(result) != 4:
        fail(f"make_tensors should return four tensors (ranks 0, 1, 2 and 3), but returned {len(result)} values")
    for index, item in enumerate(result):
        if not isinstance(item, torch.Tensor):
            fail(f"item {index} returned by make_tensors is {describe(item)}, not a torch.Tensor")
    return tuple(result)


def _holds_the_book_numbers(items: tuple) -> None:
    """Fail unless the four tensors hold the book's numbers (in any order, shape or dtype).

    Aspect checks (structure, dtype) award points only to an answer built from the
    right numbers; which tensor comes where is the business of the shape and value checks.
    """
    found = sorted(sorted(float(v) for v in item.reshape(-1).tolist()) for item in items)
    wanted = sorted(sorted(float(v) for v in values) for values in VALUES)
    if found != wanted:
        fail("make_tensors should build the four tensors from the numbers given in the notebook")


@pytest.mark.grade(1, fn="make_tensors")
def test_make_tensors_structure(nb):
    """make_tensors returns a tuple of four plain torch.Tensor objects holding the book's numbers."""
    items = _four_tensors(nb)
    for index, item in enumerate(items):
        if meta(item).type_name != "torch.Tensor":
            fail(f"item {index} returned by make_tensors is a {meta(item).type_name}, not a plain torch.Tensor")
    _holds_the_book_numbers(items)


@pytest.mark.grade(1, fn="make_tensors")
def test_make_tensors_shapes(nb):
    """The four tensors have ranks 0, 1, 2 and 3 with the shapes of the book's examples, in that order."""
    for index, (item, shape) in enumerate(zip(_four_tensors(nb), RANKS)):
        if tuple(meta(item).shape) != shape:
            fail(f"item {index} returned by make_tensors has shape {tuple(meta(item).shape)}: item {index} "
                 f"should be the rank-{index} tensor, built from {SOURCES[index]}")


@pytest.mark.grade(1, fn="make_tensors")
def test_make_tensors_values(nb):
    """The four tensors hold the book's numbers, in row-major order."""
    for index, (item, values) in enumerate(zip(_four_tensors(nb), VALUES)):
        if item.reshape(-1).tolist() != values:
            fail(f"item {index} returned by make_tensors holds the wrong numbers (or the tensors are out of order)")


@pytest.mark.grade(1, fn="make_tensors")
def test_make_tensors_dtype(nb):
    """All four tensors are torch.int64, the dtype PyTorch picks for Python integers."""
    items = _four_tensors(nb)
    for index, item in enumerate(items):
        dtype = meta(item).dtype
        if dtype == torch.int64:
            continue
        if dtype.is_floating_point or dtype.is_complex:
            fail(f"item {index} returned by make_tensors has dtype {dtype}; build it from "
                 "Python integers (1, not 1.0) so that it is torch.int64")
        fail(f"item {index} returned by make_tensors has dtype {dtype}; keep the dtype torch.tensor picks "
             "for Python integers, torch.int64 (do not pass another dtype or convert the tensor)")
    _holds_the_book_numbers(items)


# ------------------------------------------------------------------ to_float32


@pytest.mark.grade(1, fn="to_float32")
def test_to_float32_book_example(nb):
    """The book's integer vector [1, 2, 3] becomes a float32 vector."""
    t = torch.tensor([1, 2, 3])
    expect_tensor(nb.call("to_float32", t), t.to(torch.float32), what="to_float32(t)")


@pytest.mark.grade(1, fn="to_float32")
def test_to_float32_random_integers(nb, rng):
    """Random int64 vectors of random length become float32 with the same values; the input is untouched."""
    for _ in range(3):
        t = _random_tensor(rng, (_int(rng, 1, 20),), torch.int64)
        result, (after,), _ = nb.call_inspecting("to_float32", t)
        expect_tensor(result, t.to(torch.float32), what="to_float32(t) for an int64 vector")
        if not isinstance(after, torch.Tensor) or meta(after).dtype != torch.int64 or not torch.equal(after, t):
            fail("to_float32 changed its input tensor: return a new float32 tensor (t.to(torch.float32)) "
                 "and leave t as it was")


@pytest.mark.grade(1, fn="to_float32")
def test_to_float32_from_float64(nb, rng):
    """Vectors of other dtypes (float64, float16, int32, bool) become float32 too."""
    for dtype in (torch.float64, torch.float16, torch.int32, torch.bool):
        t = _random_tensor(rng, (_int(rng, 2, 12),), dtype)
        expect_tensor(nb.call("to_float32", t), t.to(torch.float32), what=f"to_float32(t) for a {dtype} vector",
                      hint="the values should be those of t as float32")


@pytest.mark.grade(1, fn="to_float32")
def test_to_float32_any_shape(nb, rng):
    """Scalars (0-d), 3-d tensors and empty tensors keep their shape."""
    cases = [
        _random_tensor(rng, (), torch.int64),
        _random_tensor(rng, (_int(rng, 2, 3), _int(rng, 2, 3), _int(rng, 2, 3)), torch.int64),
        torch.zeros(0, _int(rng, 1, 4), dtype=torch.int64),
    ]
    for t in cases:
        kind = "an empty tensor" if t.numel() == 0 else f"a {t.dim()}-d tensor"
        expect_tensor(nb.call("to_float32", t), t.to(torch.float32), what=f"to_float32(t) for {kind}")


# ------------------------------------------------------------------ reshape_to


def _divisor_pair(rng: torch.Generator, n: int, avoid_rows: int | None = None) -> tuple[int, int]:
    options = [d for d in range(1, n + 1) if n % d == 0 and d != avoid_rows]
    rows = _pick(rng, options)
    return rows, n // rows


@pytest.mark.grade(1, fn="reshape_to")
def test_reshape_to_book_example(nb):
    """The book's 2x3 matrix reshaped to 3x2."""
    t = torch.tensor(BOOK_MATRIX)
    expect_tensor(nb.call("reshape_to", t, 3, 2), t.reshape(3, 2), what="reshape_to(t, 3, 2)",
                  hint="the elements must keep their row-major order (a reshape is not a transpose)")


@pytest.mark.grade(1, fn="reshape_to")
def test_reshape_to_random_matrices(nb, rng):
    """Random matrices reshaped to a random new number of rows and columns."""
    for _ in range(3):
        r, c = _int(rng, 2, 6), _int(rng, 2, 6)
        t = _random_tensor(rng, (r, c), _pick(rng, [torch.int64, torch.float32]))
        rows, cols = _divisor_pair(rng, r * c)
        expect_tensor(nb.call("reshape_to", t, rows, cols), t.reshape(rows, cols), what="reshape_to(t, rows, cols)",
                      hint="the elements must keep their row-major order (a reshape is not a transpose)")


@pytest.mark.grade(1, fn="reshape_to")
def test_reshape_to_non_contiguous(nb, rng):
    """Non-contiguous inputs (a transposed matrix, a slice of columns) are reshaped too."""
    r, c = _int(rng, 2, 6), _int(rng, 2, 6)
    base = _random_tensor(rng, (c, r), torch.int64)
    wide = _random_tensor(rng, (r, c + _int(rng, 1, 3)), torch.float32)
    views = [(base.T, nb.view_in_notebook(base, transpose=True)),
             (wide[:, :c], nb.view_in_notebook(wide, columns=c))]
    cases = []
    for t, ref in views:
        # fixed: flattening into one row or column never works as a view of these layouts
        cases += [(t, ref, 1, r * c), (t, ref, r * c, 1), (t, ref, *_divisor_pair(rng, r * c, avoid_rows=r))]
    for t, ref, rows, cols in cases:
        try:
            result = nb.call("reshape_to", ref, rows, cols)
        except StudentError as error:
            if error.exc_type == "NotImplementedError":
                raise  # a stub, not a .view() on a non-contiguous input: reported as not implemented
            fail(f"reshape_to raised {error.exc_type} for a non-contiguous input (such as a transposed "
                 "matrix): .view() only works on contiguous tensors, .reshape() works on any tensor")
        expect_tensor(result, t.reshape(rows, cols), what="reshape_to(t, rows, cols) for a non-contiguous t",
                      hint="the elements must keep the row-major order of t as it is seen, not as it is stored")


@pytest.mark.grade(1, fn="reshape_to")
def test_reshape_to_keeps_dtype(nb, rng):
    """The result keeps the dtype of the input (int32, float64 and bool inputs)."""
    for dtype in (torch.int32, torch.float64, torch.bool):
        r, c = _int(rng, 2, 5), _int(rng, 2, 5)
        t = _random_tensor(rng, (r, c), dtype)
        rows, cols = _divisor_pair(rng, r * c)
        result = _plain(nb.call("reshape_to", t, rows, cols), "reshape_to(t, rows, cols)")
        if meta(result).dtype != dtype:
            fail(f"reshape_to returned dtype {meta(result).dtype} for a {dtype} input; it should keep the "
                 "dtype (reshape the tensor itself instead of rebuilding it from a list)")
        _same_elements(result, t, "reshape_to(t, rows, cols)")


@pytest.mark.grade(1, fn="reshape_to")
def test_reshape_to_any_input_rank(nb, rng):
    """A 1-d vector and a 3-d tensor are reshaped into a matrix as well."""
    a, b, c = _int(rng, 2, 3), _int(rng, 2, 3), _int(rng, 2, 4)
    cases = [_random_tensor(rng, (a * b * c,), torch.int64), _random_tensor(rng, (a, b, c), torch.int64)]
    for t in cases:
        rows, cols = _divisor_pair(rng, t.numel())
        expect_tensor(nb.call("reshape_to", t, rows, cols), t.reshape(rows, cols),
                      what=f"reshape_to(t, rows, cols) for a {t.dim()}-d t")


# ------------------------------------------------------------------ transpose


@pytest.mark.grade(1, fn="transpose")
def test_transpose_book_example(nb):
    """The transpose of the book's 2x3 matrix."""
    t = torch.tensor(BOOK_MATRIX)
    expect_tensor(nb.call("transpose", t), t.T, what="transpose(t)",
                  hint="row i of t must become column i of the result (a reshape keeps the wrong order)")


@pytest.mark.grade(1, fn="transpose")
def test_transpose_random_matrices(nb, rng):
    """Random non-square matrices of several dtypes."""
    for dtype in (torch.int64, torch.int32, torch.float32, torch.float64, torch.bool):
        r = _int(rng, 2, 6)
        c = _pick(rng, [n for n in range(2, 7) if n != r])
        t = _random_tensor(rng, (r, c), dtype)
        expect_tensor(nb.call("transpose", t), t.T, what="transpose(t)",
                      hint="row i of t must become column i of the result")


@pytest.mark.grade(1, fn="transpose")
def test_transpose_single_row_or_column(nb, rng):
    """A 1xn row becomes an nx1 column and the other way round (the result stays 2-d)."""
    n = _int(rng, 2, 8)
    for shape, kind in (((1, n), "single-row"), ((n, 1), "single-column")):
        t = _random_tensor(rng, shape, torch.float32)
        expect_tensor(nb.call("transpose", t), t.T, what=f"transpose(t) for a {kind} matrix",
                      hint="keep both dimensions (do not squeeze)")


# ------------------------------------------------------------------ gram


@pytest.mark.grade(1, fn="gram")
def test_gram_book_example(nb):
    """The book's 2x3 matrix times its transpose."""
    t = torch.tensor(BOOK_MATRIX)
    expect_tensor(nb.call("gram", t), t @ t.T, what="gram(t)", variants=known_mistakes("gram", t @ t.T, t),
                  hint="compute t @ t.T (not t.T @ t)")


@pytest.mark.grade(1, fn="gram")
def test_gram_random_matrices(nb, rng):
    """Random non-square float32 matrices: the result is rows x rows."""
    for _ in range(2):
        r = _int(rng, 2, 6)
        c = _pick(rng, [n for n in range(2, 7) if n != r])
        t = _random_tensor(rng, (r, c), torch.float32)
        expect_tensor(nb.call("gram", t), t @ t.T, what="gram(t) for a random rows x cols matrix", atol=1e-4, rtol=1e-5,
                      variants=known_mistakes("gram", t @ t.T, t), hint="compute t @ t.T (not t.T @ t)")


@pytest.mark.grade(1, fn="gram")
def test_gram_keeps_dtype(nb, rng):
    """The product has the dtype of the input (int32, int64, float32 and float64 inputs)."""
    for dtype in (torch.int32, torch.int64, torch.float32, torch.float64):
        t = _random_tensor(rng, (_int(rng, 2, 5), _int(rng, 2, 5)), dtype)
        if not dtype.is_floating_point:
            t = t % 50  # small values: an int32 product cannot overflow
        result = _plain(nb.call("gram", t), "gram(t)")
        if meta(result).dtype != dtype:
            fail(f"gram returned dtype {meta(result).dtype} for a {dtype} input; keep the dtype of t "
                 "(multiply t itself, without converting it)")
        # the dtype is worth its point only on a real product: t @ t.T, or the check of its order elsewhere
        want = t.double() @ t.double().T
        if matching_variant(result, {"": want, **known_mistakes("gram", want, t.double())}, atol=1e-2,
                            rtol=1e-3) is None:
            fail("gram(t) should return the matrix product of t and its transpose")


@pytest.mark.grade(1, fn="gram")
def test_gram_single_row_or_column(nb, rng):
    """A 1xn row gives a 1x1 matrix and an nx1 column gives an nxn matrix."""
    n = _int(rng, 2, 6)
    for shape, kind in (((1, n), "single-row"), ((n, 1), "single-column")):
        t = _random_tensor(rng, shape, torch.int64)
        expect_tensor(nb.call("gram", t), t @ t.T, what=f"gram(t) for a {kind} matrix",
                      variants=known_mistakes("gram", t @ t.T, t),
                      hint="keep t 2-d (do not squeeze) and compute t @ t.T")
