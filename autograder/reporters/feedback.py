"""Per-student feedback: every check with a pass/fail mark, its points, and where to read up on a failure.

``autograder feedback OUTDIR`` writes ``OUTDIR/feedback/<student>.md`` and
``.html``.  The input is the student's results file, which holds only check
descriptions and the checks' own messages: hidden inputs, expected values and
test code are never part of it, so they cannot appear here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder.course import AssignmentSpec
from autograder.output_encoding import html_text, markdown_code, markdown_text
from autograder.reporters.by_function import FunctionChecks, by_function
from autograder.reporters.classdata import (CheckRecord, StudentRecord, load_results, notebook_stems)
from autograder.files import write_atomically

DOCS = "https://pytorch.org/docs/stable"


@dataclass(frozen=True)
class Reading:
    """Where to read up on one student function: a book section and documentation pages."""
    section: str
    hint: str
    links: tuple[tuple[str, str], ...]  # (title, url)


def _api(name: str, url: str | None = None) -> tuple[str, str]:
    return name, url or f"{DOCS}/generated/{name}.html"


READING: dict[str, Reading] = {
    "version_at_least": Reading("A.1.3", "Compare versions as numbers, part by part, not as text.",
                                (("packaging.version", "https://packaging.pypa.io/en/stable/version.html"),)),
    "environment_report": Reading("A.1.3", "Ask torch itself: its version, its build and which devices it sees.", (
        _api("torch.cuda.is_available"), ("torch.backends.mps", f"{DOCS}/backends.html#torch-backends-mps"))),
    "make_tensors": Reading("A.2.1", "Build each tensor with torch.tensor from nested Python lists.",
                            (_api("torch.tensor"),)),
    "to_float32": Reading("A.2.2", "Integer inputs become torch.int64; convert with .to(torch.float32).", (
        _api("torch.Tensor.to"), ("torch.dtype", f"{DOCS}/tensor_attributes.html#torch.dtype"))),
    "reshape_to": Reading("A.2.3", ".view() needs a contiguous tensor; .reshape() works on any tensor.", (
        _api("torch.reshape"), _api("torch.Tensor.view"))),
    "transpose": Reading("A.2.3", "Swap the two dimensions (.T or torch.transpose); a reshape is not a transpose.", (
        _api("torch.transpose"), ("torch.Tensor.T", f"{DOCS}/tensors.html#torch.Tensor.T"))),
    "gram": Reading("A.2.3", "A matrix times its own transpose: mind the order of the factors.",
                    (_api("torch.matmul"),)),
    "logistic_forward": Reading("A.3", "The logistic model: a weighted sum plus bias, through the sigmoid.", (
        _api("torch.sigmoid"),)),
    "logistic_loss": Reading("A.3", "Binary cross-entropy between the prediction and the label.", (
        _api("torch.nn.functional.binary_cross_entropy"),)),
    "loss_gradients": Reading("A.4", "torch.autograd.grad returns the gradients without storing them in .grad.", (
        _api("torch.autograd.grad"),)),
    "backward_gradients": Reading("A.4", "loss.backward() fills .grad of every leaf tensor that requires grad.", (
        _api("torch.Tensor.backward"),)),
    "NeuralNetwork": Reading("A.5", "Subclass torch.nn.Module and chain the layers in a torch.nn.Sequential.", (
        _api("torch.nn.Module"), _api("torch.nn.Sequential"), _api("torch.nn.Linear"))),
    "count_parameters": Reading("A.5", "Count only trainable parameters (requires_grad) with .numel().", (
        ("torch.nn.Module.parameters", f"{DOCS}/generated/torch.nn.Module.html#torch.nn.Module.parameters"),
        _api("torch.numel"))),
    "ToyDataset": Reading("A.6", "A Dataset needs __getitem__ (one example) and __len__.", (
        ("torch.utils.data.Dataset", f"{DOCS}/data.html#torch.utils.data.Dataset"),)),
    "make_loaders": Reading("A.6", "Shuffle the training loader only; check batch_size and drop_last.", (
        ("torch.utils.data.DataLoader", f"{DOCS}/data.html#torch.utils.data.DataLoader"),)),
    "train": Reading("A.7", "Each batch: forward, loss, zero_grad(), backward(), step().", (
        _api("torch.optim.SGD"), _api("torch.nn.functional.cross_entropy"), _api("torch.optim.Optimizer.zero_grad"))),
    "compute_accuracy": Reading("A.7", "Put the model in eval mode, use torch.no_grad() and compare argmax to the labels.", (
        _api("torch.argmax"), _api("torch.no_grad"))),
    "save_model": Reading("A.8", "Save the model's state_dict(), not the model object.", (
        _api("torch.save"), ("Saving and loading models", f"{DOCS}/notes/serialization.html"))),
    "load_model": Reading("A.8", "Build a fresh model, then load_state_dict(torch.load(path, weights_only=True)).", (
        _api("torch.load"), ("torch.nn.Module.load_state_dict",
                             f"{DOCS}/generated/torch.nn.Module.html#torch.nn.Module.load_state_dict"))),
    "get_device": Reading("A.9.1", "Prefer CUDA, then MPS, then the CPU; return a torch.device.", (
        ("torch.device", f"{DOCS}/tensor_attributes.html#torch.device"), _api("torch.cuda.is_available"))),
    "to_device": Reading("A.9.1", ".to(device) returns a new tensor; keep the result.", (_api("torch.Tensor.to"),)),
    "train_on_device": Reading("A.9.2", "Move the model once and every batch inside the loop to the same device.", (
        ("torch.nn.Module.to", f"{DOCS}/generated/torch.nn.Module.html#torch.nn.Module.to"),
        _api("torch.Tensor.to"))),
    "ddp_backend": Reading("A.9.3", "nccl needs at least one CUDA device per process; gloo runs on CPUs.", (
        ("torch.distributed backends", f"{DOCS}/distributed.html#backends"),)),
    "ddp_setup": Reading("A.9.3", "Every rank calls init_process_group with the same world size and rendezvous, "
                                  "and a timeout so that a missing rank cannot hang the others.", (
        ("torch.distributed.init_process_group", f"{DOCS}/distributed.html#torch.distributed.init_process_group"),)),
    "ddp_cleanup": Reading("A.9.3", "destroy_process_group ends the group, so that a new one can start.", (
        ("torch.distributed.destroy_process_group",
         f"{DOCS}/distributed.html#torch.distributed.destroy_process_group"),)),
    "make_distributed_loader": Reading("A.9.3", "A DistributedSampler gives each rank its own shard; the "
                                                "DataLoader then must not shuffle by itself.", (
        ("DistributedSampler", f"{DOCS}/data.html#torch.utils.data.distributed.DistributedSampler"),)),
    "save_from_rank0": Reading("A.9.3", "All ranks hold the same weights after each step: only rank 0 saves them.", (
        _api("torch.save"),)),
    "train_rank": Reading("A.9.3", "Wrap the model in DistributedDataParallel and call sampler.set_epoch(epoch) "
                                   "at the start of every epoch.", (
        _api("torch.nn.parallel.DistributedDataParallel"),
        ("DistributedSampler.set_epoch", f"{DOCS}/data.html#torch.utils.data.distributed.DistributedSampler"))),
    "run_ddp": Reading("A.9.3", "Start one process per rank, wait for all of them, and always end them.", (
        ("torch.multiprocessing", f"{DOCS}/multiprocessing.html"),)),
}


def reading_for(check: CheckRecord, assignment: AssignmentSpec | None) -> Reading | None:
    """The reading for a check: by its function, else the notebook's book section."""
    if check.function in READING:
        return READING[check.function]
    if assignment is not None and check.notebook in {nb.stem for nb in assignment.notebooks}:
        return Reading(assignment.notebook(check.notebook).book_section, "", ())
    return None


