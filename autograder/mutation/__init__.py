"""Mutation testing of the reference solutions: how strong are the hidden suites?

``autograder mutate`` takes each solution cell of a reference notebook, applies every
mutation operator of cosmic-ray at every place it fits (one small change per mutant),
grades each mutant notebook with the batch grader in the sandbox, and reports which
mutants the suites catch.  A survivor is a plausible wrong solution that keeps full marks.

One module per job:

* :mod:`~autograder.mutation.engine`: cosmic-ray's operators, applied to a cell's source text;
* :mod:`~autograder.mutation.mutants`: the mutants of a reference notebook, one per operator and place;
* :mod:`~autograder.mutation.selection`: which functions, and a reproducible sample of the mutants;
* :mod:`~autograder.mutation.equivalent`: the reviewed files of mutants that behave like the reference;
* :mod:`~autograder.mutation.class_folder`: the mutants as a class, one "student" folder per mutant;
* :mod:`~autograder.mutation.grading`: that class, graded in parallel by the batch grader;
* :mod:`~autograder.mutation.classify` and :mod:`~autograder.mutation.outcomes`: killed, survived,
  timed out or equivalent, as frozen dataclasses;
* :mod:`~autograder.mutation.run`: the whole run, notebook by notebook;
* :mod:`~autograder.mutation.reporter` and :mod:`~autograder.mutation.progress`: what is printed;
* :mod:`~autograder.mutation.command`: the ``autograder mutate`` front door.

cosmic-ray is an optional dependency (the ``dev`` extra): only this package imports it, and
only :mod:`~autograder.mutation.engine` does so directly.
"""
