"""Hidden checks for 02_tensors.ipynb: creating tensors, dtypes and basic operations (A.2).

Every function is tried on the book's example and on random tensors (shapes, dtypes and
values drawn from ``rng``), compared with a reference computed here.  Tensors cross to
the notebook process as compact copies; non-contiguous inputs (a transposed matrix, a
slice of columns) are made there with ``nb.view_in_notebook``.
Fixed edge cases run every time next to the random ones: every dtype the notebook
promises to keep (int32 included), the whole range of each dtype (int64 values beyond
2**24 and 2**53, float64 to its last digit), single rows and columns, empty and 0-d
tensors, and two inputs of the same shape in a row (so that a cached answer shows).
A check about one aspect (a dtype, a shape) awards its points only when the answer is
also recognisably the asked-for one, so that a placeholder earns nothing.

Every call goes through :func:`_arguments.call_twice`: the function is called twice with
the same arguments, each call must leave its tensor arguments as they were, and the two
answers must be the same (no state kept between calls).
"""

from __future__ import annotations

import pytest
import torch

from _arguments import InNotebook, call_twice
from autograder.grading.judge import StudentError, describe, expect_tensor, fail, known_mistakes, matching_variant, meta

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

PARAMETERS = {"make_tensors": (), "to_float32": ("t",), "reshape_to": ("t", "rows", "cols"), "transpose": ("t",),
              "gram": ("t",)}


def _call(nb, name: str, *args):
    """``name(*args)``, called twice: the arguments must be left alone and the answers agree."""
    return call_twice(nb, name, *args, names=PARAMETERS[name])


def _int(rng: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=rng))


def _pick(rng: torch.Generator, options):
    return options[_int(rng, 0, len(options) - 1)]


