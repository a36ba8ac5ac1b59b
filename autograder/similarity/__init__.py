"""``autograder similarity``: which students handed in code that is too alike.

- :mod:`.handout`: what every student got (the exercise notebooks): which cells are solution
  cells, their stub text, and all of the handout's code as boilerplate.
- :mod:`.student_code`: per student and notebook, only the code they wrote in solution cells.
- :mod:`.fingerprints`: copydetect's winnowed fingerprints, every pair compared, ranked.
- :mod:`.results`: the frozen results (:class:`PairScore`, :class:`NotebookMatch`).
- :mod:`.csv_report`, :mod:`.html_report`, :mod:`.text_report`: the three ways results are written.
- :mod:`.command`: the command itself.

Student code is only read as text, never run.
"""
