"""A district's recent runs as a chart drawn on the server: an inline SVG, no script, no CDN.

Pure: it takes the runs as `ChartRun`s (oldest first) and returns SVG markup. Two bands share one
time axis: the top one has a bar per run for how long it took, the bottom one a bar per run for
how many records it changed. Above each duration bar a mark says the run's status with its own
glyph (the badges' glyphs, `templates/_badges.html`) as well as its own colour, so no status is
told by colour alone; each run's group has a `<title>` in words. The chart is one image to a
screen reader (`role="img"`, its `<title>` and `<desc>`); the page's runs table below it is the
text version, run by run.

The SVG is built with `xml.etree`, so every text is escaped and the markup is well-formed.
Colours are presentation attributes, not `style`: the portal's Content-Security-Policy allows
no inline styles.

`age_words` says how long ago something happened ("3 hours ago"), for the district page.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
# Each status: its mark (the badges' glyph) and its colour, text colour readable on white.
MARKS: dict[str, tuple[str, str]] = {
    "running": ("↻", "#174a96"),
    "succeeded": ("✓", "#14613a"),
    "succeeded_with_issues": ("⚠", "#7a4300"),
    "held": ("◷", "#5a2f91"),
    "previewed": ("◎", "#174a96"),
    "approved": ("☑", "#0f5a55"),
    "discarded": ("⊘", "#434b5a"),
    "skipped": ("↷", "#434b5a"),
    "failed": ("✕", "#8f2a1d"),
}
OTHER_MARK = ("•", "#434b5a")
ET.register_namespace("", SVG_NS)  # `<svg xmlns=…>`, not `<ns0:svg …>`

WIDTH = 640
LEFT = 56  # room for the axes' labels
RIGHT = 8
MARK_BAND = 22  # the status marks above the duration bars
DURATION_HEIGHT = 120
GAP = 28  # between the bands: the changes band's label
CHANGES_HEIGHT = 60
BOTTOM = 20  # the time axis' labels
HEIGHT = MARK_BAND + DURATION_HEIGHT + GAP + CHANGES_HEIGHT + BOTTOM
BAR_FILL = "#5b6b82"
CHANGES_FILL = "#8a96a8"
AXIS = "#434b5a"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartRun:
    """One run as the chart draws it.

    Attributes:
        id: The run's id (each bar links its run's page).
        started_at: When it started (UTC).
        status: Its status (`succeeded`, `failed`, `held`, …).
        seconds: How long it took; None while it runs.
        changes: How many records it changed (or, for a preview, would change).
        errors: How many records it found errors in ("succeeded with issues" when > 0).
        mode: "apply" or "preview".
    """

    id: str
    started_at: datetime
    status: str
    seconds: float | None
    changes: int
    errors: int = 0
    mode: str = "apply"

    @property
    def mark_key(self) -> str:
        """The status the mark shows: a succeeded run with errors has one of its own."""
        return (
            "succeeded_with_issues" if self.status == "succeeded" and self.errors else self.status
        )

    @property
    def status_text(self) -> str:
        words = self.status.replace("_", " ")
        return f"{words} with issues" if self.mark_key == "succeeded_with_issues" else words


def seconds_words(seconds: float | None) -> str:
    """A run's duration in words: "2 min 5 s", "under a second", "still running"."""
    if seconds is None:
        return "still running"
    whole = max(0, round(seconds))
    if whole < 1:
        return "under a second"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return " ".join(f"{n} {unit}" for n, unit in ((hours, "h"), (minutes, "min"), (secs, "s")) if n)


