"""Failures of the grader itself, as opposed to a student's submission."""

from __future__ import annotations


class GraderError(Exception):
    """The grader itself cannot proceed (bad suites, bad configuration); not the student's fault."""
