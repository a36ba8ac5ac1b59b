"""``autograder similarity`` on a generated class: copied pairs first, independent work and the handout below.

The class: four students who each wrote 02_tensors and 03_autograd in a style of their own (the
reference solution is one of them), two who copied one of those four and disguised it (names
changed, cells moved, comments changed and added), and two who handed in the untouched exercises.
"""

from __future__ import annotations

import csv
import html.parser
import json
import re
import shutil
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.course import APPENDIX_A
from autograder.similarity.command import similarity_pairs
from tests.conftest import EXERCISES, SOLUTIONS

pytest.importorskip("copydetect")

# A pair scoring this much or more is worth a look (docs/instructor-guide.md, "Similar submissions").
THRESHOLD = 0.5
SCRIPT = "<script>alert('xss')</script>"

# Function bodies, by style; the reference solution (solutions/) is the fourth independent style.
STYLE_LOOPS = {
    "make_tensors": """
    values = [1, 2, 3]
    rank0 = torch.tensor(values[0], dtype=torch.int64)
    rank1 = torch.tensor(values, dtype=torch.int64)
    rank2 = torch.arange(1, 5).reshape(2, 2)
    rank3 = torch.arange(1, 9).reshape(2, 2, 2)
    return (rank0, rank1, rank2, rank3)""",
    "to_float32": """
    return t.float()""",
    "reshape_to": """
    return t.contiguous().view(rows, cols)""",
    "transpose": """
    return t.transpose(0, 1)""",
    "gram": """
    n = t.shape[0]
    out = torch.zeros(n, n, dtype=t.dtype)
    for i in range(n):
        for j in range(n):
            out[i, j] = (t[i] * t[j]).sum()
    return out""",
    "logistic_forward": """
    return 1 / (1 + torch.exp(-(w1 * x1 + b)))""",
    "logistic_loss": """
    p = logistic_forward(x1, w1, b)
    losses = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    return losses.mean()""",
    "loss_gradients": """
    params = [w1.clone().detach(), b.clone().detach()]
    for param in params:
        param.requires_grad = True
    grads = torch.autograd.grad(logistic_loss(x1, params[0], params[1], y), params)
    return grads[0], grads[1]""",
    "backward_gradients": """
    weight = torch.tensor(w1.tolist(), requires_grad=True)
    offset = torch.tensor(b.tolist(), requires_grad=True)
    total = logistic_loss(x1, weight, offset, y)
    total.backward()
    return weight.grad, offset.grad""",
}

STYLE_FUNCTIONAL = {
    "make_tensors": """
    data = (1, [1, 2, 3], [[1, 2], [3, 4]], [[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
    return tuple(torch.tensor(d) for d in data)""",
    "to_float32": """
    return t.type(torch.float32)""",
    "reshape_to": """
    return torch.reshape(t, (rows, cols))""",
    "transpose": """
    return torch.t(t)""",
    "gram": """
    return torch.einsum("ij,kj->ik", t, t)""",
    "logistic_forward": """
    return torch.sigmoid(torch.add(torch.mul(x1, w1), b))""",
    "logistic_loss": """
    return torch.nn.BCELoss()(logistic_forward(x1, w1, b), y)""",
    "loss_gradients": """
    inputs = (w1.detach().requires_grad_(), b.detach().requires_grad_())
    return tuple(torch.autograd.grad(logistic_loss(x1, *inputs, y), inputs))""",
    "backward_gradients": """
    leaves = [w1.detach().requires_grad_(), b.detach().requires_grad_()]
    logistic_loss(x1, leaves[0], leaves[1], y).backward()
    return tuple(leaf.grad for leaf in leaves)""",
}

STYLE_STEPWISE = {
    "make_tensors": """
    out = []
    out.append(torch.tensor(1))
    out.append(torch.tensor([1, 2, 3]))
    out.append(torch.tensor([1, 2, 3, 4]).view(2, 2))
    out.append(torch.arange(1, 9, dtype=torch.int64).view(2, 2, 2))
    return tuple(out)""",
    "to_float32": """
    return torch.as_tensor(t, dtype=torch.float32)""",
    "reshape_to": """
    flat = t.flatten()
    return flat.reshape(rows, cols)""",
    "transpose": """
    return t.permute(1, 0)""",
    "gram": """
    product = torch.mm(t, t.transpose(0, 1))
    return product""",
    "logistic_forward": """
    linear = torch.addcmul(b, x1, w1)
    return linear.sigmoid()""",
    "logistic_loss": """
    prob = logistic_forward(x1, w1, b)
    return torch.nn.functional.binary_cross_entropy(prob, y, reduction="mean")""",
    "loss_gradients": """
    w_copy = w1.detach().clone()
    b_copy = b.detach().clone()
    w_copy.requires_grad_(True)
    b_copy.requires_grad_(True)
    value = logistic_loss(x1, w_copy, b_copy, y)
    dw, db = torch.autograd.grad(outputs=value, inputs=[w_copy, b_copy])
    return dw, db""",
    "backward_gradients": """
    w_copy = w1.detach().clone()
    b_copy = b.detach().clone()
    w_copy.requires_grad_(True)
    b_copy.requires_grad_(True)
    if w_copy.grad is not None:
        w_copy.grad.zero_()
    logistic_loss(x1, w_copy, b_copy, y).backward()
    return w_copy.grad, b_copy.grad""",
}


