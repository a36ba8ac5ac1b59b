"""A correct 01_setup.ipynb written in another style than the reference solution."""

NOTEBOOK = "01_setup"

_HAND_WRITTEN = {
    "version_at_least": '''
import re

_PATTERN = re.compile(r"^v?(\\d+(?:\\.\\d+)*)(?:(a|b|rc)(\\d+))?(?:\\+[0-9a-z.]+)?$", re.IGNORECASE)
_PRE_RANK = {"a": 0, "b": 1, "rc": 2}


def _version_key(text, width):
    match = _PATTERN.match(text.strip())
    if match is None:
        raise ValueError(f"not a version: {text!r}")
    release = [int(part) for part in match.group(1).split(".")]
    release += [0] * (width - len(release))
    if match.group(2):
        stage = (0, _PRE_RANK[match.group(2).lower()], int(match.group(3)))
    else:
        stage = (1, 0, 0)  # a final release sorts after all of its pre-releases
    return tuple(release), stage


def version_at_least(version: str, minimum: str) -> bool:
    width = max(len(version.split(".")), len(minimum.split(".")), 4)
    return _version_key(version, width) >= _version_key(minimum, width)
''',
    "environment_report": '''
def environment_report() -> dict:
    major, minor, micro = sys.version_info[:3]
    python_text = f"{major}.{minor}.{micro}"
    torch_text = str(torch.__version__)
    report = {"python": python_text, "torch": torch_text}
    report["cuda"] = torch.cuda.is_available() is True
    report["mps"] = torch.backends.mps.is_available() is True
    report["python_ok"] = sys.version_info >= (3, 10)
    report["torch_ok"] = torch.__version__ >= (2, 0)
    return report
''',
}

# Asks about the build before the device, and counts CUDA devices: documented idioms that a
# simulated machine must answer consistently.
_BUILD_AND_COUNT = {
    "environment_report": '''
def environment_report() -> dict:
    python_version = platform.python_version()
    return {
        "python": python_version,
        "torch": torch.__version__,
        "cuda": torch.backends.cuda.is_built() and torch.cuda.device_count() > 0,
        "mps": torch.backends.mps.is_built() and torch.backends.mps.is_available(),
        "python_ok": version_at_least(python_version, "3.10"),
        "torch_ok": version_at_least(torch.__version__, "2.0"),
    }
''',
}

# Reads the versions from other documented places: each must follow a simulated installation too.
_OTHER_SOURCES = {
    "environment_report": '''
def environment_report() -> dict:
    python_version = sys.version.split()[0]
    return {
        "python": python_version,
        "torch": torch.version.__version__,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "python_ok": sys.version_info[:2] >= (3, 10),
        "torch_ok": Version(torch.__version__) >= Version("2.0"),
    }
''',
}

ALTERNATIVES = {"hand_written_versions": _HAND_WRITTEN, "build_and_count": _BUILD_AND_COUNT,
                "other_version_sources": _OTHER_SOURCES}
