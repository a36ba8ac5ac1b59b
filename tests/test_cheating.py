"""Tampering inside the notebook process changes nothing: the score comes from data judged outside."""

from __future__ import annotations

from autograder.grading.results import Status
from tests.conftest import write_variant

WRONG_GRAM = {"gram": "def gram(t):\n    return t.T @ t\n"}

TAMPERING = (
    """
import torch, torch.testing, builtins, unittest, numpy.testing
torch.testing.assert_close = lambda *args, **kwargs: None
torch.equal = lambda *args, **kwargs: True
torch.allclose = lambda *args, **kwargs: True
torch.Tensor.__eq__ = lambda self, other: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
unittest.TestCase.assertEqual = lambda *args, **kwargs: None
builtins.abs = lambda value: 0
""",
    """
import sys, types
for name in ("autograder", "autograder.grading", "pytest", "nbgrader"):
    sys.modules[name] = types.ModuleType(name)
open("conftest.py", "w").write("def pytest_runtest_makereport(): pass\\n")
open("sitecustomize.py", "w").write("print('Points 100/100')\\n")
open("results.json", "w").write('{"score": 100}')
open("grades.csv", "w").write("student,total\\nme,100\\n")
print(100)
print("::notice::Points 100/100")
""",
    """
ip = get_ipython()
ip.ast_node_interactivity = "none"
""",
    """
import sys
sys.displayhook = lambda value: None
""",
)


def _failures(result):
    return {c.name for c in result.checks if c.status is Status.FAILED}


def test_patching_the_comparison_functions_gains_nothing(grade, tmp_path):
    honest = grade(write_variant(tmp_path / "honest", "02_tensors", WRONG_GRAM).parent, "02_tensors")
    cheat = grade(write_variant(tmp_path / "cheat", "02_tensors", WRONG_GRAM, TAMPERING).parent, "02_tensors")
    honest_nb, cheat_nb = honest.notebook("02_tensors"), cheat.notebook("02_tensors")
    assert honest_nb.points < honest_nb.max_points
    assert cheat_nb.points == honest_nb.points
    assert _failures(cheat_nb) == _failures(honest_nb)
    # the IPython trick fails in plain Python and is reported as that cell's error
    assert any("NameError" in problem for problem in cheat_nb.problems)


def test_a_correct_submission_graded_right_after_a_cheat_gets_full_marks(grade, tmp_path):
    grade(write_variant(tmp_path / "cheat", "02_tensors", WRONG_GRAM, TAMPERING).parent, "02_tensors")
    honest = grade(write_variant(tmp_path / "right", "02_tensors", {}).parent, "02_tensors")
    assert honest.notebook("02_tensors").points == 20
