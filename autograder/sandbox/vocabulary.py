"""The names a student may be shown about their own code, each from a fixed set the grader knows.

A notebook process reports the type of what a function returned or raised, and where it raised,
as text of its own making.  During a hidden check that text can be computed from the hidden input
(an exception class named after a hidden value, a message spelling it out), so no text from the
notebook is ever shown as it came.  A name is shown only if it belongs to a set fixed before the
submission arrived: Python's and torch's own classes (looked up among modules already imported here,
never by importing anything), the course's function and class names, or a cell and line that exist
in the student's own notebook.  Anything else is shown as a fixed phrase.  So what a student learns
from a message is at most which member of a small, known set was picked.
"""

from __future__ import annotations

import builtins
import re
import sys
from functools import lru_cache

OWN_EXCEPTION = "an exception of a class defined in the notebook"
OWN_CLASS = "an object of a class defined in the notebook"
# Packages whose classes may be named; only modules already imported by the grader are looked at.
_KNOWN_PACKAGES = ("builtins", "torch", "numpy", "collections", "fractions", "decimal")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_WHERE = re.compile(r"cell (\d{1,6}), line (\d{1,7}), in ([A-Za-z_][A-Za-z0-9_]{0,63}|<module>|<lambda>)")


@lru_cache(maxsize=1)
def _builtin_exceptions() -> frozenset[str]:
    return frozenset(name for name, value in vars(builtins).items()
                     if isinstance(value, type) and issubclass(value, BaseException))


@lru_cache(maxsize=1)
def course_names() -> frozenset[str]:
    """Every function and class name of every course outline (trusted data shipped with the grader)."""
    from autograder import course

    try:
        outlines = course.ASSIGNMENTS.values()
    except course.OutlineError:  # a broken outline is reported elsewhere; here it only means fewer names
        return frozenset()
    return frozenset(name for spec in outlines for notebook in spec.notebooks for name in notebook.functions)


def _known_class(dotted: str) -> type | None:
    """The class ``dotted`` names, if it is one of a known package's and its module is already imported."""
    if not isinstance(dotted, str) or len(dotted) > 200:
        return None
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        module_name, attribute = "builtins", dotted
    if module_name.split(".")[0] not in _KNOWN_PACKAGES or not _IDENTIFIER.fullmatch(attribute):
        return None
    module = sys.modules.get(module_name)
    value = getattr(module, attribute, None) if module is not None else None
    return value if isinstance(value, type) else None


def exception_name(raw: str) -> str:
    """How an exception's type is shown: a builtin or torch exception's name, else a fixed phrase."""
    if raw in _builtin_exceptions():
        return raw
    known = _known_class(raw)
    if known is not None and issubclass(known, BaseException) and known.__module__.split(".")[0] == "torch":
        return f"{known.__module__}.{known.__qualname__}"
    return OWN_EXCEPTION


def type_name(raw: str) -> str:
    """How a value's type is shown: a known class's full name, a course name, else a fixed phrase."""
    if not isinstance(raw, str):
        return OWN_CLASS
    short = raw.rpartition(".")[2]
    if raw.startswith("__main__.") and short in course_names():
        return short
    if raw in course_names():
        return raw
    known = _known_class(raw)
    if known is None:
        return OWN_CLASS
    return known.__name__ if known.__module__ == "builtins" else f"{known.__module__}.{known.__qualname__}"


def location(where: tuple[str, ...] | list[str], cells: tuple[str, ...] | list[str]) -> str:
    """``"cell 5, line 3, in gram"`` for the innermost notebook frame, if that cell and line exist in the
    student's notebook and the function name is written in that cell; else ``""``."""
    if not where:
        return ""
    match = _WHERE.fullmatch(str(where[-1])) if isinstance(where[-1], str) else None
    if match is None:
        return ""
    cell, line, function = int(match.group(1)), int(match.group(2)), match.group(3)
    if not 1 <= cell <= len(cells):
        return ""
    source = cells[cell - 1]
    if not 1 <= line <= source.count("\n") + 1:
        return ""
    if function not in ("<module>", "<lambda>") and not re.search(rf"\b{re.escape(function)}\b", source):
        return ""
    return f"cell {cell}, line {line}, in {function}"


# Errors torch raises for the usual mistakes, each told in a fixed sentence of the grader's own (the
# original texts quote shapes and values, which during a hidden check come from the hidden input).
_KNOWN_ERRORS = (
    ("modified by an inplace operation", "a tensor that autograd needs was changed by an inplace operation "
                                         "before backward() (for example optimizer.step() before loss.backward())"),
    ("shapes cannot be multiplied", "the shapes of a matrix product do not fit (mat1 and mat2 shapes cannot be "
                                    "multiplied)"),
    ("must match the size of tensor", "two tensors of sizes that do not broadcast were combined"),
    ("Expected all tensors to be on the same device", "tensors on different devices were combined"),
    ("does not require grad and does not have a grad_fn", "backward() was called on a tensor that does not "
                                                          "require grad"),
    ("backward through the graph a second time", "backward() went through the same graph a second time"),
    ("Can't call numpy() on Tensor that requires grad", "numpy() was called on a tensor that requires grad "
                                                        "(use .detach() first)"),
    ("a leaf Variable that requires grad is being used in an in-place operation",
     "a leaf tensor that requires grad was changed in place"),
    ("expected scalar type", "tensors of different dtypes were combined"),
    ("must have the same dtype", "tensors of different dtypes were combined"),
    ("only integer tensors of a single element can be converted to an index", "a tensor was used as an index"),
    ("out of bounds", "an index was out of range"),
    ("out of range", "an index was out of range"),
)


def known_error(raw_message: str) -> str:
    """A fixed sentence for a usual torch error, recognised in ``raw_message``; ``""`` for any other text."""
    if not isinstance(raw_message, str):
        return ""
    head = raw_message[:4000]
    for fragment, sentence in _KNOWN_ERRORS:
        if fragment in head:
            return sentence
    return ""


def unusable(value: object) -> str:
    """What a returned value is, in words from a fixed set, to name why a check could not use it.

    It runs on a student's value in trusted code, so nothing it does to the value may raise out of it."""
    try:
        return _unusable(value)
    except Exception:  # noqa: BLE001 - a value too strange to describe is described as such
        return "a value this check cannot describe"


def _unusable(value: object) -> str:
    import math

    import torch

    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int) and not -(1 << 63) <= value < (1 << 63):
        return "an integer too large for int64"
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            return "a complex tensor"
        if value.dim() == 0 and value.is_floating_point() and not math.isfinite(float(value)):
            return "a tensor holding nan or inf"
        return f"a tensor of dtype {value.dtype} and shape {tuple(value.shape)}"
    ref_type = getattr(value, "type_name", None)
    if isinstance(ref_type, str) and hasattr(value, "token"):
        shown = type_name(ref_type)
        return shown if shown == OWN_CLASS else f"a {shown}"
    shown = type_name(f"builtins.{type(value).__name__}")
    return shown if shown == OWN_CLASS else f"a {shown}"
