"""Every call a check makes is held to its function's contract before the suite sees the result.

- the outline's ``returns`` declarations parse, and a bad one is refused with where it came from;
- an unusable value (NaN for an int, a complex or meta tensor for a tensor, a tensor for a loader, a
  tuple of the wrong length) fails the check at the boundary, named, in every check that calls;
- the exact type (a tuple, not a list; a Python int, not ``numpy.int64``) is judged by the one check per
  function marked ``returns=True``: a wrong type costs that check only;
- a tensor argument changed in place fails the check, whichever check calls (read back from the
  notebook process after the call).
"""

from __future__ import annotations

import json

import pytest
import torch

from autograder.course import APPENDIX_A, OutlineError, load_outline
from autograder.course.returns import Kind, ReturnsSyntaxError, parse_returns
from autograder.grading.contracts import inexact_problem, unusable_problem
from autograder.grading.results import Status
from autograder.sandbox.codec import ForeignFloat, ForeignInt
from tests.conftest import SUITES, write_variant


# ---------------------------------------------------------------- declarations

@pytest.mark.parametrize("text", ["int", "tuple[tensor, tensor]", "list[float]", "dict | none",
                                  "tuple[object, list[tuple[int, str]]]"])
def test_declarations_read_back_as_written(text):
    assert str(parse_returns(text)) == text


@pytest.mark.parametrize("text", ["", "tuple", "list[int, int]", "integer", "tuple[int", "int |", "int]", "either"])
def test_malformed_declarations_are_refused_with_the_grammar(text):
    with pytest.raises(ReturnsSyntaxError, match="tuple|list|unknown|ends|unexpected|declaration|alternatives"):
        parse_returns(text)


def test_an_outline_names_the_field_of_a_bad_declaration(tmp_path):
    outline = json.loads((SUITES.parents[1] / "course" / "appendix_a.json").read_text())
    outline["notebooks"][1]["returns"]["gram"] = "tensr"
    path = tmp_path / "course.json"
    path.write_text(json.dumps(outline))
    with pytest.raises(OutlineError, match=r"notebooks\[1\] \(02_tensors\): returns\['gram'\].*unknown type 'tensr'"):
        load_outline(path)
    outline["notebooks"][1]["returns"] = {"not_a_function": "int"}
    path.write_text(json.dumps(outline))
    with pytest.raises(OutlineError, match="not_a_function.*not in its functions"):
        load_outline(path)


def test_every_declared_function_has_exactly_one_check_judging_its_return_type():
    """The check marked returns=True is where a wrong type costs its point; without one, nothing judges it."""
    source = "\n".join(path.read_text() for path in sorted(SUITES.glob("test_*.py")))
    for notebook in APPENDIX_A.notebooks:
        for function, declared in notebook.returns.items():
            if declared.kind in (Kind.ANY, Kind.NONE, Kind.OBJECT):
                continue
            marked = source.count(f'fn="{function}", returns=True)')
            assert marked == 1, f"{notebook.stem}: {function} has {marked} checks marked returns=True"


# ---------------------------------------------------------------- usable, then exact

@pytest.mark.parametrize(("value", "declared", "named"), [
    (float("nan"), "int", "nan"),
    (float("inf"), "int", "infinite"),
    (torch.ones(2, dtype=torch.complex64), "tensor", "complex"),
    (torch.empty(2, device="meta"), "tensor", "meta device"),
    (torch.ones(3), "int", "shape (3,)"),
    (torch.ones(3), "object", "object"),
    ((torch.ones(1),), "tuple[tensor, tensor]", "1 items"),
    ([1, float("nan")], "list[int]", "item 1 is nan"),
    ("3", "int", "a str"),
    (None, "tensor", "None"),
])
def test_unusable_values_are_named(value, declared, named):
    problem = unusable_problem(value, parse_returns(declared))
    assert problem is not None and named in problem


