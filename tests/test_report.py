"""`autograder report`: the HTML class report of a really graded class, rendered by a real headless Chromium."""

from __future__ import annotations

import base64
import csv
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from tests.conftest import EXERCISES, SOLUTIONS, write_variant
from tests.leaks import leaked
from tests.results_factory import NO_CUDA, small_class

CHROMIUM = Path("/usr/bin/chromium")
STEMS = ("01_setup", "02_tensors")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """The graded class, built once per test run even when pytest-xdist spreads these tests over workers."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's directory, common to all workers
    out = shared / "report-class-results"
    with open(shared / "report-class.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "report.html").exists():
            build_graded_class(shared / "report-class", out)
    return out


def build_graded_class(root: Path, out: Path) -> None:
    """A solution, a blank, a mutant, a crash (os._exit) and an endless loop, graded, then the report."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    root.mkdir()
    for stem in STEMS:
        for student, source in (("alice", SOLUTIONS), ("bob", EXERCISES)):
            (root / student).mkdir(exist_ok=True)
            shutil.copy(source / f"{stem}.ipynb", root / student)
    write_variant(root / "carol", "02_tensors", {"gram": "def gram(t):\n    return t.T @ t\n",
                                                 "reshape_to": "def reshape_to(t, rows, cols):\n"
                                                               "    return t.view(rows, cols)\n"})
    shutil.copy(SOLUTIONS / "01_setup.ipynb", root / "carol")
    write_variant(root / "dave", "02_tensors", {}, extra_cells=("import os\nos._exit(3)\n",))
    shutil.copy(SOLUTIONS / "01_setup.ipynb", root / "dave")
    write_variant(root / "erin", "01_setup", {}, extra_cells=("while True:\n    pass\n",))
    shutil.copy(SOLUTIONS / "02_tensors.ipynb", root / "erin")
    done = run_cli("grade", str(root), "--out", str(out), *(f"--notebook={stem}" for stem in STEMS),
                   "--jobs", "1", "--seed", "11", "--limit", "cell=3", "--quiet")
    assert done.returncode == 0, done.stderr
    done = run_cli("report", str(out))
    assert done.returncode == 0, done.stderr
    assert "report of 5 students" in done.stdout


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.external: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for name in ("src", "href"):
            if attrs.get(name) and not attrs[name].startswith(("data:", "#")):
                self.external.append(attrs[name])
        if tag == "table":
            self._table = attrs.get("id", f"table-{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_the_report_has_every_section_and_embeds_its_plots(graded):
    page = parse(graded / "report.html")
    assert {"scores", "checks", "notebooks", "extra-credit", "students", "problems",
            "plot-scores", "plot-pass-rates", "plot-notebooks", "students-table", "problems-table"} <= page.ids
    assert len(page.images) == 3
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert page.external == [], "the report must be self-contained"
    for name in ("scores", "pass-rates", "notebooks"):
        assert (graded / f"report-{name}.png").read_bytes().startswith(PNG_MAGIC)


def test_students_problems_and_hardest_checks_are_listed(graded):
    page = parse(graded / "report.html")
    students = {row[0]: row for row in page.tables["students-table"][1:]}
    assert sorted(students) == ["alice", "bob", "carol", "dave", "erin"]
    assert students["alice"][-3:] == ["30/30", "100.0", "graded"]
    assert students["bob"][-3] == "0/30"
    assert students["dave"][-1] == "crashed" and students["erin"][-1] == "hit a limit"
    problems = page.tables["problems-table"][1:]
    assert any(r[0] == "dave" and r[2] == "crash" and "exited with status 3" in r[3] for r in problems)
    assert any(r[0] == "erin" and r[2] == "limit" and "3 s time limit" in r[3] for r in problems)
    rates = [float(re.search(r"\((\d+) %\)", row[-1]).group(1)) for row in page.tables["checks-table"][1:]]
    assert rates == sorted(rates), "hardest checks first"
    assert page.tables["checks-table"][1][2] in {"gram", "reshape_to"}  # only carol's mutant and bob miss these


def test_the_report_shows_no_hidden_code_or_solutions(graded):
    assert leaked((graded / "report.html").read_text(encoding="utf-8")) == []


# Appended to a copy of the page: after load, sort the student table by total (descending) and record the
# natural width of every image in a marker element that --dump-dom prints.
PROBE = """<script>
window.addEventListener("load", function () {
  var th = document.querySelectorAll("#students-table th")[4]; th.click(); th.click();
  var order = Array.prototype.map.call(document.querySelectorAll("#students-table tbody tr"),
                                       function (row) { return row.cells[0].textContent; });
  var widths = Array.prototype.map.call(document.images,
                                        function (img) { return img.complete ? img.naturalWidth : -1; });
  var marker = document.createElement("pre"); marker.id = "probe";
  marker.textContent = JSON.stringify({images: widths, order: order, header: th.textContent});
  document.body.appendChild(marker);
});
</script>"""


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
                           "--virtual-time-budget=10000", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install -y chromium)")
