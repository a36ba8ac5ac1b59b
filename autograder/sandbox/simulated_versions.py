"""A consistent story about the Python and torch versions, told to a notebook process.

Runs inside the notebook process.  Checks of version logic (``environment_report``'s
``python_ok`` and ``torch_ok``) need installations the grader lacks: Python 3.9 or 4.0,
torch 1.13 or a CUDA build.  So the process is told one, and every place a notebook
reads a version from is replaced at once, so that all of them agree:
``sys.version_info``, ``sys.version``, ``sys.hexversion``, ``platform.python_version()``,
``platform.python_version_tuple()``, ``torch.__version__`` and ``torch.version.__version__``.

Nothing the process does under such a story is believed: the grader only judges the
answer (a dict of versions and flags) against the versions it described.
"""

from __future__ import annotations

import platform
import re
import sys
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import torch
from torch.torch_version import TorchVersion

SimulatedVersionInfo = namedtuple("version_info", "major minor micro releaselevel serial")
"""Stands in for ``sys.version_info``: a tuple with the same fields, so comparisons such as
``sys.version_info >= (3, 10)`` and ``sys.version_info.minor`` work as on a real interpreter."""

_PYTHON_RELEASE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class PythonRelease:
    """A final CPython release such as 3.10.4, the form ``platform.python_version()`` gives."""

    major: int
    minor: int
    micro: int

    @classmethod
    def parse(cls, text: str) -> "PythonRelease":
        match = _PYTHON_RELEASE.fullmatch(str(text))
        if match is None:
            raise ValueError(f"a simulated Python version is written like '3.10.4', got {text!r}")
        return cls(*(int(part) for part in match.groups()))

    @property
    def text(self) -> str:
        return f"{self.major}.{self.minor}.{self.micro}"

    @property
    def version_info(self) -> SimulatedVersionInfo:
        return SimulatedVersionInfo(self.major, self.minor, self.micro, "final", 0)

    @property
    def hexversion(self) -> int:
        return (self.major << 24) | (self.minor << 16) | (self.micro << 8) | (0xF << 4)

    def sys_version(self, real: str) -> str:
        """``sys.version`` of this release: the real build text after the version number."""
        _, _, build = real.partition(" ")
        return f"{self.text} {build}" if build else self.text


@dataclass(frozen=True)
class Replacement:
    """``owner.attribute`` becomes ``value``."""

    owner: Any
    attribute: str
    value: Any


def version_replacements(*, python: str | None, torch_version: str | None) -> list[Replacement]:
    """What to replace so that the process sees these versions (``None``: keep the real one)."""
    plan: list[Replacement] = []
    if python is not None:
        release = PythonRelease.parse(python)
        version_tuple = (str(release.major), str(release.minor), str(release.micro))
        plan += [
            Replacement(sys, "version_info", release.version_info),
            Replacement(sys, "version", release.sys_version(sys.version)),
            Replacement(sys, "hexversion", release.hexversion),
            Replacement(platform, "python_version", _constant(release.text)),
            Replacement(platform, "python_version_tuple", _constant(version_tuple)),
        ]
    if torch_version is not None:
        text = str(torch_version)
        if not text:
            raise ValueError("a simulated torch version cannot be empty")
        plan.append(Replacement(torch, "__version__", TorchVersion(text)))
        if hasattr(torch, "version"):
            plan.append(Replacement(torch.version, "__version__", TorchVersion(text)))
    return plan


class SimulatedVersions:
    """Applies :func:`version_replacements` and puts the originals back on :meth:`restore`."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []

    def apply(self, *, python: str | None, torch_version: str | None) -> None:
        self.restore()
        plan = version_replacements(python=python, torch_version=torch_version)  # all checked before any change
        for item in plan:
            self._originals.append((item.owner, item.attribute, getattr(item.owner, item.attribute)))
            setattr(item.owner, item.attribute, item.value)

    def restore(self) -> None:
        for owner, attribute, original in reversed(self._originals):
            setattr(owner, attribute, original)
        self._originals.clear()


def _constant(value: Any):
    def simulated(*_args: Any, **_kwargs: Any) -> Any:
        return value
    return simulated
