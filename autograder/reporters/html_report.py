"""``autograder report OUTDIR``: one self-contained HTML page about a graded class.

The page embeds its plots as base64 PNG, its styles and a few lines of script
to sort the student table; it loads nothing from anywhere (its Content Security
Policy forbids it).  A PNG copy of each plot is written next to the page.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from autograder.course import AssignmentSpec
from autograder.output_encoding import html_text
from autograder.reporters import plots
from autograder.reporters.classdata import (NOT_AVAILABLE_MARK, StudentRecord, check_stats, load_results,
                                            notebook_stems, summary)
from autograder.files import write_atomically


@dataclass(frozen=True)
class Report:
    html_path: Path
    images: tuple[Path, ...]
    students: int


_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1080px;
padding:1.5rem;color:#1d2330;background:#fff}
h1{margin:.2rem 0 .3rem;font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #dde2ea;padding-bottom:.2rem}
.sub{color:#5b6474}.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #dde2ea;border-radius:8px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.6rem 0}
th,td{border-bottom:1px solid #e6e9ef;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;user-select:none}table.sortable th:after{content:" \\2195";color:#aab}
table.sortable th[aria-sort=ascending]:after{content:" \\2191"}
table.sortable th[aria-sort=descending]:after{content:" \\2193"}
.bad{color:#b03a2e}.ok{color:#2e7d4f}.warn{color:#9a6b00}.na{color:#6b7280}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eef0f4}
figcaption{color:#5b6474;font-size:.85rem}
details summary{cursor:pointer;color:#3b6ea8}code{background:#f4f6fa;padding:0 .2rem;border-radius:3px}
"""

# Click a header to sort by that column; numbers (data-value) sort as numbers.
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[column], value = cell.getAttribute("data-value");
        return value === null ? cell.textContent.trim().toLowerCase() : parseFloat(value);
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), order = x < y ? -1 : (x > y ? 1 : 0);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _e(text: object) -> str:
    return html_text(text)


def _n(value: float) -> str:
    return f"{value:.4g}" if value != int(value) else f"{int(value)}"


