"""PyTorch-fundamentals exercises with hidden, sandboxed grading.

Importing this package is cheap on purpose: the sandboxed child imports
``autograder.sandbox`` modules, and nothing here may pull the grading side
(hidden suites, references) into the child's memory.
"""

__version__ = "0.1.0"