def _n(value: float) -> str:
    return f"{value:g}"


def _points(check: CheckRecord) -> str:
    if check.extra_credit:
        return f"+{_n(check.score)} extra credit" if check.passed else "extra credit"
    return f"{_n(check.score)}/{_n(check.max_score)}"


def _mark(check: CheckRecord) -> tuple[str, str]:
    return {"passed": ("\u2713", "passed"), "not available": ("\u2013", "not available"),
            "grader error": ("\u2013", "not counted")}.get(check.status, ("\u2717", "failed"))


def _checks_of(record: StudentRecord, stem: str) -> tuple[list[FunctionChecks[CheckRecord]], str]:
    """The checks to list, by function, and a summary line for those a notebook problem explains.

    When the notebook is missing or unreadable, every check fails with the same reason: the
    problem is shown once, and its checks as one line instead of one entry each.
    """
    checks = [check for check in record.checks if check.notebook == stem]
    reasons = {problem.text for problem in record.problems if problem.notebook == stem}
    explained = [check for check in checks if check.status == "failed" and check.message in reasons]
    if not explained or len(explained) < len(checks):
        return by_function(checks), ""
    worth = sum(check.max_score for check in explained if not check.extra_credit)
    return [], f"all {len(explained)} checks of this notebook (0/{_n(worth)}): they need the notebook above"


