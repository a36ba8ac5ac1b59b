"""Running one notebook cell as plain Python: the one place that turns IPython syntax into Python.

The grading sandbox (:mod:`autograder.sandbox.kernel`) and ``autograder check`` (on the
student's machine) both execute cells through :func:`execute`, so a cell behaves the same
in both.  IPython itself is not used: it is not a dependency of the student release, and
its translation of a magic calls ``get_ipython()``, which exists only in a real kernel.
The rules, decided once:

* a line magic or shell escape (``%matplotlib inline``, ``!pip install x``, ``%time y = f()``),
  at any indentation, becomes ``pass`` at that indentation; ``%time``/``%timeit`` keep the
  statement they time, and ``name = !cmd`` / ``name = %magic`` assign ``None``;
* a cell magic that only wraps Python (``%%time``, ``%%timeit``, ``%%capture``) is dropped
  and its body runs; a cell in another language (``%%bash``, ``%%writefile``, ...) does not run;
* help syntax (``obj?``, ``obj??``) becomes ``pass``.
"""

from __future__ import annotations

import re

_CELL_MAGIC = re.compile(r"^\s*%%(\w+)")
_WRAPPING_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_TIMED_LINE = re.compile(r"^(\s*)%(?:time|timeit)(?:\s+-\S+(?:\s+\d+)?)*\s+(.+)$")
_ASSIGNED_MAGIC = re.compile(r"^(\s*)([A-Za-z_][\w.]*)\s*=\s*[%!].*$")
_MAGIC_LINE = re.compile(r"^(\s*)[%!].*$")
_HELP_LINE = re.compile(r"^(\s*)[\w.]+\?\??\s*$")


def to_python(source: str) -> str:
    """``source`` with IPython-only syntax replaced as the module docstring says; line numbers are kept."""
    lines = source.splitlines()
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is not None and (magic := _CELL_MAGIC.match(lines[first])):
        if magic.group(1) not in _WRAPPING_CELL_MAGICS:
            return "\n".join("pass" if index == first else "" for index in range(len(lines)))
        lines[first] = ""
    return "\n".join(_line(line) for line in lines)


def _line(line: str) -> str:
    if match := _TIMED_LINE.match(line):
        return f"{match.group(1)}{match.group(2)}"
    if match := _ASSIGNED_MAGIC.match(line):
        return f"{match.group(1)}{match.group(2)} = None"
    if match := _MAGIC_LINE.match(line) or _HELP_LINE.match(line):
        return f"{match.group(1)}pass"
    return line


def execute(source: str, namespace: dict, *, name: str) -> None:
    """Run one cell's ``source`` in ``namespace``; its exceptions propagate (``name`` is ``<cell N>``)."""
    exec(compile(to_python(source), name, "exec"), namespace)  # noqa: S102 - the student's code, where it belongs
