"""Mutants of 01_setup.ipynb: one typical mistake per variant."""

from tests.mutants import Mutant

NOTEBOOK = "01_setup"

_REPORT = '''
def environment_report() -> dict:
    python_version = {python}
    return {{
        "python": python_version,
        "torch": torch.__version__,
        "cuda": {cuda},
        "mps": {mps},
        "python_ok": {python_ok},
        "torch_ok": version_at_least(torch.__version__, "2.0"),
    }}
'''


def _report(*, python="platform.python_version()", cuda="bool(torch.cuda.is_available())",
            mps="bool(torch.backends.mps.is_available())",
            python_ok='version_at_least(python_version, "3.10")') -> str:
    return _REPORT.format(python=python, cuda=cuda, mps=mps, python_ok=python_ok)


_ALL_REPORT_CHECKS = {
    "test_environment_report_keys_and_types", "test_environment_report_versions",
    "test_environment_report_version_flags", "test_environment_report_cuda", "test_environment_report_mps",
}

MUTANTS = [
    Mutant(
        name="string_comparison",
        defect="compares the version strings as text, character by character",
        cells={"version_at_least": '''
def version_at_least(version: str, minimum: str) -> bool:
    return version >= minimum
'''},
        loses=frozenset({"test_version_at_least_multi_digit_parts", "test_version_at_least_pre_releases",
                         "test_version_at_least_different_lengths"}),
        message_contains="as numbers",
    ),
    Mutant(
        name="int_tuples",
        defect="splits on dots and converts every part with int(), which crashes on '0+cpu' or '0rc1'",
        cells={"version_at_least": '''
def version_at_least(version: str, minimum: str) -> bool:
    def parts(text):
        return tuple(int(part) for part in text.split("."))
    return parts(version) >= parts(minimum)
'''},
        # environment_report calls version_at_least on torch.__version__ ("2.x.y+cpu"), so it crashes too
        loses=frozenset({"test_version_at_least_local_tags", "test_version_at_least_pre_releases",
                         "test_version_at_least_different_lengths"} | _ALL_REPORT_CHECKS),
    ),
    Mutant(
        name="digits_only",
        defect="deletes every character that is not a digit or a dot, so '+cu121' becomes part of the patch number",
        cells={"version_at_least": '''
import re

def version_at_least(version: str, minimum: str) -> bool:
    def parts(text):
        numbers = [int(p) for p in re.sub(r"[^0-9.]", "", text).split(".") if p]
        return numbers + [0] * (4 - len(numbers))
    return parts(version) >= parts(minimum)
'''},
        loses=frozenset({"test_version_at_least_local_tags", "test_version_at_least_pre_releases"}),
        message_contains="local label",
    ),
    Mutant(
        name="pre_release_ignored",
        defect="cuts a pre-release suffix off instead of ordering it before the final release",
        cells={"version_at_least": '''
import re

def version_at_least(version: str, minimum: str) -> bool:
    def release(text):
        return Version(re.split(r"(a|b|rc)[0-9]+", text)[0])
    return release(version) >= release(minimum)
'''},
        loses=frozenset({"test_version_at_least_pre_releases"}),
        message_contains="pre-release",
    ),
    Mutant(
        name="returns_version_text",
        defect="returns a string instead of a bool",
        cells={"version_at_least": '''
def version_at_least(version: str, minimum: str) -> bool:
    return "yes" if Version(version) >= Version(minimum) else ""
'''},
        loses=frozenset({"test_version_at_least_simple_cases", "test_version_at_least_multi_digit_parts",
                         "test_version_at_least_local_tags", "test_version_at_least_pre_releases",
                         "test_version_at_least_different_lengths", "test_environment_report_keys_and_types",
                         "test_environment_report_version_flags"}),
        message_contains="bool",
    ),
    Mutant(
        name="hard_coded_python",
        defect="writes the Python version down instead of reading it from the interpreter",
        cells={"environment_report": _report(python='"3.12.1"')},
        loses=frozenset({"test_environment_report_versions"}),
        message_contains="platform.python_version",
    ),
    Mutant(
        name="truncated_python",
        defect="takes the first characters of sys.version, which drops the patch number",
        cells={"environment_report": _report(python="sys.version[:4]")},
        loses=frozenset({"test_environment_report_versions"}),
    ),
    Mutant(
        name="cuda_always_false",
        defect="hard-codes cuda to False because the grading machine has no GPU",
        cells={"environment_report": _report(cuda="False")},
        loses=frozenset({"test_environment_report_cuda"}),
        message_contains="torch.cuda.is_available",
    ),
    Mutant(
        name="mps_missing",
        defect="never asks about Apple's MPS backend",
        cells={"environment_report": _report(mps="False")},
        loses=frozenset({"test_environment_report_mps"}),
        message_contains="torch.backends.mps.is_available",
    ),
    Mutant(
        name="cuda_cached_at_import",
        defect="asks torch.cuda.is_available() once, when the cell runs, and reuses the stale answer",
        cells={"environment_report": "HAS_CUDA = torch.cuda.is_available()\n" + _report(cuda="HAS_CUDA")},
        loses=frozenset({"test_environment_report_cuda"}),
    ),
    Mutant(
        name="flags_as_strings",
        defect="stores the hardware flags as the strings 'True'/'False'",
        cells={"environment_report": _report(cuda="str(torch.cuda.is_available())",
                                             mps="str(torch.backends.mps.is_available())")},
        loses=frozenset({"test_environment_report_keys_and_types", "test_environment_report_cuda",
                         "test_environment_report_mps"}),
        message_contains="a bool",
    ),
    Mutant(
        name="python_ok_as_int",
        defect="stores python_ok as the integer 1 instead of True",
        cells={"environment_report": _report(python_ok="int(sys.version_info >= (3, 10))")},
        loses=frozenset({"test_environment_report_keys_and_types"}),
    ),
    Mutant(
        name="report_missing_key",
        defect="forgets the mps entry of the report",
        cells={"environment_report": '''
def environment_report() -> dict:
    python_version = platform.python_version()
    return {
        "python": python_version,
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "python_ok": version_at_least(python_version, "3.10"),
        "torch_ok": version_at_least(torch.__version__, "2.0"),
    }
'''},
        loses=frozenset({"test_environment_report_keys_and_types", "test_environment_report_mps"}),
        message_contains="'mps'",
    ),
    Mutant(
        name="float_comparison",
        defect="turns 'major.minor' into a float and compares those: 2.10 becomes 2.1, the patch is dropped",
        cells={"version_at_least": '''
def version_at_least(version: str, minimum: str) -> bool:
    def as_float(text):
        return float(".".join(text.split("+")[0].split(".")[:2]))
    return as_float(version) >= as_float(minimum)
'''},
        # the '+cpu' label is not the cause: the local-label check must not blame it
        loses=frozenset({"test_version_at_least_simple_cases", "test_version_at_least_multi_digit_parts",
                         "test_version_at_least_pre_releases"}),
    ),
    Mutant(
        name="cuda_from_the_build",
        defect="reports whether PyTorch was built with CUDA instead of whether a GPU is usable",
        cells={"environment_report": _report(cuda="torch.backends.cuda.is_built()")},
        loses=frozenset({"test_environment_report_cuda"}),
    ),
]
