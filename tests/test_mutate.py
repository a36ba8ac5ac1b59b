"""`autograder mutate`: cosmic-ray's mutants of the reference solutions, graded by the hidden suites.

One sampled run through the command (six mutants of ``make_tensors``, two workers), checked
against grading the same mutants one by one; the rest are fast unit tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.course import APPENDIX_A
from autograder.errors import UsageError
from autograder.mutation.engine import INSTALL_HINT, EngineMissing, mutations_of, operator_names, require_engine
from autograder.mutation.equivalent import load_equivalents, match_equivalents
from autograder.mutation.mutants import Mutant, mutants_of, read_reference
from autograder.mutation.outcomes import (FunctionSummary, MutantOutcome, MutantResult, MutationReport,
                                          NotebookSummary)
from autograder.mutation.reporter import to_dict, to_text
from autograder.mutation.selection import Sample, pick
from tests.conftest import SOLUTIONS, write_variant

STEM, FUNCTION = "02_tensors", "make_tensors"
SAMPLE = Sample(limit=6, seed=0)
COUNTS = ("mutants", "killed", "survived", "equivalent", "timed_out")


def reference_mutants(stem: str = STEM) -> list[Mutant]:
    return mutants_of(read_reference(SOLUTIONS / f"{stem}.ipynb"), APPENDIX_A.notebook(stem))


def equivalent_entry(mutant: Mutant, *, position: str | None = None, reason: str = "test entry") -> str:
    return (f'[mutants."{mutant.id}"]\nfunction = "{mutant.function}"\noperator = "{mutant.operator}"\n'
            f'occurrence = {mutant.occurrence}\nposition = "{position or mutant.position}"\nreason = "{reason}"\n')


# ------------------------------------------------------------------------------------------ one sampled run


@pytest.fixture(scope="module")
def sampled_run(tmp_path_factory):
    """The CLI's JSON for the sample, with its first mutant listed as equivalent and one stale entry."""
    sample = pick(reference_mutants(), functions=(FUNCTION,), sample=SAMPLE)
    equivalents = tmp_path_factory.mktemp("equivalent")
    (equivalents / f"{STEM}.toml").write_text(equivalent_entry(sample[0])
                                              + equivalent_entry(sample[1], position="999:1"))
    return sample, equivalents


def run_mutate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "mutate", *args], capture_output=True, text=True,
                          timeout=600)