def _stub_points(group: FunctionChecks[CheckRecord]) -> str:
    regular = [check.max_score for check in group.counted if not check.extra_credit]
    return f"0/{_n(sum(regular))}" if regular else "extra credit"


def _listed(group: FunctionChecks[CheckRecord]) -> tuple[CheckRecord, ...]:
    """The checks listed one by one: for a stub only those it did not fail (unavailable, grader errors)."""
    if not group.not_implemented:
        return group.checks
    return tuple(check for check in group.checks if check.status in ("not available", "grader error"))


def _markdown_reading(reading: Reading) -> str:
    links = [f"book section {reading.section}"] + [f"[{t}]({u})" for t, u in reading.links]
    return f"Read: {', '.join(links)}"


def feedback_markdown(record: StudentRecord, *, assignment: AssignmentSpec | None, stems: list[str]) -> str:
    # Every string read from the results goes through markdown_text (or markdown_code) once;
    # only the links of READING, written here, stay live.
    lines = [f"# Feedback for {markdown_text(record.student)}", ""]
    extra = f" + {_n(record.extra_credit)} extra credit" if record.extra_credit else ""
    base = record.total - record.extra_credit
    lines += [f"**Score: {_n(base)}/{_n(record.max_points)}{extra}**", "",
              "Each check is one small test of your functions with fresh random inputs. "
              "Failed checks say what went wrong and where to read up on it.", ""]
    for stem in stems:
        if stem not in record.notebook_points:
            continue
        spec = assignment.notebook(stem) if assignment and stem in {nb.stem for nb in assignment.notebooks} else None
        title = f" ({spec.title}, book section {spec.book_section})" if spec else ""
        lines += [f"## {markdown_text(stem + title)}: "
                  f"{_n(record.notebook_points[stem])}/{_n(record.notebook_max.get(stem, 0))}", ""]
        for problem in (p for p in record.problems if p.notebook == stem and p.kind != "grader"):
            lines += [f"> **Problem:** {markdown_text(problem.text)}", ""]
        groups, collapsed = _checks_of(record, stem)
        if collapsed:
            lines.append(f"- \u2717 **failed**: {markdown_text(collapsed)}")
        for group in groups:
            reading = reading_for(group.checks[0], assignment)
            if group.not_implemented:  # one line, however many checks: nothing of them is worth reading yet
                read = f" {_markdown_reading(reading)}" if reading is not None else ""
                lines.append(f"- \u2717 **not implemented** ({_stub_points(group)}): "
                             f"{group.headline(code=markdown_code)}.{read}")
            for check in _listed(group):
                mark, word = _mark(check)
                lines.append(f"- {mark} **{word}** ({_points(check)}) {markdown_code(check.name)}: "
                             f"{markdown_text(check.description)}")
                if check.status == "failed":
                    if check.message:
                        lines.append(f"  - What went wrong: {markdown_text(check.message)}")
                    if check.hint:
                        lines.append(f"  - Try: {markdown_text(check.hint)}")
                    if reading is not None:  # once per function, under its first failed check
                        if reading.hint:
                            lines.append(f"  - Hint: {markdown_text(reading.hint)}")
                        lines.append(f"  - {_markdown_reading(reading)}")
                        reading = None
                elif check.status in ("not available", "grader error") and check.message:
                    lines.append(f"  - {markdown_text(check.message)} (not counted against you)")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


_CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:900px;margin:0 auto;padding:1.5rem;color:#1d2330}
h2{border-bottom:1px solid #dde2ea;margin-top:2rem}li{margin:.35rem 0}.passed{color:#2e7d4f}
.failed{color:#b03a2e}.na{color:#777}.detail{color:#3a4150;font-size:.92rem;margin-left:1.4rem}
.problem{background:#fff4e0;border-left:4px solid #d9a400;padding:.4rem .7rem}code{background:#f4f6fa}"""


def _html_reading(reading: Reading) -> str:
    e = html_text
    links = [f"book section {e(reading.section)}"] + [f'<a href="{e(u)}">{e(t)}</a>' for t, u in reading.links]
    return f"Read: {', '.join(links)}"


def feedback_html(record: StudentRecord, *, assignment: AssignmentSpec | None, stems: list[str]) -> str:
    e = html_text
    extra = f" + {_n(record.extra_credit)} extra credit" if record.extra_credit else ""
    base = record.total - record.extra_credit
    parts = [f"<h1>Feedback for {e(record.student)}</h1>",
             f'<p><b id="score">Score: {_n(base)}/{_n(record.max_points)}{e(extra)}</b></p>',
             "<p>Each check is one small test of your functions with fresh random inputs. "
             "Failed checks say what went wrong and where to read up on it.</p>"]
    for stem in stems:
        if stem not in record.notebook_points:
            continue
        spec = assignment.notebook(stem) if assignment and stem in {nb.stem for nb in assignment.notebooks} else None
        title = f" ({spec.title}, book section {spec.book_section})" if spec else ""
        parts.append(f"<h2>{e(stem)}{e(title)}: {_n(record.notebook_points[stem])}/"
                     f"{_n(record.notebook_max.get(stem, 0))}</h2>")
        parts += [f'<p class="problem"><b>Problem:</b> {e(p.text)}</p>' for p in record.problems
                  if p.notebook == stem and p.kind != "grader"]
        items = []
        groups, collapsed = _checks_of(record, stem)
        if collapsed:
            items.append(f'<li class="check failed" data-status="failed"><span class="failed">\u2717 failed</span>: '
                         f"{e(collapsed)}</li>")
        for group in groups:
            reading = reading_for(group.checks[0], assignment)
            if group.not_implemented:
                read = f'<div class="detail">{_html_reading(reading)}</div>' if reading is not None else ""
                items.append(f'<li class="check failed" data-status="not implemented"><span class="failed">\u2717 '
                             f"not implemented</span> ({e(_stub_points(group))}): "
                             f"{group.headline(code=lambda name: f'<code>{e(name)}</code>')}.{read}</li>")
            for check in _listed(group):
                mark, word = _mark(check)
                css = {"passed": "passed", "failed": "failed"}.get(check.status, "na")
                item = (f'<li class="check {css}" data-status="{e(check.status)}"><span class="{css}">{mark} {word}'
                        f"</span> ({e(_points(check))}) <code>{e(check.name)}</code>: {e(check.description)}")
                if check.status == "failed":
                    if check.message:
                        item += f'<div class="detail">What went wrong: {e(check.message)}</div>'
                    if check.hint:
                        item += f'<div class="detail">Try: {e(check.hint)}</div>'
                    if reading is not None:  # once per function, under its first failed check
                        if reading.hint:
                            item += f'<div class="detail">Hint: {e(reading.hint)}</div>'
                        item += f'<div class="detail">{_html_reading(reading)}</div>'
                        reading = None
                elif check.status in ("not available", "grader error") and check.message:
                    item += f'<div class="detail">{e(check.message)} (not counted against you)</div>'
                items.append(item + "</li>")
        parts.append(f"<ul>{''.join(items)}</ul>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Feedback: {e(record.student)}'
            f"</title><style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def write_feedback(out_dir: Path, *, assignment: AssignmentSpec | None = None,
                   target: Path | None = None) -> list[Path]:
    """Write ``<student>.md`` and ``<student>.html`` for every graded student into ``target``."""
    records = load_results(out_dir, assignment=assignment)
    target = target or out_dir / "feedback"
    stems = notebook_stems(records, assignment)
    written = []
    for record in records:
        for suffix, text in ((".md", feedback_markdown(record, assignment=assignment, stems=stems)),
                             (".html", feedback_html(record, assignment=assignment, stems=stems))):
            path = target / f"{record.student}{suffix}"
            write_atomically(path, text)
            written.append(path)
    return written
