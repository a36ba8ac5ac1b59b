"""Every mutant loses exactly the checks of its defect; correct code in other styles keeps full marks."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import tests.alternatives as alternatives_package
import tests.mutants as mutants_package
from autograder.grading.results import Status
from tests.conftest import write_variant


def _modules(package):
    return [importlib.import_module(f"{package.__name__}.{info.name}")
            for info in pkgutil.iter_modules(package.__path__)]


MUTANTS = [pytest.param(module.NOTEBOOK, mutant, id=f"{module.NOTEBOOK}-{mutant.name}")
           for module in _modules(mutants_package) for mutant in module.MUTANTS]
ALTERNATIVES = [pytest.param(module.NOTEBOOK, module.ALTERNATIVE, id=module.NOTEBOOK)
                for module in _modules(alternatives_package)]


@pytest.mark.parametrize(("stem", "mutant"), MUTANTS)
def test_mutant_loses_exactly_its_checks(stem, mutant, grade, tmp_path, seed):
    write_variant(tmp_path, stem, mutant.cells, mutant.extra_cells)
    result = grade(tmp_path, stem).notebook(stem)
    failed = {check.name for check in result.checks if check.status is Status.FAILED}
    assert failed == set(mutant.loses), (
        f"seed {seed}: {mutant.name} ({mutant.defect}) should fail {sorted(mutant.loses)}, "
        f"failed {sorted(failed)}: " + "; ".join(f"{c.name}: {c.message}" for c in result.checks if c.message)
    )
    if mutant.message_contains:
        messages = " ".join(check.message for check in result.checks).lower()
        assert mutant.message_contains.lower() in messages, messages


@pytest.mark.parametrize(("stem", "cells"), ALTERNATIVES)
def test_alternative_style_scores_full_marks(stem, cells, grade, tmp_path, seed):
    write_variant(tmp_path, stem, cells)
    result = grade(tmp_path, stem).notebook(stem)
    assert result.points == result.max_points, (
        f"seed {seed}: " + "; ".join(f"{c.name}: {c.message}" for c in result.checks if c.status is Status.FAILED)
    )