@pytest.mark.parametrize(("value", "declared"), [
    (3, "int"), (3.0, "int"), (True, "bool"), (torch.tensor(2), "int"), (torch.ones(2), "tensor"),
    ([torch.ones(1), torch.ones(1)], "tuple[tensor, tensor]"), ({"a": 1}, "dict | none"), (None, "dict | none"),
    (ForeignInt(3, "numpy.int64"), "int"), (torch.empty(2, device="meta"), "tensor"),
    ([0.5, float("nan")], "list[float]"),  # a diverged training loss is a float; the checks judge it
])
def test_usable_values_pass_to_the_suite(value, declared):
    devices = frozenset({"cpu", "meta"}) if isinstance(value, torch.Tensor) and value.is_meta else frozenset({"cpu"})
    assert unusable_problem(value, parse_returns(declared), devices=devices) is None


@pytest.mark.parametrize(("value", "declared", "named"), [
    ([torch.ones(1), torch.ones(1)], "tuple[tensor, tensor]", "a list"),
    (ForeignInt(2213, "numpy.int64"), "int", "numpy.int64"),
    (ForeignFloat(0.5, "numpy.float32"), "float", "numpy.float32"),
    (2213.0, "int", "a float"),
    (1, "bool", "an int"),
    (torch.tensor(0.5), "float", "torch.Tensor"),
    ("cpu", "device", "a str"),
    ((1.0, 2.0), "list[float]", "a tuple"),
])
def test_inexact_types_are_named(value, declared, named):
    problem = inexact_problem(value, parse_returns(declared))
    assert problem is not None and named in problem


def test_a_python_int_is_a_float_but_a_bool_is_not():
    assert inexact_problem(1, parse_returns("float")) is None
    assert inexact_problem(True, parse_returns("float")) is not None


# ---------------------------------------------------------------- through the sandbox

def _grade(grade, tmp_path, stem, cells):
    write_variant(tmp_path, stem, cells)
    return grade(tmp_path, stem).notebook(stem)


def _failed(result):
    return {check.name: check.message for check in result.checks if check.status is Status.FAILED}


def test_a_numpy_scalar_costs_only_the_return_type_check(grade, tmp_path):
    cells = {"count_parameters": '''
import numpy as np
def count_parameters(model):
    return np.int64(sum(p.numel() for p in model.parameters() if p.requires_grad))
'''}
    result = _grade(grade, tmp_path, "04_mlp", cells)
    failed = _failed(result)
    assert set(failed) == {"test_count_parameters_returns_int"}, failed
    assert "numpy.int64" in failed["test_count_parameters_returns_int"]
    assert not [check for check in result.checks if check.status is Status.GRADER_ERROR]


def test_a_list_for_a_tuple_costs_only_the_return_type_check(grade, tmp_path):
    cells = {"make_tensors": '''
def make_tensors():
    return [torch.tensor(1), torch.tensor([1, 2, 3]), torch.tensor([[1, 2], [3, 4]]),
            torch.tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])]
'''}
    failed = _failed(_grade(grade, tmp_path, "02_tensors", cells))
    assert set(failed) == {"test_make_tensors_structure"}, failed
    assert "a list" in failed["test_make_tensors_structure"]


def test_nan_for_an_int_fails_every_check_of_the_function_and_keeps_the_maximum(grade, tmp_path):
    cells = {"count_parameters": '''
def count_parameters(model):
    return float("nan")
'''}
    result = _grade(grade, tmp_path, "04_mlp", cells)
    counted = [check for check in result.checks if check.function == "count_parameters"]
    assert counted and all(check.status is Status.FAILED for check in counted)
    assert all("nan" in check.message for check in counted)
    assert result.max_points == APPENDIX_A.notebook("04_mlp").points


@pytest.mark.parametrize(("stem", "cells", "function"), [
    ("03_autograd", {"logistic_forward": '''
def logistic_forward(x1, w1, b):
    z = x1
    z *= w1
    z += b
    return torch.sigmoid(z)
'''}, "logistic_forward"),
    ("02_tensors", {"gram": '''
def gram(t):
    result = t @ t.T
    t.zero_()
    return result
'''}, "gram"),
])
def test_an_argument_changed_in_place_fails_every_check_that_calls_the_function(stem, cells, function, grade, tmp_path):
    result = _grade(grade, tmp_path, stem, cells)
    own = [check for check in result.checks if check.function == function]
    assert own and all(check.status is Status.FAILED for check in own), [(c.name, c.status) for c in own]
    assert any("changed its 1st argument" in check.message for check in own)
