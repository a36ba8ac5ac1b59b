"""Every mutant loses exactly the checks of its defect, under every seed; correct code in other styles keeps
full marks.

Each case runs under ``SEEDS_PER_CASE`` seeds (``AUTOGRADER_MUTANT_SEEDS``, default 2), taken in turn from a
pool of ``SEED_POOL`` seeds derived from the run's seed, so that one run of the set uses every seed of the
pool and each mutant sees a different pair of them.  With ``AUTOGRADER_MUTANT_SEEDS=10`` every mutant runs
under the whole pool.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

import pytest

import tests.alternatives as alternatives_package
import tests.mutants as mutants_package
from autograder.course import APPENDIX_A
from autograder.grading.results import Status
from autograder.grading.runner import grade_submission
from tests.conftest import SUITES, write_variant

SEED_POOL = 10
SEEDS_PER_CASE = max(1, min(SEED_POOL, int(os.environ.get("AUTOGRADER_MUTANT_SEEDS", "2"))))


def _modules(package):
    return [importlib.import_module(f"{package.__name__}.{info.name}")
            for info in pkgutil.iter_modules(package.__path__)]


# A notebook whose grading starts several processes (about 2 s each): one seed per case and run,
# still drawn in turn from the pool, so that the whole set keeps every seed of the pool.
SLOW_NOTEBOOKS = {"06_distributed"}


def _with_slots(cases: list[tuple]) -> list:
    """Each case once per slot; slot k of the n-th slot overall uses pool seed n % SEED_POOL."""
    params, counter = [], 0
    for name, stem, *values in cases:
        for slot in range(1 if stem in SLOW_NOTEBOOKS else SEEDS_PER_CASE):
            params.append(pytest.param(stem, *values, counter % SEED_POOL, id=f"{name}-seed{slot}"))
            counter += 1
    return params


MUTANTS = _with_slots([(f"{module.NOTEBOOK}-{mutant.name}", module.NOTEBOOK, mutant)
                       for module in _modules(mutants_package) for mutant in module.MUTANTS])
ALTERNATIVES = _with_slots([(f"{module.NOTEBOOK}-{name}", module.NOTEBOOK, cells)
                            for module in _modules(alternatives_package)
                            for name, cells in module.ALTERNATIVES.items()])


def _pool_seed(run_seed: int, slot: int) -> int:
    return (run_seed * 7919 + slot * 104_729) % (2 ** 31)


def _grade(sandbox, tmp_path, stem: str, seed: int):
    return grade_submission(submission=tmp_path, student="student", assignment=APPENDIX_A.subset([stem]),
                            suites_dir=SUITES, sandbox=sandbox, seed=seed).notebook(stem)


@pytest.mark.parametrize(("stem", "mutant", "slot"), MUTANTS)
def test_mutant_loses_exactly_its_checks(stem, mutant, slot, sandbox, tmp_path, seed):
    grading_seed = _pool_seed(seed, slot)
    write_variant(tmp_path, stem, mutant.cells, mutant.extra_cells)
    result = _grade(sandbox, tmp_path, stem, grading_seed)
    faulty = [f"{c.name}: {c.grader_error.strip().splitlines()[-1]}" for c in result.checks
              if c.status is Status.GRADER_ERROR]
    assert not faulty, f"seed {grading_seed}: the suite's own code failed on {mutant.name}: {faulty}"
    failed = {check.name for check in result.checks if check.status is Status.FAILED}
    assert failed == set(mutant.loses), (
        f"seed {grading_seed}: {mutant.name} ({mutant.defect}) should fail {sorted(mutant.loses)}, "
        f"failed {sorted(failed)}: " + "; ".join(f"{c.name}: {c.message}" for c in result.checks if c.message)
    )
    if mutant.message_contains:
        messages = " ".join(check.message for check in result.checks).lower()
        assert mutant.message_contains.lower() in messages, messages


@pytest.mark.parametrize(("stem", "cells", "slot"), ALTERNATIVES)
def test_alternative_style_scores_full_marks(stem, cells, slot, sandbox, tmp_path, seed):
    grading_seed = _pool_seed(seed, slot)
    write_variant(tmp_path, stem, cells)
    result = _grade(sandbox, tmp_path, stem, grading_seed)
    assert result.points == result.max_points, (
        f"seed {grading_seed}: "
        + "; ".join(f"{c.name}: {c.message}" for c in result.checks if c.status is Status.FAILED)
    )


def test_the_mutant_set_uses_every_seed_of_the_pool():
    assert len({values[-1] for values in (case.values for case in MUTANTS)}) == SEED_POOL
