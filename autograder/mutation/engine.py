"""cosmic-ray's mutation operators, applied to the source text of one notebook cell.

cosmic-ray exposes its operators as a library: :func:`cosmic_ray.plugins.operator_names` and
:func:`~cosmic_ray.plugins.get_operator` name and load them, :func:`cosmic_ray.ast.get_ast`
parses source text with parso, each operator's ``mutation_positions(node)`` says where it
applies, and :func:`cosmic_ray.mutating.mutate_code` applies its n-th occurrence (counted over
the tree in the same order, as cosmic-ray's own ``init`` does).  Nothing here mutates a file,
needs a package layout or runs cosmic-ray's test runner: a cell's text goes in, mutated texts
come out.

Left out: operators that take arguments (cosmic-ray's ``VariableReplacer`` and
``VariableInserter`` need variable names and insert random numbers, so their mutants would
change from run to run), and mutants that are no longer valid Python (cosmic-ray calls them
incompetent: they say nothing about the suites).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

INSTALL_HINT = ("autograder mutate needs cosmic-ray, which is not installed here: run `pip install cosmic-ray` "
                "(it is in this package's dev extra: `pip install -e '.[dev]'`)")


class EngineMissing(RuntimeError):
    """cosmic-ray is not installed; the message says how to install it."""


@dataclass(frozen=True)
class SourceMutation:
    """One application of one operator to a source text."""

    operator: str     # cosmic-ray's name, e.g. "core/NumberReplacer"
    occurrence: int   # which of the operator's positions in the text, from 0
    line: int         # where the mutation starts in the text: line and column, both from 1
    column: int
    source: str       # the whole text with this one mutation applied


def require_engine() -> None:
    """Raise :class:`EngineMissing` unless cosmic-ray can be imported."""
    try:
        import cosmic_ray.mutating  # noqa: F401
        import cosmic_ray.plugins  # noqa: F401
    except ImportError:
        raise EngineMissing(INSTALL_HINT) from None


def operator_names() -> tuple[str, ...]:
    """The cosmic-ray operators used, in cosmic-ray's order: every installed one that takes no arguments."""
    require_engine()
    from cosmic_ray.plugins import get_operator
    from cosmic_ray.plugins import operator_names as all_operator_names

    return tuple(name for name in all_operator_names() if not get_operator(name).arguments())


def mutations_of(source: str, *, operators: tuple[str, ...] | None = None) -> list[SourceMutation]:
    """Every mutation of ``source``: each operator at each of its positions, valid Python only."""
    require_engine()
    from cosmic_ray.ast import ast_nodes, get_ast
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    checked = _compiles(source)  # a cell with IPython syntax does not compile: keep all its mutants
    mutations = []
    for name in operators if operators is not None else operator_names():
        operator = get_operator(name)()
        positions = [start for node in ast_nodes(get_ast(source)) for start, _ in operator.mutation_positions(node)]
        for occurrence, (line, column) in enumerate(positions):
            mutated = mutate_code(source, operator, occurrence)
            if mutated is None or mutated == source or (checked and not _compiles(mutated)):
                continue
            mutations.append(SourceMutation(operator=name, occurrence=occurrence, line=line, column=column + 1,
                                            source=mutated))
    return mutations


def _compiles(source: str) -> bool:
    with warnings.catch_warnings():  # `x is 1` and the like compile, with a SyntaxWarning nobody needs here
        warnings.simplefilter("ignore")
        try:
            compile(source, "<cell>", "exec")
        except (SyntaxError, ValueError):
            return False
    return True