def age_words(then: datetime, now: datetime) -> str:
    """How long before `now` `then` was, roughly: "just now", "3 hours ago", "2 days ago";
    "in 5 minutes" for a moment still to come (a next scheduled sync)."""
    seconds = (now - then).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "in under a minute" if ahead else "just now"
    for size, unit in ((86400 * 365, "year"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = int(seconds // size)
            amount = f"{n} {unit}{'' if n == 1 else 's'}"
            return f"in {amount}" if ahead else f"{amount} ago"
    raise AssertionError("unreachable: a minute or more matched a unit")  # pragma: no cover


def _scale(top: float) -> float:
    """A round axis maximum at or above `top` (1, 2, 5, 10, 20, 50, …); at least 1."""
    step = 1.0
    while True:
        for factor in (1, 2, 5):
            if step * factor >= top:
                return step * factor
        step *= 10


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    names = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
    element = ET.SubElement(parent, f"{{{SVG_NS}}}{tag}", names)
    if text is not None:
        element.text = text
    return element


def run_words(run: ChartRun) -> str:
    """One run in a sentence: the group's title, and what a screen reader could read."""
    kind = "Preview" if run.mode == "preview" else "Sync"
    errors = f", {run.errors:,} with errors" if run.errors else ""
    took = "still running" if run.seconds is None else f"took {seconds_words(run.seconds)}"
    return (
        f"{kind} started {run.started_at:%Y-%m-%d %H:%M} UTC: {run.status_text}, {took}, "
        f"{run.changes:,} records changed{errors}"
    )


def draw(runs: Sequence[ChartRun], *, title: str, chart_id: str = "run-chart") -> Markup:
    """The runs (oldest first) as an inline SVG chart.

    Args:
        runs: The runs, oldest first (at most a few dozen: each gets a bar of its own).
        title: The chart's title, e.g. "The last 30 runs: durations and changes".
        chart_id: The id of the `<svg>`; its title and description get ids from it.

    Returns:
        The `<svg>` element as markup for a template.
    """
    durations = [r.seconds or 0.0 for r in runs]
    top_seconds = _scale(max(durations, default=0.0))
    top_changes = _scale(float(max((r.changes for r in runs), default=0)))
    root = ET.Element(
        f"{{{SVG_NS}}}svg",
        {
            "id": chart_id,
            "class": "run-chart",
            "role": "img",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "width": "100%",
            "preserveAspectRatio": "xMinYMin meet",
            "aria-labelledby": f"{chart_id}-title {chart_id}-desc",
        },
    )
    _sub(root, "title", title, id=f"{chart_id}-title")
    failed = sum(1 for r in runs if r.status == "failed")
    longest = max(durations, default=0.0)
    summary = (
        f"{len(runs)} runs, oldest on the left: bars show how long each took (longest "
        f"{seconds_words(longest)}) and how many records each changed; {failed} failed. "
        "The runs table below lists the same runs in words."
        if runs
        else "No runs yet."
    )
    _sub(root, "desc", summary, id=f"{chart_id}-desc")

    plot = WIDTH - LEFT - RIGHT
    slot = plot / max(len(runs), 1)
    bar = max(2.0, min(slot * 0.7, 28.0))
    duration_base = MARK_BAND + DURATION_HEIGHT
    changes_top = duration_base + GAP
    changes_base = changes_top + CHANGES_HEIGHT

    axes = _sub(root, "g", class_="axes", fill=AXIS, font_size="11", font_family="sans-serif")
    _sub(axes, "text", "Duration", x="0", y=str(MARK_BAND + 10))
    _sub(axes, "text", f"{_number(top_seconds)} s", x="0", y=str(MARK_BAND + 24))
    _sub(axes, "text", "0 s", x="0", y=str(duration_base))
    _sub(axes, "text", "Changes", x="0", y=str(changes_top + 10))
    _sub(axes, "text", _number(top_changes), x="0", y=str(changes_top + 24))
    _sub(axes, "text", "0", x="0", y=str(changes_base))
    for y in (duration_base, changes_base):
        _sub(axes, "line", x1=str(LEFT), x2=str(WIDTH - RIGHT), y1=str(y), y2=str(y), stroke=AXIS)
    if runs:
        first, last = runs[0].started_at, runs[-1].started_at
        _sub(axes, "text", f"{first:%b %d}", x=str(LEFT), y=str(HEIGHT - 4))
        _sub(
            axes,
            "text",
            f"{last:%b %d}",
            x=str(WIDTH - RIGHT),
            y=str(HEIGHT - 4),
            text_anchor="end",
        )

    bars = _sub(root, "g", class_="runs")
    for i, run in enumerate(runs):
        x = LEFT + i * slot + (slot - bar) / 2
        centre = x + bar / 2
        glyph, colour = MARKS.get(run.mark_key, OTHER_MARK)
        group = _sub(bars, "g", class_=f"run status-{run.mark_key.replace('_', '-')}")
        group.set("data-run", run.id)
        _sub(group, "title", run_words(run))
        height = DURATION_HEIGHT * (run.seconds or 0.0) / top_seconds
        duration = _sub(
            group,
            "rect",
            class_="bar duration",
            x=f"{x:.1f}",
            y=f"{duration_base - max(height, 1.0):.1f}",
            width=f"{bar:.1f}",
            height=f"{max(height, 1.0):.1f}",
            fill=BAR_FILL if run.seconds is not None else "none",
            stroke=colour,
        )
        if run.seconds is None:
            duration.set("stroke-dasharray", "3 2")  # still running: an outline, not a bar
        _sub(
            group,
            "text",
            glyph,
            class_="mark",
            x=f"{centre:.1f}",
            y=f"{MARK_BAND - 6:.1f}",
            text_anchor="middle",
            font_size="14",
            font_family="sans-serif",
            fill=colour,
        )
        changed = CHANGES_HEIGHT * run.changes / top_changes
        _sub(
            group,
            "rect",
            class_="bar changes",
            x=f"{x:.1f}",
            y=f"{changes_base - changed:.1f}",
            width=f"{bar:.1f}",
            height=f"{changed:.1f}",
            fill=CHANGES_FILL,
        )
    return Markup(ET.tostring(root, encoding="unicode"))  # noqa: S704 - built and escaped by ElementTree


__all__ = ["MARKS", "ChartRun", "age_words", "draw", "run_words", "seconds_words"]
