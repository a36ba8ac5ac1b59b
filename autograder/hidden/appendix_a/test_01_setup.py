"""Hidden checks for 01_setup.ipynb: version comparison and the environment report (A.1.3).

``version_at_least`` is compared with ``packaging.version.Version`` on random version
strings, one family of tricky strings per check, plus fixed edge cases.  A check about
one feature (a local label, a missing part) charges only the answers that go wrong
*because of* that feature: the same versions without it are asked too, and a pair the
student also gets wrong without the feature belongs to another check.

The comparisons the course itself makes (Python against 3.10, PyTorch against 2.0, for
Python 3.9 to 4.0 and PyTorch 1.13 to 2.13, local labels included) are asked in both
orders, each in the family of its trickiest feature.

``environment_report`` is compared with facts of the grader's own interpreter (the
notebook process runs the same Python and torch) and with simulated installations: other
Python and PyTorch versions (``nb.simulated_versions``, every place a version is read from
agrees) and machines whose every torch answer about accelerators agrees
(``nb.simulated_machine``).  Each field is judged against the source it must come from.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

import pytest
import torch
from packaging.version import Version

from autograder.grading.judge import describe, fail

NOTEBOOK = "01_setup"

KEYS = ("python", "torch", "cuda", "mps", "python_ok", "torch_ok")
FLAGS = ("cuda", "mps", "python_ok", "torch_ok")

PYTHON_MINIMUM, TORCH_MINIMUM = "3.10", "2.0"
# installations environment_report is judged on: Python major.minor (a random patch is added) and PyTorch
SIMULATED_PYTHONS = ("3.9", "3.10", "3.12", "4.0")
SIMULATED_TORCHES = ("1.13", "1.13.1+cu117", "2.0.0", "2.0.1", "2.1", "2.13", "2.13.0+cpu", "2.4.1+cu121")


def _int(rng: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=rng))


def _pick(rng: torch.Generator, options):
    return options[_int(rng, 0, len(options) - 1)]


def _reference(version: str, minimum: str) -> bool:
    return Version(version) >= Version(minimum)


def _answer(nb, version: str, minimum: str) -> bool:
    got = nb.call("version_at_least", version, minimum)
    if type(got) is not bool:
        fail(f"version_at_least should return True or False (a bool), but returned {describe(got)}")
    return got


def _judge_pairs(nb, pairs, *, defect: str, without=None) -> None:
    """Call version_at_least on every pair; fail naming ``defect`` on a wrong answer.

    ``without(version) -> version`` removes the feature this check is about.  A wrong
    answer counts only when the student answers the pair without the feature correctly
    (otherwise the mistake lies in plain comparisons, which other checks judge).  So
    that a function that is right by chance cannot pass, the pairs judged must include
    both a True and a False answer.
    """
    judged: set[bool] = set()
    for version, minimum in pairs:
        want = _reference(version, minimum)
        got = _answer(nb, version, minimum)
        if without is not None:
            plain = (without(version), without(minimum))
            if _answer(nb, *plain) != _reference(*plain):
                continue
        judged.add(want)
        if got != want:
            fail(f"version_at_least gave a wrong answer {defect}")
    if without is not None and judged != {True, False}:
        fail("version_at_least gives wrong answers for plain versions such as 2.3.1, so this case "
             "cannot be judged: fix the plain comparison first (see the other version checks)")


def _release(rng: torch.Generator, parts: int, high: int = 9) -> list[int]:
    return [_int(rng, 0, high) for _ in range(parts)]


def _text(parts: list[int]) -> str:
    return ".".join(str(p) for p in parts)


def _padded(text: str) -> str:
    """The version with three release parts, so that both sides of a pair have the same length."""
    parts = text.split(".")
    return ".".join(parts + ["0"] * (3 - len(parts)))


def _both_orders(pairs) -> list[tuple[str, str]]:
    """Every pair and its reverse (the reverse once, for a pair of equal strings)."""
    return [ordered for version, minimum in pairs
            for ordered in ((version, minimum),) + (((minimum, version),) if version != minimum else ())]


def _course_pairs(versions, minimum: str) -> list[tuple[str, str]]:
    """The comparisons the course makes: each version against its minimum, in both orders."""
    return _both_orders((version, minimum) for version in versions)


# ------------------------------------------------------------------ version_at_least


@pytest.mark.grade(1, fn="version_at_least", returns=True)
def test_version_at_least_simple_cases(nb, rng):
    """Plain major.minor.patch versions with one-digit parts, including equal versions."""
    pairs = []
    for _ in range(6):
        a, b = _release(rng, 3), _release(rng, 3)
        pairs += [(_text(a), _text(b)), (_text(b), _text(a))]
    same = _text(_release(rng, 3))
    pairs.append((same, same))
    pairs += [("2.3.1", "2.3.0"), ("2.3.0", "2.3.1"), ("1.9.9", "2.0.0"), ("3.0.0", "2.9.9")]
    _judge_pairs(nb, pairs, defect="for plain versions such as 2.3.1 (an equal version counts as 'at least')")


@pytest.mark.grade(1, fn="version_at_least")
def test_version_at_least_multi_digit_parts(nb, rng):
    """Parts with several digits compare as numbers: 2.10.0 is newer than 2.9.1."""
    pairs = []
    for _ in range(4):
        major = _int(rng, 1, 3)
        big = [major, _int(rng, 10, 99), _int(rng, 0, 20)]
        small = [major, _int(rng, 2, 9), _int(rng, 0, 20)]
        pairs += [(_text(big), _text(small)), (_text(small), _text(big))]
        patch_big = [major, _int(rng, 0, 9), _int(rng, 10, 40)]
        patch_small = [patch_big[0], patch_big[1], _int(rng, 2, 9)]
        pairs += [(_text(patch_big), _text(patch_small)), (_text(patch_small), _text(patch_big))]
    pairs += [("2.10.0", "2.9.1"), ("2.9.1", "2.10.0"), ("10.0.0", "9.0.0"), ("9.0.0", "10.0.0")]
    # the course's own minimums: Python 3.9 to 4.0 against 3.10, PyTorch 1.13 to 2.13 against 2.0
    pairs += _course_pairs(("3.9", "3.10", "3.12", "4.0"), PYTHON_MINIMUM)
    pairs += _course_pairs(("1.13", "2.0", "2.1", "2.13"), TORCH_MINIMUM) + _both_orders([("2.13", "2.1")])
    _judge_pairs(nb, pairs, defect="when a part has two or more digits: compare the parts as numbers, "
                                   "not the strings character by character")


def _public(text: str) -> Version:
    return Version(text.partition("+")[0])


@pytest.mark.grade(1, fn="version_at_least")
def test_version_at_least_local_tags(nb, rng):
    """Local labels such as +cpu or +cu121 (the builds of PyTorch wheels) are handled, on either side."""
    pairs = []
    for _ in range(4):
        major, minor, patch = _int(rng, 1, 3), _int(rng, 0, 8), _int(rng, 0, 4)
        tag = _pick(rng, ["cpu", f"cu{_int(rng, 110, 129)}", f"cu{_int(rng, 110, 129)}"])
        version = f"{major}.{minor}.{patch}+{tag}"
        pairs += [
            (version, f"{major}.{minor}"),
            (version, f"{major}.{minor}.{patch}"),
            (version, f"{major}.{minor}.{patch + _int(rng, 1, 5)}"),
            (version, f"{major}.{minor + 1}"),
            (f"{major}.{minor}.{patch}+cu{_int(rng, 110, 129)}", f"{major}.{minor}.{_int(rng, 5, 9)}"),
        ]
    pairs += [("2.13.0+cpu", "2.13.0"), ("2.13.0+cpu", "2.13.1"), ("2.4.1+cu121", "2.4.2"),
              ("2.4.1+cu121", "2.4.1")]  # fixed edge cases: equal and next patch
    # the label on the minimum's side too; not against its own release, where PEP 440 orders "2.4" before
    # "2.4+cpu" and a function that ignores labels (as the notebook allows) would disagree
    pairs += [(minimum, version) for version, minimum in pairs
              if "+" in version and "+" not in minimum and _public(version) != _public(minimum)]
    pairs += _course_pairs(("2.13.0+cpu", "1.13.1+cu117", "2.0.1+cu118", "2.4.1+cu121"), TORCH_MINIMUM)
    _judge_pairs(nb, pairs, defect="for a version with a local label such as '+cpu' or '+cu121' "
                                   "(the label after '+' is not part of the number)",
                 without=lambda text: text.partition("+")[0])


@pytest.mark.grade(1, fn="version_at_least")
def test_version_at_least_pre_releases(nb, rng):
    """Pre-releases (a0, b1, rc1) come before the final release of the same version."""
    pairs = []
    for _ in range(3):
        release = _text([_int(rng, 1, 3), _int(rng, 0, 12), _int(rng, 0, 4)])
        kind = _pick(rng, ["a", "b", "rc"])
        pre = f"{release}{kind}{_int(rng, 0, 3)}"
        pairs += [(pre, release), (release, pre), (pre, pre)]
        pairs += [(f"{release}a{_int(rng, 0, 3)}", f"{release}rc{_int(rng, 0, 3)}")]
        pairs += [(f"{release}rc{_int(rng, 0, 3)}", f"{release}a{_int(rng, 0, 3)}")]
    pairs += [("2.1.0a0", "2.1.0"), ("2.1.0", "2.1.0rc1"), ("2.1.0rc1", "2.1.0b2")]
    _judge_pairs(nb, pairs, defect="for a pre-release such as '2.1.0a0' or '2.1.0rc1', which comes "
                                   "before the final '2.1.0'")


@pytest.mark.grade(1, fn="version_at_least")
def test_version_at_least_different_lengths(nb, rng):
    """Versions with a different number of parts: 2.0 and 2.0.0 are the same version."""
    pairs = []
    for _ in range(3):
        major, minor = _int(rng, 1, 3), _int(rng, 0, 12)
        short = f"{major}.{minor}"
        pairs += [(short, f"{short}.0"), (f"{short}.0", short), (short, f"{short}.{_int(rng, 1, 9)}"),
                  (f"{short}.{_int(rng, 1, 9)}", short)]
        pairs += _both_orders([(f"{major}", f"{major}.0.0"),
                               (f"{major}.{minor + 1}", f"{short}.{_int(rng, 1, 9)}")])
    pairs += [("2", "2.0.0"), ("2.0.0", "2"), ("2.1", "2.0.9"), ("2.0.9", "2.1")]
    # the course's own minimums against installed versions, which have three parts
    pairs += _course_pairs((f"3.9.{_int(rng, 0, 20)}", "3.10.0", f"3.12.{_int(rng, 1, 9)}", "4.0.0"), PYTHON_MINIMUM)
    pairs += _course_pairs(("1.13.1", "2.0.0", "2.0.1", "2.1.0", "2.13.0"), TORCH_MINIMUM)
    _judge_pairs(nb, pairs, defect="when the two versions have a different number of parts "
                                   "(missing parts count as 0: '2.0' is the same as '2.0.0')",
                 without=_padded)


# ------------------------------------------------------------------ environment_report


def _report(nb) -> dict:
    report = nb.call("environment_report")
    if not isinstance(report, dict):
        fail(f"environment_report should return a dict, but returned {describe(report)}")
    return report


def _entry(report: dict, key: str):
    if key not in report:
        fail(f"environment_report's dict has no key {key!r}")
    return report[key]


def _as_text(value):
    """A str (torch.__version__, a str subclass, arrives as a plain str), else None."""
    return value if type(value) is str else None


@pytest.mark.grade(1, fn="environment_report", returns=True)
def test_environment_report_keys_and_types(nb):
    """The dict has exactly the six keys, the versions as the right str and the four flags as bool."""
    report = _report(nb)
    missing = [key for key in KEYS if key not in report]
    if missing:
        fail(f"environment_report's dict lacks the key(s) {', '.join(repr(k) for k in missing)}")
    extra = [key for key in report if key not in KEYS]
    if extra:
        fail("environment_report's dict has keys besides the six asked for; remove the extra ones")
    for key in ("python", "torch"):
        if _as_text(report[key]) is None:
            fail(f"report[{key!r}] should be a str, but it is {describe(report[key])}")
    for key in FLAGS:
        if type(report[key]) is not bool:
            fail(f"report[{key!r}] should be True or False (a bool), but it is {describe(report[key])}")
    # a structure is worth points only holding right answers: the flags of this machine
    if report["python_ok"] is not True or report["torch_ok"] is not True:
        fail("python_ok and torch_ok should be True on the grading machine (Python 3.10+, PyTorch 2.0+)")


@pytest.mark.grade(1, fn="environment_report")
def test_environment_report_versions(nb, rng):
    """report["python"] and report["torch"] are the running Python and PyTorch versions, here and on simulated ones.

    Simulated installations run other Python and PyTorch versions (``nb.simulated_versions``).
    """
    facts = _grader_facts()
    report = _report(nb)
    python = _as_text(_entry(report, "python"))
    if python != facts["python"]:
        fail('report["python"] is not the running Python version in the form "3.11.7": read it from '
             "the interpreter (platform.python_version()) instead of writing it down")
    if _as_text(_entry(report, "torch")) != facts["torch"]:
        fail('report["torch"] is not the installed PyTorch version: use torch.__version__')
    for installation, report in _simulated_reports(nb, rng):
        if _as_text(_entry(report, "python")) != installation.python:
            fail('report["python"] is not the running Python version on other installations (the grader '
                 "simulates other Python versions): read it with platform.python_version() inside "
                 "environment_report, every time it runs, and keep the whole version")
        if _as_text(_entry(report, "torch")) != installation.torch:
            fail('report["torch"] is not the installed PyTorch version on other installations (the grader '
                 "simulates other PyTorch versions): read torch.__version__ inside environment_report, "
                 "every time it runs")


@pytest.mark.grade(1, fn="environment_report")
def test_environment_report_version_flags(nb, rng):
    """python_ok and torch_ok say whether Python >= 3.10 and PyTorch >= 2.0, here and on simulated installations.

    The simulated installations run Python 3.9 to 4.0 and PyTorch 1.13 to 2.13, local labels included.
    """
    facts = _grader_facts()
    report = _report(nb)
    for key, version, minimum, name in (("python_ok", facts["python"], PYTHON_MINIMUM, "Python"),
                                        ("torch_ok", facts["torch"], TORCH_MINIMUM, "PyTorch")):
        value = _entry(report, key)
        if value != (Version(version) >= Version(minimum)):
            fail(f'report["{key}"] is wrong: it should say whether the {name} version is {minimum} or newer')
    for installation, report in _simulated_reports(nb, rng):
        for key, version, minimum, name, source in (
                ("python_ok", installation.python, PYTHON_MINIMUM, "Python", "platform.python_version()"),
                ("torch_ok", installation.torch, TORCH_MINIMUM, "PyTorch", "torch.__version__")):
            want = Version(version) >= Version(minimum)
            if _entry(report, key) != want:
                which = f"{minimum} or newer" if want else f"older than {minimum}"
                fail(f'report["{key}"] is wrong for a {name} version {which} (the grader simulates other '
                     f"installations): compare the whole version with {minimum}, as in "
                     f'version_at_least({source}, "{minimum}"), inside environment_report every time it runs')


@dataclass(frozen=True)
class Installation:
    """A simulated installation: the Python version platform.python_version() gives, and torch.__version__."""

    python: str
    torch: str


def _installations(rng: torch.Generator) -> list[Installation]:
    """Every simulated Python (a random patch added) with every simulated PyTorch, so that each flag is
    True and False next to both values of the other."""
    pythons = [f"{release}.{_int(rng, 0, 20) if release != '4.0' else 0}" for release in SIMULATED_PYTHONS]
    return [Installation(python, torch_version) for python in pythons for torch_version in SIMULATED_TORCHES]


def _simulated_reports(nb, rng: torch.Generator):
    """(installation, the report environment_report gives on it) for every simulated installation."""
    for installation in _installations(rng):
        with nb.simulated_versions(python=installation.python, torch_version=installation.torch):
            report = _report(nb)
        yield installation, report


def _grader_facts() -> dict:
    """The notebook process runs the grader's own interpreter and torch: read them here, trusted."""
    return {"python": platform.python_version(), "torch": str(torch.__version__)}


