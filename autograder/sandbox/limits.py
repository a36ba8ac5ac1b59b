"""Resource limits for one sandboxed notebook process, with their defaults.

Every field can be set from the CLI (``--limit memory=1GiB``) or from Python.
Values are validated where they come from, so a bad value names its source.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1000, "kib": 1 << 10, "m": 1 << 20, "mb": 1000**2,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1000**3, "gib": 1 << 30}


@dataclass(frozen=True)
class Limits:
    cell_seconds: float = 30.0
    """Wall time for one notebook cell; the cell is interrupted, later cells still run."""
    notebook_seconds: float = 300.0
    """Wall time for running all of a notebook's cells; the rest are skipped."""
    call_seconds: float = 20.0
    """Wall time for one call of a student function made by a hidden check."""
    check_seconds: float = 60.0
    """Wall time for all the calls one hidden check makes; later calls fail at once."""
    checks_seconds: float = 60.0
    """Wall time for all the hidden checks of one notebook together; checks that find it used up are not run
    (they fail, each saying so), so a notebook whose functions are slow on purpose costs at most this."""
    student_seconds: float = 120.0
    """Wall time for a whole submission: every notebook's cells and checks.  What finds it used up is not run,
    so every student's cost is bounded before grading starts, whatever the notebooks do."""
    cpu_seconds: int = 600
    """CPU time for one notebook process (RLIMIT_CPU)."""
    memory_bytes: int = 2 << 30
    """Address space for one notebook process (RLIMIT_AS)."""
    processes: int = 128
    """Processes and threads of one notebook (RLIMIT_NPROC of its own user); applied only as root.
    Enough for a few torch.distributed ranks with their threads, not for a fork bomb."""
    file_bytes: int = 256 << 20
    """Largest file a notebook may write (RLIMIT_FSIZE)."""
    scratch_bytes: int = 512 << 20
    """Size of a notebook's private /tmp (its working directory) and of its /dev/shm; applied only as root."""
    output_bytes: int = 64 << 10
    """Printed output kept per notebook; the rest is dropped with a truncation marker."""
    reply_bytes: int = 64 << 20
    """Largest single reply accepted from a notebook process."""
    threads: int = 1
    """torch intra-op threads inside the notebook process."""
    restarts: int = 2
    """How often a crashed notebook process is restarted to grade the remaining checks."""

    def with_overrides(self, pairs: list[str], *, source: str) -> "Limits":
        """Apply ``name=value`` strings; ``source`` names where they came from in errors."""
        changes: dict[str, object] = {}
        fields = {f.name: f for f in dataclasses.fields(self)}
        aliases = {"memory": "memory_bytes", "output": "output_bytes", "file": "file_bytes",
                   "reply": "reply_bytes", "scratch": "scratch_bytes",
                   "cell": "cell_seconds", "notebook": "notebook_seconds",
                   "call": "call_seconds", "check": "check_seconds", "checks": "checks_seconds",
                   "student": "student_seconds", "cpu": "cpu_seconds"}
        for pair in pairs:
            name, sep, raw = pair.partition("=")
            name = aliases.get(name.strip(), name.strip())
            if not sep or name not in fields:
                known = ", ".join(sorted(set(fields) | set(aliases)))
                raise ValueError(f"{source}: unknown limit {pair!r}; use NAME=VALUE with NAME one of {known}")
            changes[name] = _parse(name, raw.strip(), fields[name].type, source)
        return dataclasses.replace(self, **changes)


def _parse(name: str, raw: str, kind: object, source: str) -> object:
    try:
        if name.endswith("_bytes"):
            match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", raw)
            if not match or match.group(2).lower() not in _UNITS:
                raise ValueError
            value: float = float(match.group(1)) * _UNITS[match.group(2).lower()]
            return int(value)
        value = float(raw) if "float" in str(kind) else int(raw)
    except ValueError:
        unit = " (a size such as 512MiB or 2GiB)" if name.endswith("_bytes") else ""
        raise ValueError(f"{source}: limit {name}={raw!r} is not a valid number{unit}") from None
    if value <= 0 and name != "restarts":
        raise ValueError(f"{source}: limit {name} must be positive, got {raw!r}")
    return value


def describe_bytes(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"
