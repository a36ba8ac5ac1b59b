"""Mutants of 01_setup.ipynb: one typical mistake per variant."""

from tests.mutants import Mutant

NOTEBOOK = "01_setup"

_REPORT = '''
def environment_report() -> dict:
    python_version = {python}
    return {{
        "python": python_version,
        "torch": {torch},
        "cuda": {cuda},
        "mps": {mps},
        "python_ok": {python_ok},
        "torch_ok": {torch_ok},
    }}
'''


def _report(*, python="platform.python_version()", torch="torch.__version__",
            cuda="bool(torch.cuda.is_available())", mps="bool(torch.backends.mps.is_available())",
            python_ok='version_at_least(python_version, "3.10")',
            torch_ok='version_at_least(torch.__version__, "2.0")') -> str:
    return _REPORT.format(python=python, torch=torch, cuda=cuda, mps=mps, python_ok=python_ok, torch_ok=torch_ok)


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
        # environment_report's python_ok uses it: "3.9.x" >= "3.10" as text, on the simulated Python 3.9
        loses=frozenset({"test_version_at_least_multi_digit_parts", "test_version_at_least_pre_releases",
                         "test_version_at_least_different_lengths", "test_environment_report_version_flags"}),
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
        # python_ok, computed from the written-down version, is wrong on the simulated Python 3.9
        loses=frozenset({"test_environment_report_versions", "test_environment_report_version_flags"}),
        message_contains="platform.python_version",
    ),
    Mutant(
        name="truncated_python",
        defect="takes the first characters of sys.version, which drops the patch number",
        cells={"environment_report": _report(python="sys.version[:4]")},
        # "3.9." is no version: python_ok cannot be computed from it on the simulated Python 3.9
        loses=frozenset({"test_environment_report_versions", "test_environment_report_version_flags"}),
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
        # the '+cpu' label is not the cause: the local-label check must not blame it; environment_report's
        # python_ok uses it (3.9 >= 3.1 on the simulated Python 3.9)
        loses=frozenset({"test_version_at_least_simple_cases", "test_version_at_least_multi_digit_parts",
                         "test_version_at_least_pre_releases", "test_environment_report_version_flags"}),
    ),
    Mutant(
        name="cuda_from_the_build",
        defect="reports whether PyTorch was built with CUDA instead of whether a GPU is usable",
        cells={"environment_report": _report(cuda="torch.backends.cuda.is_built()")},
        loses=frozenset({"test_environment_report_cuda"}),
    ),
    Mutant(
        name="label_stripped_from_version_only",
        defect="strips the local label from the version but not from the minimum, so a minimum such as "
               "'2.4.1+cu121' cannot be read",
        cells={"version_at_least": '''
def version_at_least(version: str, minimum: str) -> bool:
    def parts(text):
        numbers = [int(part) for part in text.split(".")]
        return numbers + [0] * (3 - len(numbers))
    return parts(version.split("+")[0]) >= parts(minimum)
'''},
        loses=frozenset({"test_version_at_least_local_tags", "test_version_at_least_pre_releases"}),
    ),
    Mutant(
        name="torch_ok_from_python",
        defect="computes torch_ok from the Python version, which is 2.0 or newer on every machine",
        cells={"environment_report": _report(torch_ok='version_at_least(python_version, "2.0")')},
        loses=frozenset({"test_environment_report_version_flags"}),
        message_contains='report["torch_ok"] is wrong for a pytorch version older than 2.0',
    ),
    Mutant(
        name="torch_ok_copies_python_ok",
        defect="copies the python_ok line for torch_ok and forgets to change the version it reads",
        cells={"environment_report": _report(torch_ok='version_at_least(python_version, "3.10")')},
        loses=frozenset({"test_environment_report_version_flags"}),
    ),
    Mutant(
        name="python_ok_minor_only",
        defect="compares only the minor number (sys.version_info.minor >= 10), which is wrong for Python 4.0",
        cells={"environment_report": _report(python_ok="sys.version_info.minor >= 10")},
        loses=frozenset({"test_environment_report_version_flags"}),
        message_contains='report["python_ok"] is wrong for a python version 3.10 or newer',
    ),
    Mutant(
        name="python_ok_as_float",
        defect="turns 'major.minor' into a float, so 3.9 counts as newer than 3.10 (read as 3.1)",
        cells={"environment_report": _report(python_ok='float(".".join(python_version.split(".")[:2])) >= 3.10')},
        loses=frozenset({"test_environment_report_version_flags"}),
    ),
    Mutant(
        name="versions_read_once",
        defect="reads the versions once, when the cell runs, and reports that stale reading on every call",
        cells={"environment_report": "PYTHON_VERSION = platform.python_version()\nTORCH_VERSION = torch.__version__\n"
                                     + _report(python="PYTHON_VERSION", torch="TORCH_VERSION",
                                               torch_ok='version_at_least(TORCH_VERSION, "2.0")')},
        loses=frozenset({"test_environment_report_versions", "test_environment_report_version_flags"}),
        message_contains="every time it runs",
    ),
    Mutant(
        name="python_fixed_width",
        defect="takes the first six characters of sys.version, which fit 3.11.7 but not 4.0.0 or 3.10.12",
        cells={"environment_report": _report(python="sys.version[:6]")},
        loses=frozenset({"test_environment_report_versions"}),
    ),
    Mutant(
        name="torch_version_written_down",
        defect="writes the PyTorch version of the student's machine down instead of reading torch.__version__",
        cells={"environment_report": _report(torch='"2.13.0+cpu"')},
        loses=frozenset({"test_environment_report_versions"}),
        message_contains="torch.__version__",
    ),
]