def _follows(nb, key: str, target: str, label: str) -> None:
    """report[key] on simulated machines with and without the device (and with the other one)."""
    # the absent backends are built (a CUDA wheel without a GPU): is_built() is no answer
    machines = [{"cuda": True, "mps": False, "mps_built": True}, {"cuda": False, "mps": True, "cuda_built": True},
                {"cuda": False, "mps": False, "cuda_built": True, "mps_built": True}]
    for machine in machines:
        with nb.simulated_machine(**machine):
            value = _entry(_report(nb), key)
        available = machine[key]
        if value != available or type(value) is not bool:
            state = "available" if available else "not available"
            fail(f'report["{key}"] is wrong when {label} is {state}: call {target}() inside '
                 "environment_report (every time it runs) and store its answer as a bool")


@pytest.mark.grade(1, fn="environment_report")
def test_environment_report_cuda(nb):
    """report["cuda"] follows torch.cuda.is_available(), on machines with and without a GPU."""
    _follows(nb, "cuda", "torch.cuda.is_available", "a CUDA GPU")


@pytest.mark.grade(1, fn="environment_report")
def test_environment_report_mps(nb):
    """report["mps"] follows torch.backends.mps.is_available(), on Macs with and without MPS."""
    _follows(nb, "mps", "torch.backends.mps.is_available", "Apple's MPS backend")