def _img(name: str, png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure id="plot-{_e(name)}"><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def build_report(out_dir: Path, *, assignment: AssignmentSpec | None = None, html_path: Path | None = None,
                 title: str | None = None) -> Report:
    """Write the report of the class graded into ``out_dir``; return where it went."""
    records = load_results(out_dir, assignment=assignment)
    html_path = html_path or out_dir / "report.html"
    html_path.parent.mkdir(parents=True, exist_ok=True)
    stems = notebook_stems(records, assignment)
    stats = check_stats(records)
    percents = [r.percent for r in records]
    means = {stem: _notebook_mean(records, stem) for stem in stems}
    pngs = {
        "scores": (plots.score_histogram(percents), "histogram of the students' scores",
                   "Students per score band (10 % each)."),
        "pass-rates": (plots.pass_rates(stats), "pass rate of each check, hardest first",
                       "Red: fewer than half the class passed; green: 90 % or more."),
        "notebooks": (plots.notebook_means(means), "mean score per notebook", "Mean score of each notebook."),
    }
    images = []
    for name, (png, _, _) in pngs.items():
        path = html_path.with_name(f"{html_path.stem}-{name}.png")
        path.write_bytes(png)
        images.append(path)
    name = title or (assignment.name if assignment else out_dir.resolve().name)
    body = "\n".join([
        _header(name, records),
        "<h2 id=\"scores\">Scores</h2>", _img("scores", *pngs["scores"]),
        "<h2 id=\"checks\">Which checks did the class miss?</h2>", _img("pass-rates", *pngs["pass-rates"]),
        _checks_table(stats),
        "<h2 id=\"notebooks\">Notebooks</h2>", _img("notebooks", *pngs["notebooks"]),
        _notebook_table(records, stems, assignment),
        "<h2 id=\"extra-credit\">Extra credit</h2>", _extra_credit(records),
        "<h2 id=\"students\">Students</h2>", _student_table(records, stems),
        "<h2 id=\"problems\">Crashes, limits and other problems</h2>", _problems(records),
    ])
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{_e(name)}: class report</title>
<style>{_STYLE}</style>
</head>
<body>
{body}
<script>{_SCRIPT}</script>
</body>
</html>
"""
    write_atomically(html_path, page)
    return Report(html_path=html_path, images=tuple(images), students=len(records))


def _notebook_mean(records: list[StudentRecord], stem: str) -> float:
    values = [100.0 * r.notebook_points.get(stem, 0.0) / r.notebook_max[stem]
              for r in records if r.notebook_max.get(stem)]
    return summary(values)["mean"]


def _header(name: str, records: list[StudentRecord]) -> str:
    stats = summary([r.percent for r in records])
    troubled = sum(bool(r.problems) for r in records)
    full = sum(r.total >= r.max_points > 0 for r in records)
    cards = [("students", str(len(records))), ("mean", f"{stats['mean']:.1f} %"),
             ("median", f"{stats['median']:.1f} %"), ("full marks", str(full)),
             ("with problems", str(troubled))]
    return (f"<header><h1>{_e(name)}: class report</h1>"
            f'<p class="sub">{len(records)} graded submissions; scores include extra credit. '
            "Hidden inputs and expected values are not part of the results and do not appear here.</p>"
            '<div class="cards">' + "".join(f'<div class="card"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in cards)
            + "</div></header>")


def _checks_table(stats) -> str:
    rows = "".join(
        f"<tr><td>{_e(s.notebook)}</td><td><code>{_e(s.name)}</code></td><td>{_e(s.function)}</td>"
        f"<td>{_e(s.description)}</td><td class=\"num\" data-value=\"{s.max_score}\">{_n(s.max_score)}</td>"
        f"<td class=\"num\" data-value=\"{s.rate:.6f}\">"
        + (f"{s.passed}/{s.graded} ({100 * s.rate:.0f} %)" if s.graded else "not available") + "</td></tr>"
        for s in stats)
    return ("<details><summary>Every check, hardest first</summary>"
            '<table class="sortable" id="checks-table"><thead><tr><th>notebook</th><th>check</th><th>function</th>'
            '<th>what it checks</th><th class="num">points</th><th class="num">passed</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></details>")


def _notebook_table(records, stems, assignment) -> str:
    rows = []
    for stem in stems:
        got = [r.notebook_points.get(stem, 0.0) for r in records if stem in r.notebook_points]
        maximum = max((r.notebook_max.get(stem, 0.0) for r in records), default=0.0)
        stats = summary(got)
        full = sum(value >= maximum > 0 for value in got)
        section = ""
        if assignment is not None and stem in {nb.stem for nb in assignment.notebooks}:
            section = assignment.notebook(stem).book_section
        rows.append(f"<tr><td>{_e(stem)}</td><td>{_e(section)}</td><td class=\"num\">{_n(maximum)}</td>"
                    f"<td class=\"num\">{stats['mean']:.1f}</td><td class=\"num\">{_n(stats['median'])}</td>"
                    f"<td class=\"num\">{full}/{len(got)}</td></tr>")
    return ('<table id="notebook-table"><thead><tr><th>notebook</th><th>book section</th><th class="num">points</th>'
            '<th class="num">mean</th><th class="num">median</th><th class="num">full marks</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _extra_credit(records: list[StudentRecord]) -> str:
    extra = [c for r in records for c in r.checks if c.extra_credit]
    if not extra:
        return '<p id="extra-credit-summary">This assignment has no extra credit in these results.</p>'
    earned = sum(r.extra_credit > 0 for r in records)
    unavailable = [r for r in records if r.extra_credit_unavailable]
    graded = sum(any(c.extra_credit for c in r.checks) for r in records) - len(unavailable)
    points = sum(r.extra_credit for r in records)
    text = (f"<b>{earned}</b> of {len(records)} students earned extra credit ({_n(points)} points in all); "
            f"{graded - earned} others were graded for it and did not earn it.")
    if unavailable:
        # The checks' own messages say what the grading machine lacked ("no CUDA device ...").
        reasons = sorted({c.message for r in unavailable for c in r.checks if c.extra_credit and c.message})
        text += (f" {len(unavailable)} could not earn it on the grading machine (&quot;{NOT_AVAILABLE_MARK}&quot; "
                 "in the student table: not available, never failed)"
                 + (": " + "; ".join(_e(reason) for reason in reasons) if reasons else "") + ".")
    return f'<p id="extra-credit-summary">{text}</p>'


def _student_table(records: list[StudentRecord], stems: list[str]) -> str:
    head = ("<tr><th>student</th>" + "".join(f'<th class="num">{_e(s)}</th>' for s in stems)
            + '<th class="num">extra</th><th class="num">total</th><th class="num">%</th><th>status</th></tr>')
    rows = []
    for r in records:
        cells = "".join(f'<td class="num" data-value="{r.notebook_points.get(s, 0.0)}">'
                        f"{_n(r.notebook_points.get(s, 0.0))}/{_n(r.notebook_max.get(s, 0.0))}</td>" for s in stems)
        css = "ok" if r.status == "graded" else ("bad" if r.status in ("grading failed", "crashed") else "warn")
        rows.append(f"<tr><td>{_e(r.student)}</td>{cells}"
                    f"{_extra_cell(r)}"
                    f'<td class="num" data-value="{r.total}">{_n(r.total)}/{_n(r.max_points)}</td>'
                    f'<td class="num" data-value="{r.percent:.4f}">{r.percent:.1f}</td>'
                    f'<td class="{css}">{_e(r.status)}</td></tr>')
    return ('<p class="sub">Click a column header to sort.</p>'
            f'<table class="sortable" id="students-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>')


def _extra_cell(record: StudentRecord) -> str:
    if record.extra_credit_unavailable:  # sorts below every score
        return (f'<td class="num na" data-value="-1" title="could not be earned on the grading machine">'
                f"{NOT_AVAILABLE_MARK}</td>")
    return f'<td class="num" data-value="{record.extra_credit}">{_n(record.extra_credit)}</td>'


def _problems(records: list[StudentRecord]) -> str:
    rows = []
    for r in records:
        for problem in r.problems:
            rows.append(f"<tr><td>{_e(r.student)}</td><td>{_e(problem.notebook)}</td>"
                        f'<td class="{"bad" if problem.kind in ("crash", "limit") else "warn"}">{_e(problem.kind)}</td>'
                        f"<td>{_e(problem.text)}</td></tr>")
    if not rows:
        return '<p id="problems-summary">No submission crashed, hit a limit or had another problem.</p>'
    students = sum(bool(r.problems) for r in records)
    return (f'<p id="problems-summary">{students} submissions had problems. A crash or a limit costs only the '
            "checks it interrupted: the notebook is run again without the cell that stopped it.</p>"
            '<table class="sortable" id="problems-table"><thead><tr><th>student</th><th>notebook</th><th>kind</th>'
            f"<th>reason</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