def disguise(bodies: dict[str, str], renames: dict[str, str], comment: str) -> dict[str, str]:
    """The same code with names changed and a comment of the copier's own on every function."""
    disguised = {}
    for function, body in bodies.items():
        for old, new in renames.items():
            body = re.sub(rf"\b{old}\b", new, body)
        disguised[function] = f"\n    # {comment}" + body.replace("\n    return", "\n    # done\n    return", 1)
    return disguised


COPY_OF_LOOPS = disguise(STYLE_LOOPS, {"rank0": "zero_d", "rank1": "one_d", "rank2": "two_d", "rank3": "three_d", "values": "nums", "out": "result", "params": "ps",
                                        "param": "q", "grads": "gradients", "weight": "w_new", "offset": "b_new",
                                        "total": "loss", "losses": "per_sample", "n": "size"},
                         comment=f"my own work {SCRIPT}")
COPY_OF_STEPWISE = disguise(STYLE_STEPWISE, {"w_copy": "weights", "b_copy": "bias_copy", "out": "tensors",
                                              "flat": "flattened", "product": "res", "linear": "z", "prob": "p_hat",
                                              "value": "loss_val", "dw": "grad_weights", "db": "grad_bias"},
                            comment="computes the answer step by step")


def _stub_cells(stem: str) -> dict:
    return json.loads((EXERCISES / f"{stem}.ipynb").read_text(encoding="utf-8"))


