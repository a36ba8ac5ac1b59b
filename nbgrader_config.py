"""nbgrader configuration for this course (the repository root is the course directory).

Released student notebooks go to ``exercises/`` so that
``nbgrader generate_assignment appendix_a`` regenerates exactly what is committed.
"""

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "pytorch-appendix-a"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# The visible checks import the student-side helper; the hidden suites are not in the notebooks.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
