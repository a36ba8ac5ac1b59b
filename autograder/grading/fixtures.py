"""The fixtures hidden suites use, registered next to :class:`GradingPlugin` for each grading run."""

from __future__ import annotations

from typing import Iterator

import pytest
import torch

from autograder.grading.plugin import PLUGIN_KEY
from autograder.grading.session import StudentNotebook


@pytest.fixture(scope="module")
def nb(request: pytest.FixtureRequest) -> Iterator[StudentNotebook]:
    """The student's notebook named by the suite's ``NOTEBOOK``, run once per suite module.

    Its process ends with the module, so a worker holds one notebook process at a time.
    """
    session = request.config.stash[PLUGIN_KEY].session_for(request.module)
    yield session
    session.close()


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> torch.Generator:
    """A generator seeded from the run's seed and the check's name."""
    return request.config.stash[PLUGIN_KEY].generator_for(request.node.name)
