"""The class report's plots, drawn with matplotlib (Agg, no display needed) into PNG bytes."""

from __future__ import annotations

import io

from autograder.reporters.classdata import CheckStats

_BLUE, _RED, _GREEN, _GREY = "#3b6ea8", "#c0392b", "#2e8b57", "#999999"


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ValueError("the report's plots need matplotlib: pip install 'matplotlib>=3.7'") from None

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight",
                   metadata={"Software": None})  # no version stamp: same results, same bytes
    _pyplot().close(figure)
    return buffer.getvalue()


def score_histogram(percents: list[float]) -> bytes:
    """How many students scored 0-10 %, 10-20 %, ..., 90-100 % (and over 100 % with extra credit)."""
    plt = _pyplot()
    top = max(100.0, *(p for p in percents)) if percents else 100.0
    edges = [10.0 * i for i in range(11)] + ([top + 1e-9] if top > 100 else [])
    figure, axes = plt.subplots(figsize=(6.4, 3.2))
    clipped = [min(max(p, 0.0), edges[-1]) for p in percents]
    axes.hist(clipped, bins=edges, color=_BLUE, edgecolor="white")
    axes.set_xlabel("score (% of the points, extra credit included)")
    axes.set_ylabel("students")
    axes.set_xlim(0, edges[-1])
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(f"Score distribution ({len(percents)} students)")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def pass_rates(stats: list[CheckStats], *, limit: int = 40) -> bytes:
    """One horizontal bar per check, hardest at the top: which concept did the class miss?"""
    plt = _pyplot()
    shown = [s for s in stats if s.graded][:limit]
    height = max(1.6, 0.26 * len(shown) + 0.9)
    figure, axes = plt.subplots(figsize=(7.6, height))
    labels = [f"{s.notebook}: {s.name.removeprefix('test_')}" for s in shown]
    rates = [100.0 * s.rate for s in shown]
    colors = [_RED if r < 50 else (_BLUE if r < 90 else _GREEN) for r in rates]
    positions = list(range(len(shown)))[::-1]  # hardest first, at the top
    axes.barh(positions, rates, color=colors)
    axes.set_yticks(positions, labels, fontsize=8)
    axes.set_xlim(0, 100)
    axes.set_xlabel("students who passed (%)")
    more = f", the {limit} hardest of {len([s for s in stats if s.graded])}" if len(shown) < len(
        [s for s in stats if s.graded]) else ""
    axes.set_title(f"Pass rate per check, hardest first{more}")
    axes.spines[["top", "right"]].set_visible(False)
    if not shown:
        axes.text(50, 0, "no checks were graded", ha="center", va="center", color=_GREY)
    return _png(figure)


def notebook_means(means: dict[str, float]) -> bytes:
    """Mean score of each notebook, as % of its points."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 2.8))
    names = list(means)
    values = [means[name] for name in names]
    bars = axes.bar(names, values, color=_BLUE)
    for bar, value in zip(bars, values):
        axes.text(bar.get_x() + bar.get_width() / 2, value + 1.5, f"{value:.0f}%", ha="center", fontsize=8)
    axes.set_ylim(0, 110)
    axes.set_ylabel("mean score (%)")
    axes.set_title("Mean score per notebook")
    axes.tick_params(axis="x", labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)
