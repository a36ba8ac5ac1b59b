"""Correct submissions written in another style than the reference solutions.

Each ``tests/alternatives/<stem>.py`` defines ``ALTERNATIVES``: a dict from a style's
name to a dict mapping the ``grade_id`` of solution cells of that notebook to a
replacement source that is correct but written differently (``torch.matmul`` vs ``@``, ``.reshape`` vs
``.contiguous().view``, a hand-written version compare, ...).  Such a notebook must
score full marks.
"""