def _random_tensor(rng: torch.Generator, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Random values of ``dtype``; integer values are distinct-ish and small, floats are normal (float64
    ones use every digit of their 53-bit mantissa)."""
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=rng, dtype=torch.float64) * 10).to(dtype)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=rng).bool()
    return torch.randint(-1000, 1000, shape, generator=rng).to(dtype)


def _wide_integers(rng: torch.Generator, shape: tuple[int, ...], *, low_bits: int, high_bits: int) -> torch.Tensor:
    """int64 values with magnitudes between 2**low_bits and 2**high_bits, random signs: values that
    float32 (exact below 2**24) or float64 (exact below 2**53) cannot all hold."""
    magnitudes = torch.randint(2 ** low_bits, 2 ** high_bits, shape, generator=rng)
    signs = torch.randint(0, 2, shape, generator=rng) * 2 - 1
    return magnitudes * signs


def _transposed_view(nb, rng: torch.Generator, shape: tuple[int, int], dtype: torch.dtype,
                     base: torch.Tensor | None = None) -> InNotebook:
    """A non-contiguous ``shape`` matrix made in the notebook process: the transpose of a random matrix."""
    base = _random_tensor(rng, (shape[1], shape[0]), dtype) if base is None else base
    return InNotebook(nb.view_in_notebook(base, transpose=True), base.T)


def _trusted(t) -> torch.Tensor:
    """The tensor an argument stands for (a view made in the notebook stands for its trusted copy)."""
    return t.value if isinstance(t, InNotebook) else t


def _plain(value, what: str) -> torch.Tensor:
    """Fail unless ``value`` is exactly a torch.Tensor."""
    if not isinstance(value, torch.Tensor):
        fail(f"{what} should return a torch.Tensor, but returned {describe(value)}")
    if meta(value).type_name != "torch.Tensor":
        fail(f"{what} returned a {meta(value).type_name}; return a plain torch.Tensor")
    return value


def _same_elements(result: torch.Tensor, t: torch.Tensor, what: str) -> None:
    """Fail unless ``result`` holds the elements of ``t`` (in any order): the answer is recognisable."""
    got, want = result.reshape(-1), t.reshape(-1)
    if got.dtype != want.dtype:  # compared in the input's own dtype when they agree: int64 beyond 2**53 is exact
        got, want = got.double(), want.double()
    if got.numel() != want.numel() or not torch.equal(got.sort().values, want.sort().values):
        fail(f"{what} should hold the elements of t")


# ------------------------------------------------------------------ make_tensors


def _four_tensors(nb) -> tuple:
    result = _call(nb, "make_tensors")
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


@pytest.mark.grade(1, fn="make_tensors", returns=True)
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


@pytest.mark.grade(1, fn="to_float32", returns=True)
def test_to_float32_book_example(nb):
    """The book's integer vector [1, 2, 3] becomes a float32 vector."""
    t = torch.tensor([1, 2, 3])
    expect_tensor(_call(nb, "to_float32", t), t.to(torch.float32), what="to_float32(t)")


@pytest.mark.grade(1, fn="to_float32")
def test_to_float32_random_integers(nb, rng):
    """Random int64 vectors of random length, values beyond 2**24 included, become float32.

    Values beyond 2**24 are rounded as float32 rounds them (t.to(torch.float32)).
    """
    length = _int(rng, 1, 20)
    cases = [_random_tensor(rng, (length,), torch.int64), _random_tensor(rng, (length,), torch.int64),
             _random_tensor(rng, (_int(rng, 1, 20),), torch.int64),
             # beyond 2**24 float32 rounds; below 2**53 every way of converting rounds the same
             _wide_integers(rng, (_int(rng, 2, 12),), low_bits=25, high_bits=52)]
    for t in cases:
        expect_tensor(_call(nb, "to_float32", t), t.to(torch.float32), what="to_float32(t) for an int64 vector")


@pytest.mark.grade(1, fn="to_float32")
def test_to_float32_from_float64(nb, rng):
    """Vectors of other dtypes (float64 to its last digit, float16, int32, bool) become float32 too."""
    for dtype in (torch.float64, torch.float16, torch.int32, torch.bool):
        t = _random_tensor(rng, (_int(rng, 2, 12),), dtype)
        expect_tensor(_call(nb, "to_float32", t), t.to(torch.float32), what=f"to_float32(t) for a {dtype} vector",
                      hint="the values should be those of t as float32")


@pytest.mark.grade(1, fn="to_float32")
def test_to_float32_any_shape(nb, rng):
    """Scalars (0-d), 3-d tensors, empty tensors and non-contiguous ones (a transposed matrix) keep their shape."""
    cases = [
        _random_tensor(rng, (), torch.int64),
        _random_tensor(rng, (_int(rng, 2, 3), _int(rng, 2, 3), _int(rng, 2, 3)), torch.int64),
        torch.zeros(0, _int(rng, 1, 4), dtype=torch.int64),
        _transposed_view(nb, rng, (_int(rng, 2, 5), _int(rng, 2, 5)), torch.int64),
    ]
    for t in cases:
        trusted = _trusted(t)
        kind = ("an empty tensor" if trusted.numel() == 0 else "a non-contiguous (transposed) matrix"
                if isinstance(t, InNotebook) else f"a {trusted.dim()}-d tensor")
        expect_tensor(_call(nb, "to_float32", t), trusted.to(torch.float32), what=f"to_float32(t) for {kind}")


# ------------------------------------------------------------------ reshape_to


def _divisor_pair(rng: torch.Generator, n: int, avoid_rows: int | None = None) -> tuple[int, int]:
    options = [d for d in range(1, n + 1) if n % d == 0 and d != avoid_rows]
    rows = _pick(rng, options)
    return rows, n // rows


@pytest.mark.grade(1, fn="reshape_to", returns=True)
def test_reshape_to_book_example(nb):
    """The book's 2x3 matrix reshaped to 3x2."""
    t = torch.tensor(BOOK_MATRIX)
    expect_tensor(_call(nb, "reshape_to", t, 3, 2), t.reshape(3, 2), what="reshape_to(t, 3, 2)",
                  hint="the elements must keep their row-major order (a reshape is not a transpose)")


@pytest.mark.grade(1, fn="reshape_to")
def test_reshape_to_random_matrices(nb, rng):
    """Random matrices (int64 over its whole range, float32, single rows and columns) reshaped to a new shape.

    Two of them have the same shape; the new number of rows and columns is random.
    """
    r, c, n = _int(rng, 2, 6), _int(rng, 2, 6), _int(rng, 2, 8)
    cases = [_random_tensor(rng, (r, c), torch.int64), _random_tensor(rng, (r, c), torch.int64),  # same shape
             _random_tensor(rng, (_int(rng, 2, 6), _int(rng, 2, 6)), torch.float32),
             _wide_integers(rng, (_int(rng, 2, 6), _int(rng, 2, 6)), low_bits=54, high_bits=62),
             _random_tensor(rng, (1, n), torch.int64), _random_tensor(rng, (n, 1), torch.float32)]
    for t in cases:
        rows, cols = _divisor_pair(rng, t.numel())
        expect_tensor(_call(nb, "reshape_to", t, rows, cols), t.reshape(rows, cols),
                      what="reshape_to(t, rows, cols)",
                      hint="the elements must keep their row-major order (a reshape is not a transpose) and their "
                           "exact values (do not pass them through another dtype)")


@pytest.mark.grade(1, fn="reshape_to")
def test_reshape_to_non_contiguous(nb, rng):
    """Non-contiguous inputs (a transposed matrix, a slice of columns) are reshaped too."""
    r, c = _int(rng, 2, 6), _int(rng, 2, 6)
    base = _random_tensor(rng, (c, r), torch.int64)
    wide = _random_tensor(rng, (r, c + _int(rng, 1, 3)), torch.float32)
    views = [InNotebook(nb.view_in_notebook(base, transpose=True), base.T),
             InNotebook(nb.view_in_notebook(wide, columns=c), wide[:, :c])]
    cases = []
    for view in views:
        # fixed: flattening into one row or column never works as a view of these layouts
        cases += [(view, 1, r * c), (view, r * c, 1), (view, *_divisor_pair(rng, r * c, avoid_rows=r))]
    for view, rows, cols in cases:
        try:
            result = _call(nb, "reshape_to", view, rows, cols)
        except StudentError as error:
            if error.exc_type == "NotImplementedError":
                raise  # a stub, not a .view() on a non-contiguous input: reported as not implemented
            fail(f"reshape_to raised {error.exc_type} for a non-contiguous input (such as a transposed "
                 "matrix): .view() only works on contiguous tensors, .reshape() works on any tensor")
        expect_tensor(result, view.value.reshape(rows, cols), what="reshape_to(t, rows, cols) for a non-contiguous t",
                      hint="the elements must keep the row-major order of t as it is seen, not as it is stored")


@pytest.mark.grade(1, fn="reshape_to")
def test_reshape_to_keeps_dtype(nb, rng):
    """The result keeps the dtype of the input (int32, float64 and bool inputs)."""
    for dtype in (torch.int32, torch.float64, torch.bool):
        r, c = _int(rng, 2, 5), _int(rng, 2, 5)
        t = _random_tensor(rng, (r, c), dtype)
        rows, cols = _divisor_pair(rng, r * c)
        result = _plain(_call(nb, "reshape_to", t, rows, cols), "reshape_to(t, rows, cols)")
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
        expect_tensor(_call(nb, "reshape_to", t, rows, cols), t.reshape(rows, cols),
                      what=f"reshape_to(t, rows, cols) for a {t.dim()}-d t")


# ------------------------------------------------------------------ transpose


@pytest.mark.grade(1, fn="transpose", returns=True)
def test_transpose_book_example(nb):
    """The transpose of the book's 2x3 matrix."""
    t = torch.tensor(BOOK_MATRIX)
    expect_tensor(_call(nb, "transpose", t), t.T, what="transpose(t)",
                  hint="row i of t must become column i of the result (a reshape keeps the wrong order)")


@pytest.mark.grade(1, fn="transpose")
def test_transpose_random_matrices(nb, rng):
    """Random non-square matrices of several dtypes, values over their whole range, and non-contiguous ones.

    int64 over its whole range, int32, float32, float64 to its last digit, bool; two of the same
    shape; a transposed matrix and a slice of columns made in the notebook process.
    """
    r = _int(rng, 2, 6)
    c = _pick(rng, [n for n in range(2, 7) if n != r])
    cases = [_wide_integers(rng, (r, c), low_bits=54, high_bits=62), _random_tensor(rng, (r, c), torch.int64)]
    for dtype in (torch.int32, torch.float32, torch.float64, torch.bool):
        rows = _int(rng, 2, 6)
        cases.append(_random_tensor(rng, (rows, _pick(rng, [n for n in range(2, 7) if n != rows])), dtype))
    cases.append(_transposed_view(nb, rng, (r, c), torch.int64, base=_wide_integers(rng, (c, r), low_bits=54,
                                                                                      high_bits=62)))
    wide = _random_tensor(rng, (r, c + _int(rng, 1, 3)), torch.float64)
    cases.append(InNotebook(nb.view_in_notebook(wide, columns=c), wide[:, :c]))
    for t in cases:
        layout = " (a non-contiguous matrix)" if isinstance(t, InNotebook) else ""
        expect_tensor(_call(nb, "transpose", t), _trusted(t).T, what=f"transpose(t){layout}",
                      hint="row i of t must become column i of the result, each element exactly as it is "
                           "(keep the dtype all the way)")


@pytest.mark.grade(1, fn="transpose")
def test_transpose_single_row_or_column(nb, rng):
    """A 1xn row becomes an nx1 column and the other way round, also without rows or columns (the result stays 2-d)."""
    n = _int(rng, 2, 8)
    for shape, kind in (((1, n), "single-row"), ((n, 1), "single-column"), ((0, n), "empty (no rows)"),
                        ((n, 0), "empty (no columns)")):
        t = _random_tensor(rng, shape, torch.float32)
        expect_tensor(_call(nb, "transpose", t), t.T, what=f"transpose(t) for a {kind} matrix",
                      hint="keep both dimensions (do not squeeze)")


# ------------------------------------------------------------------ gram


@pytest.mark.grade(1, fn="gram", returns=True)
def test_gram_book_example(nb):
    """The book's 2x3 matrix times its transpose."""
    t = torch.tensor(BOOK_MATRIX)
    expect_tensor(_call(nb, "gram", t), t @ t.T, what="gram(t)", variants=known_mistakes("gram", t @ t.T, t),
                  hint="compute t @ t.T (not t.T @ t)")


FLOAT32_TOLERANCE = {"atol": 1e-4, "rtol": 1e-5}
FLOAT64_TOLERANCE = {"atol": 1e-9, "rtol": 1e-12}  # other summation orders differ by ~1e-13; float32 by ~1e-5


@pytest.mark.grade(1, fn="gram")
def test_gram_random_matrices(nb, rng):
    """Random non-square matrices of float32, float64 (full precision), int64 (exact) and a non-contiguous one.

    Two float32 ones have the same shape; the int64 products exceed 2**53; the non-contiguous
    one is a transposed matrix made in the notebook process.  The result is rows x rows.
    """
    r = _int(rng, 2, 6)
    c = _pick(rng, [n for n in range(2, 7) if n != r])
    other_rows = _int(rng, 2, 6)
    other_cols = _pick(rng, [n for n in range(2, 7) if n != other_rows])
    cases = [
        (_random_tensor(rng, (r, c), torch.float32), FLOAT32_TOLERANCE),
        (_random_tensor(rng, (r, c), torch.float32), FLOAT32_TOLERANCE),
        (_random_tensor(rng, (other_rows, other_cols), torch.float64), FLOAT64_TOLERANCE),
        # products of 28-bit values exceed 2**53, and six of them still fit in int64
        (_wide_integers(rng, (other_cols, other_rows), low_bits=27, high_bits=28), {}),
        (_transposed_view(nb, rng, (r, c), torch.float32), FLOAT32_TOLERANCE),
    ]
    for t, tolerance in cases:
        trusted = _trusted(t)
        want = trusted @ trusted.T
        layout = " (a non-contiguous matrix)" if isinstance(t, InNotebook) else ""
        expect_tensor(_call(nb, "gram", t), want, what=f"gram(t) for a random {trusted.dtype} matrix{layout}",
                      variants=known_mistakes("gram", want, trusted), **tolerance,
                      hint="compute t @ t.T (not t.T @ t) in the dtype of t: a detour through float32 rounds "
                           "large integers and the last digits of float64")


@pytest.mark.grade(1, fn="gram")
def test_gram_keeps_dtype(nb, rng):
    """The product has the dtype of the input (int32, int64, float32 and float64 inputs)."""
    shape = (_int(rng, 2, 5), _int(rng, 2, 5))  # one shape for all: a result cached by shape shows too
    for dtype in (torch.int32, torch.int64, torch.float32, torch.float64):
        t = _random_tensor(rng, shape, dtype)
        if not dtype.is_floating_point:
            t = t % 50  # small values: an int32 product cannot overflow
        result = _plain(_call(nb, "gram", t), "gram(t)")
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
    """A 1xn row gives a 1x1 matrix, an nx1 column an nxn one; without rows 0x0, without columns nxn zeros."""
    n = _int(rng, 2, 6)
    for shape, kind in (((1, n), "single-row"), ((n, 1), "single-column"), ((0, n), "empty (no rows)"),
                        ((n, 0), "empty (no columns)")):
        t = _random_tensor(rng, shape, torch.int64)
        expect_tensor(_call(nb, "gram", t), t @ t.T, what=f"gram(t) for a {kind} matrix",
                      variants=known_mistakes("gram", t @ t.T, t),
                      hint="keep t 2-d (do not squeeze) and compute t @ t.T")