def write_submission(target: Path, bodies: dict[str, str] | None, *, reorder: bool = False) -> None:
    """The exercises with each function's stub body replaced by ``bodies`` (None: the untouched handout)."""
    target.mkdir(parents=True)
    for notebook in APPENDIX_A.notebooks:
        if bodies is None or notebook.stem not in ("02_tensors", "03_autograd"):
            shutil.copy(EXERCISES / notebook.filename, target)
            continue
        document = _stub_cells(notebook.stem)
        solution_cells = []
        for cell in document["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell["cell_type"] == "code" and grade_id in bodies:
                source = "".join(cell["source"])
                cell["source"] = source.replace("\n    # YOUR CODE HERE\n    raise NotImplementedError()",
                                                bodies[grade_id])
                solution_cells.append(cell)
        if reorder:  # the copier moved the solution cells around: last function first
            positions = [document["cells"].index(cell) for cell in solution_cells]
            for position, cell in zip(positions, reversed(solution_cells)):
                document["cells"][position] = cell
        (target / notebook.filename).write_text(json.dumps(document), encoding="utf-8")


def reference_submission(target: Path) -> None:
    target.mkdir(parents=True)
    for notebook in APPENDIX_A.notebooks:
        shutil.copy(SOLUTIONS / notebook.filename, target)


COPIED = {("loops", "loops_copy"), ("stepwise", "stepwise_copy")}
HANDOUT_ONLY = {"handout_1", "handout_2"}


@pytest.fixture(scope="module")
def class_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("class")
    reference_submission(root / "reference")
    write_submission(root / "loops", STYLE_LOOPS)
    write_submission(root / "functional", STYLE_FUNCTIONAL)
    write_submission(root / "stepwise", STYLE_STEPWISE)
    write_submission(root / "loops_copy", COPY_OF_LOOPS, reorder=True)
    write_submission(root / "stepwise_copy", COPY_OF_STEPWISE, reorder=True)
    for name in HANDOUT_ONLY:
        write_submission(root / name, None)
    return root


@pytest.fixture(scope="module")
def pairs(class_dir):
    return similarity_pairs(class_dir=class_dir, spec=APPENDIX_A, exercises_dir=EXERCISES)


def test_copied_pairs_rank_first_and_independent_work_stays_below_the_threshold(pairs):
    scores = {(pair.student_a, pair.student_b): pair.score for pair in pairs}
    assert len(scores) == 28
    assert {(pair.student_a, pair.student_b) for pair in pairs[:2]} == COPIED, pairs[:3]
    independent = {key: score for key, score in scores.items() if key not in COPIED}
    assert min(scores[key] for key in COPIED) > max(independent.values())
    assert max(independent.values()) < THRESHOLD, sorted(independent.items(), key=lambda item: -item[1])[:3]
    flagged = {key for key, score in scores.items() if score >= THRESHOLD}
    precision = len(flagged & COPIED) / len(flagged) if flagged else 1.0
    recall = len(flagged & COPIED) / len(COPIED)
    print(f"\nsimilarity at threshold {THRESHOLD}: precision {precision:.2f}, recall {recall:.2f}; "
          f"copied {sorted(round(scores[key], 3) for key in COPIED)}, "
          f"highest independent {max(independent.values()):.3f}")
    assert precision == 1.0 and recall == 1.0


def test_the_handout_matches_nothing(pairs):
    for pair in pairs:
        if {pair.student_a, pair.student_b} & HANDOUT_ONLY:
            assert pair.score == 0.0, pair
            if {pair.student_a, pair.student_b} <= HANDOUT_ONLY:
                assert all(not match.code_a and not match.code_b for match in pair.notebooks)


def test_matched_regions_lie_in_the_code_and_score_is_a_fraction(pairs):
    for pair in pairs:
        assert 0.0 <= pair.score <= 1.0
        for match in pair.notebooks:
            assert 0.0 <= match.score <= 1.0
            for code, regions in ((match.code_a, match.regions_a), (match.code_b, match.regions_b)):
                assert all(0 <= start < end <= len(code) for start, end in regions)
    top = pairs[0]
    assert any(match.regions_a and match.regions_b for match in top.notebooks)
    assert all("import torch" not in match.code_a + match.code_b for match in top.notebooks)


class _Parsed(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [value for name, value in attrs if name in ("src", "href") and value]

    def handle_data(self, data):
        self.text.append(data)


def test_command_writes_csv_html_and_the_top_pairs(class_dir, tmp_path, capsys):
    csv_path, html_path = tmp_path / "pairs.csv", tmp_path / "pairs.html"
    assert main(["similarity", str(class_dir), "--to", str(csv_path), "--html", str(html_path), "--top", "3"]) == 0
    printed = capsys.readouterr().out
    assert "loops / loops_copy" in printed and "stepwise / stepwise_copy" in printed

    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "student_a,student_b,score"
    rows = list(csv.DictReader(lines))
    assert len(rows) == 28
    assert {(row["student_a"], row["student_b"]) for row in rows[:2]} == COPIED
    assert all(len(row["score"].split(".")[1]) == 3 for row in rows)
    assert [float(row["score"]) for row in rows] == sorted((float(row["score"]) for row in rows), reverse=True)

    page = html_path.read_text(encoding="utf-8")
    parsed = _Parsed()
    parsed.feed(page)
    parsed.close()
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert all(link.startswith("#") for link in parsed.links)  # nothing loaded from elsewhere
    assert SCRIPT not in page and "&lt;script&gt;" in page
    assert any(SCRIPT in text for text in parsed.text)  # shown to the reader as text
    assert "mark" in parsed.tags


def test_a_class_of_one_or_a_bad_top_is_a_usage_error(tmp_path, capsys):
    assert main(["similarity", str(tmp_path / "missing")]) == 2
    assert "one sub-directory of notebooks per student" in capsys.readouterr().err
    reference_submission(tmp_path / "solo" / "only")
    assert main(["similarity", str(tmp_path / "solo"), "--top", "0"]) == 2
    assert main(["similarity", str(tmp_path / "solo")]) == 0
    assert "at least two student directories" in capsys.readouterr().out


def test_without_copydetect_the_command_says_how_to_install_it(class_dir, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "copydetect", None)  # `import copydetect` fails
    assert main(["similarity", str(class_dir)]) == 2
    assert "pip install copydetect" in capsys.readouterr().err


SIMILARITY_BLOCK = ("docs/instructor-guide.md", "autograder similarity submissions/")


def test_the_guides_similarity_block_as_written(class_dir, tmp_path):
    from tests.test_doc_commands import run_block

    (tmp_path / "submissions").symlink_to(class_dir)
    done = run_block(SIMILARITY_BLOCK, tmp_path, timeout=120)
    assert done.stdout.count("loops / loops_copy") == 2  # once per command of the block
    assert (tmp_path / "pairs.csv").read_text(encoding="utf-8").startswith("student_a,student_b,score\n")
    assert (tmp_path / "pairs.html").is_file()
