"""Typed options shared by the front doors (``autograder grade``, ``demo``, ``validate``, ``ci``).

The command line fills these once, in :mod:`autograder.cli`; commands that run other
commands' work (``demo`` grades a class, ``ci`` grades a checkout) build them as
ordinary dataclasses, so an option added to one command cannot break another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import AssignmentSpec, assignment, default_suites_dir, secret_paths
from autograder.errors import UsageError

ISOLATION_LEVELS = ("best-effort", "strict")


@dataclass(frozen=True)
class Output:
    """How much a command prints, and in which format."""

    quiet: bool = False
    verbose: bool = False
    format: str = "text"  # "text" for people, "json" for programs (one JSON document on stdout)

    def say(self, text: str) -> None:
        """Print a progress or summary line, unless quiet or printing JSON."""
        if not self.quiet and self.format == "text":
            print(text)


@dataclass(frozen=True)
class SandboxOptions:
    """Where the hidden suites are, how student code is confined, and which random inputs are drawn."""

    assignment: str = "appendix_a"
    suites: Path | None = None
    seed: int | None = None
    limits: tuple[str, ...] = ()
    isolation: str = "best-effort"
    sandbox_user: str = "nobody"
    notebooks: tuple[str, ...] = field(default=())

    def spec(self) -> AssignmentSpec:
        return assignment_spec(self.assignment, self.notebooks)

    def suites_dir(self) -> Path:
        return (self.suites or default_suites_dir(self.assignment)).resolve()

    def setup(self, *, extra_masks: tuple[Path, ...] = ()):
        """The grading engine's setup: assignment, suites, sandbox limits and isolation plan."""
        from autograder.grading.pool import GradingSetup
        from autograder.sandbox.client import SandboxSettings
        from autograder.sandbox.isolation import STRICT_PROTECTIONS, IsolationPlan
        from autograder.sandbox.limits import Limits

        if self.isolation not in ISOLATION_LEVELS:
            raise UsageError(f"--isolation: {self.isolation!r} is not one of {', '.join(ISOLATION_LEVELS)}")
        try:
            limits = Limits().with_overrides(list(self.limits), source="--limit")
        except ValueError as error:  # Limits names the option and the bad value
            raise UsageError(str(error)) from None
        suites = self.suites_dir()
        masks = secret_paths(suites_dir=suites, extra=extra_masks)
        required = STRICT_PROTECTIONS if self.isolation == "strict" else ()
        settings = SandboxSettings(limits=limits, plan=IsolationPlan(user=self.sandbox_user or None, mask_paths=masks),
                                   require=required)
        return GradingSetup(assignment=self.spec(), suites_dir=suites, sandbox_settings=settings, seed=self.seed)


def assignment_spec(name: str, notebooks: tuple[str, ...] | list[str] = ()) -> AssignmentSpec:
    """The assignment ``name``, restricted to ``notebooks`` when any are given; unknown names are usage errors."""
    try:
        return assignment(name).subset(list(notebooks))
    except KeyError as error:
        raise UsageError(f"{error.args[0]} (see --assignment and --notebook)") from None
