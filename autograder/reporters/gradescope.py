"""Gradescope's results.json format, built from a :class:`SubmissionResult`.

Only what students may see goes in: check names, descriptions, points and the
checks' own messages.  Hidden test code and expected values never reach a result.
"""

from __future__ import annotations

from typing import Any

from autograder.grading.results import Status, SubmissionResult


def to_gradescope(result: SubmissionResult, *, visibility: str = "visible") -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    for nb_index, notebook in enumerate(result.notebooks, start=1):
        if notebook.problems:
            tests.append({
                "name": f"{notebook.notebook}: notebook run",
                "number": f"{nb_index}.0",
                "score": 0,
                "max_score": 0,
                "status": "failed",
                "output": "\n".join(notebook.problems),
                "tags": [notebook.notebook],
                "visibility": visibility,
            })
        for check_index, check in enumerate(notebook.checks, start=1):
            passed = check.status is Status.PASSED
            output = check.description
            if check.status is Status.NOT_AVAILABLE:
                output += f"\nNot available: {check.message}"
            elif not passed:
                output += f"\n{check.message}"
            test = {
                "name": f"{notebook.notebook}: {check.name}",
                "number": f"{nb_index}.{check_index}",
                "score": check.points,
                "max_score": 0 if check.extra_credit else check.max_points,
                "status": "passed" if passed else "failed",
                "output": output,
                "tags": [notebook.notebook] + (["extra-credit"] if check.extra_credit else []),
                "visibility": visibility,
            }
            if check.status is Status.NOT_AVAILABLE:
                # Neither passed nor failed: Gradescope shows a test without a status by its score
                # (0 of 0), never in red; the reason stays in the output and in extra_data.
                del test["status"]
                test["extra_data"] = {"status": Status.NOT_AVAILABLE.value, "reason": check.message}
            tests.append(test)
    return {
        "score": result.points + result.extra_credit,
        "execution_time": round(result.seconds, 3),
        "output": f"{result.assignment}: {result.points:g}/{result.max_points:g}"
                  + (f" + {result.extra_credit:g} extra credit" if result.extra_credit else ""),
        "tests": tests,
        "extra_data": {
            "max_score": result.max_points,
            "extra_credit": result.extra_credit,
            "seed": result.seed,
            "protections": list(result.protections),
        },
    }