def test_chromium_loads_every_plot_and_sorts_the_table(graded, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text((graded / "report.html").read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    done = chromium(tmp_path, "--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout)
    assert found, "the page's scripts did not run: " + done.stdout[-500:]
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert len(result["images"]) == 3 and all(width > 0 for width in result["images"]), result
    totals = {"alice": 30, "bob": 0, "carol": 26}
    ranked = [name for name in result["order"] if name in totals]
    assert ranked == ["alice", "carol", "bob"], result  # sorted by total, highest first


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install -y chromium)")
def test_chromium_screenshot_is_not_blank(graded, tmp_path):
    import matplotlib.image

    shot = tmp_path / "report.png"
    done = chromium(tmp_path, "--window-size=1100,1400", f"--screenshot={shot}", (graded / "report.html").as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (1400, 1100)
    assert pixels.std() > 0.05, "blank screenshot"
    blue = (pixels[..., 2] > 0.5) & (pixels[..., 0] < 0.35)  # the histogram's and bar charts' bars
    assert blue.mean() > 0.005, "no plot visible in the screenshot"


def test_feedback_for_a_graded_class(graded):
    done = run_cli("feedback", str(graded))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (graded / "feedback").iterdir()) == sorted(
        f"{s}.{ext}" for s in ("alice", "bob", "carol", "dave", "erin") for ext in ("md", "html"))
    carol = (graded / "feedback" / "carol.md").read_text(encoding="utf-8")
    assert "**Score: 26/30**" in carol
    assert "book section A.2.3" in carol and "https://pytorch.org/docs/stable/generated/torch.matmul.html" in carol
    dave = (graded / "feedback" / "dave.html").read_text(encoding="utf-8")
    assert "exited with status 3" in dave
    for path in (graded / "feedback").iterdir():
        assert leaked(path.read_text(encoding="utf-8")) == [], path.name


def test_export_of_a_graded_class_matches_grades_csv(graded):
    done = run_cli("export", str(graded), "--lms", "plain")
    assert done.returncode == 0, done.stderr
    exported = {row["student"]: row for row in csv.DictReader(done.stdout.splitlines())}
    for row in csv.DictReader((graded / "grades.csv").read_text().splitlines()):
        assert exported[row["student"]]["total"] == row["total"]
        assert exported[row["student"]]["02_tensors"] == row["02_tensors"]


# ------------------------------------------------------------------------------ extra credit that cannot be earned


def extra_credit_summary(path: Path) -> str:
    found = re.search(r'<p id="extra-credit-summary">(.*?)</p>', path.read_text(encoding="utf-8"), re.S)
    assert found, "the report has no extra-credit summary"
    return re.sub(r"<[^>]+>", "", found.group(1)).replace("&quot;", '"')


def test_the_report_shows_na_for_extra_credit_that_could_not_be_earned(tmp_path):
    from autograder.course import APPENDIX_A
    from autograder.reporters.html_report import build_report

    out = small_class(tmp_path / "out")  # ann earned it; ben and cid: "not available"; dee: grading failed
    build_report(out, assignment=APPENDIX_A.subset(["02_tensors", "05_device"]))
    table = parse(out / "report.html").tables["students-table"]
    column = table[0].index("extra")
    assert {row[0]: row[column] for row in table[1:]} == {"ann": "10", "ben": "n/a", "cid": "n/a", "dee": "0"}
    summary = extra_credit_summary(out / "report.html")
    assert "1 of 4 students earned extra credit" in summary
    assert "2 could not earn it on the grading machine" in summary and "never failed" in summary
    assert NO_CUDA in summary  # what the machine lacked, in the checks' own words


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a CUDA grading machine the extra credit can be earned")
def test_on_a_machine_without_cuda_every_output_says_what_it_lacks(tmp_path):
    (tmp_path / "class" / "alice").mkdir(parents=True)
    shutil.copy(SOLUTIONS / "05_device.ipynb", tmp_path / "class" / "alice")
    out = tmp_path / "out"
    done = run_cli("grade", str(tmp_path / "class"), "--out", str(out), "--notebook", "05_device", "--jobs", "1",
                   "--seed", "3")
    assert done.returncode == 0, done.stderr
    header, alice = (line.split() for line in done.stdout.splitlines() if line.startswith(("student ", "alice ")))
    assert alice[header.index("extra")] == "n/a" and alice[-1] == "15/15"
    row = next(csv.DictReader((out / "grades.csv").open(encoding="utf-8")))
    assert (row["extra_credit"], row["total"]) == ("", "15")
    data = json.loads((out / "alice.json").read_text(encoding="utf-8"))
    extra = [check for notebook in data["notebooks"] for check in notebook["checks"] if check["extra_credit"]]
    assert extra and {check["status"] for check in extra} == {"not available"}
    assert {check["message"] for check in extra} == {NO_CUDA}
    assert run_cli("report", str(out)).returncode == 0
    assert "no CUDA device on the grading machine" in extra_credit_summary(out / "report.html")


def test_on_an_apple_silicon_grader_the_reason_says_mps_can_never_be_verified():
    from autograder.grading.accelerators import GraderAccelerators, gpu_use_unverifiable

    mac = gpu_use_unverifiable(GraderAccelerators(cuda=False, mps=True))  # a Mac we do not have
    assert mac.startswith("no CUDA device on the grading machine") and "MPS" in mac and "can never be verified" in mac
    assert gpu_use_unverifiable(GraderAccelerators(cuda=False, mps=False)) == "no CUDA device on the grading machine"
    assert gpu_use_unverifiable(GraderAccelerators(cuda=True, mps=False)) is None