def test_a_sampled_run_reports_every_mutant_once(sampled_run, seed, grade, tmp_path):
    sample, equivalents = sampled_run
    done = run_mutate("--notebook", STEM, "--function", FUNCTION, "--limit-mutants", str(SAMPLE.limit),
                      "--sample-seed", str(SAMPLE.seed), "--seed", str(seed), "--workers", "2",
                      "--equivalents", str(equivalents), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["seed"] == seed
    (notebook,) = report["notebooks"]
    assert notebook["notebook"] == STEM
    assert [function["function"] for function in notebook["functions"]] == [FUNCTION]
    (function,) = notebook["functions"]
    for counts in (notebook, function):
        assert set(COUNTS) <= set(counts)
        assert counts["mutants"] == SAMPLE.limit
        assert sum(counts[name] for name in COUNTS[1:]) == counts["mutants"]
        assert counts["score"] == pytest.approx(counts["killed"] / (counts["mutants"] - counts["equivalent"]))
    assert function["equivalent"] == 1, "the mutant listed as equivalent is counted as equivalent, not graded"
    assert any(sample[1].id in note and "no longer matches" in note for note in notebook["notes"])
    survivors = {survivor["id"]: survivor for survivor in function["survivors"]}
    assert len(survivors) == function["survived"]
    for survivor in survivors.values():
        assert set(survivor) >= {"id", "operator", "diff", "passed_checks"}
        assert survivor["diff"].startswith("--- a/") and survivor["passed_checks"]

    graded = sample[1:]  # the first is the listed equivalent
    killed = [mutant for mutant in graded if mutant.id not in survivors]
    assert len(killed) == function["killed"] + function["timed_out"]
    for mutant in killed:  # graded alone, with the same seed: it really loses points
        result = grade(write_variant(tmp_path / mutant.id.replace("/", "_").replace(":", "_"), STEM,
                                     {mutant.grade_id: mutant.source}).parent, STEM).notebook(STEM)
        assert result.points < result.max_points, f"{mutant.id} was reported killed but keeps full marks"


# ------------------------------------------------------------------------------------------ mutant generation


def test_mutants_are_cosmic_rays_operators_applied_to_the_solution_cells_with_stable_ids():
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator
    from cosmic_ray.plugins import operator_names as cosmic_ray_operators

    mutants = reference_mutants()
    assert mutants, "the reference of 02_tensors has mutants"
    assert set(operator_names()) <= set(cosmic_ray_operators())
    assert "core/VariableReplacer" not in operator_names(), "operators with arguments draw random values"
    for mutant in mutants:
        assert mutant.operator in operator_names()
        assert mutate_code(mutant.original, get_operator(mutant.operator)(), mutant.occurrence) == mutant.source
        assert mutant.function in APPENDIX_A.notebook(STEM).functions
    ids = [mutant.id for mutant in mutants]
    assert len(set(ids)) == len(ids)
    assert ids == [mutant.id for mutant in reference_mutants()], "ids are the same from run to run"
    assert f"{FUNCTION}:core/NumberReplacer:0" in ids
    assert all(mutant.id == f"{mutant.grade_id}:{mutant.operator}:{mutant.occurrence}" for mutant in mutants)


def test_invalid_python_is_not_a_mutant_and_positions_count_from_one():
    mutations = mutations_of("def f(x):\n    return x + 1\n", operators=("core/ReplaceBinaryOperator_Add_Mul",
                                                                         "core/NumberReplacer"))
    assert [(m.operator, m.occurrence, m.line, m.column) for m in mutations] == [
        ("core/ReplaceBinaryOperator_Add_Mul", 0, 2, 14), ("core/NumberReplacer", 0, 2, 16),
        ("core/NumberReplacer", 1, 2, 16)]
    assert mutations[0].source == "def f(x):\n    return x * 1\n"
    assert all(compile(m.source, "<cell>", "exec") for m in mutations)


def test_a_sample_is_reproducible_and_bounded():
    mutants = reference_mutants()
    first = pick(mutants, functions=(FUNCTION,), sample=SAMPLE)
    assert first == pick(mutants, functions=(FUNCTION,), sample=SAMPLE)
    assert len(first) == SAMPLE.limit and all(mutant.function == FUNCTION for mutant in first)
    assert first != pick(mutants, functions=(FUNCTION,), sample=Sample(limit=6, seed=1))
    assert pick(mutants, functions=("gram",), sample=None) == []  # cosmic-ray has no operator for `@`


# ------------------------------------------------------------------------------------------ equivalent files


def test_a_shipped_equivalent_file_matches_mutants_of_its_reference():
    from autograder.mutation.equivalent import EQUIVALENT_DIR

    for path in sorted(EQUIVALENT_DIR.glob("*.toml")):
        entries = load_equivalents(path.stem)
        matched = match_equivalents(entries, reference_mutants(path.stem), path=path)
        assert matched.stale == (), matched.stale


@pytest.mark.parametrize(("text", "complaint"), [
    ('[mutants."a:core/NumberReplacer:0"]\nfunction = "a"\n', "missing operator"),
    ('[mutants."a:core/NumberReplacer:0"]\nfunction = "a"\noperator = "core/NumberReplacer"\noccurrence = "0"\n'
     'position = "1:1"\nreason = "r"\n', "wrong type for occurrence"),
    ('[mutants."a:core/NumberReplacer:1"]\nfunction = "a"\noperator = "core/NumberReplacer"\noccurrence = 0\n'
     'position = "1:1"\nreason = "r"\n', "the id must be"),
    ("mutants = [", "not a readable TOML file"),
])
def test_a_malformed_equivalent_file_is_a_usage_error_naming_it(tmp_path, text, complaint):
    (tmp_path / "02_tensors.toml").write_text(text)
    with pytest.raises(UsageError, match=complaint) as raised:
        load_equivalents("02_tensors", directory=tmp_path)
    assert "02_tensors.toml" in str(raised.value)


# ------------------------------------------------------------------------------------------ report and CLI


def test_the_text_report_shows_each_survivors_diff_and_the_checks_it_passed():
    mutant = next(m for m in reference_mutants() if m.operator == "core/NumberReplacer")
    survivor = MutantResult(mutant=mutant, outcome=MutantOutcome.SURVIVED, passed_checks=("test_a", "test_b"))
    killed = MutantResult(mutant=mutant, outcome=MutantOutcome.KILLED, lost_checks=("test_a",))
    function = FunctionSummary(function=FUNCTION, results=(survivor, killed))
    report = MutationReport(notebooks=(NotebookSummary(notebook=STEM, functions=(function,), seed=3, seconds=1.0),),
                            seed=3)
    text = to_text(report)
    assert "2 mutants, 1 killed, 1 survived, 0 timed out, 0 equivalent; mutation score 50.0%" in text
    assert f"survived: {mutant.id}" in text and "passed: test_a, test_b" in text
    assert f"--- a/{STEM}.ipynb ({mutant.grade_id})" in text and "\n    -" in text and "\n    +" in text
    data = to_dict(report)["notebooks"][0]["functions"][0]
    assert data["score"] == 0.5 and data["survivors"][0]["passed_checks"] == ["test_a", "test_b"]


def test_unknown_function_and_lone_sample_seed_are_usage_errors(capsys):
    assert main(["mutate", "--function", "no_such_function"]) == 2
    assert "no_such_function" in capsys.readouterr().err
    assert main(["mutate", "--sample-seed", "3"]) == 2
    assert "--limit-mutants" in capsys.readouterr().err


def test_without_cosmic_ray_mutate_says_how_to_install_it(monkeypatch, capsys):
    for name in ("cosmic_ray", "cosmic_ray.mutating", "cosmic_ray.plugins"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(EngineMissing):
        require_engine()
    assert main(["mutate", "--notebook", STEM]) == 1
    assert "pip install cosmic-ray" in capsys.readouterr().err
    assert "pip install cosmic-ray" in INSTALL_HINT


def test_cosmic_ray_is_a_dev_extra_not_a_dependency():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    assert any(requirement.startswith("cosmic-ray") for requirement in project["optional-dependencies"]["dev"])
    assert not any(requirement.startswith("cosmic-ray") for requirement in project["dependencies"])
