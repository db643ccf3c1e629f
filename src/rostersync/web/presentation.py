"""How the admin pages say a run: its counts as a matrix, its status and duration in words, and
who decided it. Pure functions over what the routes already pass; `admin_templates` registers them
on the admin pages' Jinja environment (the status badges are a template, `_badges.html`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from rostersync.domain.records import EntityKind
from rostersync.web.record_links import record_url
from rostersync.web.run_chart import seconds_words

TEMPLATES = Path(__file__).parent / "templates"
# The outcomes a run counts per kind of record, in the order a report reads them.
OUTCOMES = ("created", "updated", "matched", "restored", "deactivated", "held", "unchanged")
# Counts the run page shows in sentences of their own, not in the "more counts" list.
_SAID_ELSEWHERE = frozenset({"entities", "issues"})
_FACT_LABELS = {
    "eligibility_changes": "Eligibility changes",
    "records_pulled": "Records pulled",
    "requests": "Requests to the source",
    "retries": "Retried requests",
    "skipped": "Records skipped",
    "unchanged_rows": "Rows known unchanged, not read again",
}
_STATUS_WORDS = {
    "running": "This sync is running now.",
    "succeeded": "This sync finished and applied its changes.",
    "held": (
        "This sync was held before changing anything, because a safeguard tripped. "
        "Review the counts, then approve it to apply them or discard it."
    ),
    "previewed": (
        "This preview changed nothing. Review the counts, then approve it to apply them "
        "or discard it."
    ),
    "approved": "This preview was approved: a run that followed it applied its changes.",
    "discarded": "This run was discarded: it changed nothing.",
    "skipped": "This sync was skipped: it changed nothing.",
    "failed": "This sync failed before it finished.",
}
_ACTOR_WORDS = {
    "staff": "a staff member",
    "educator": "an educator",
    "invitation": "an invited data manager",
    "push": "the district's file push",
}


@dataclass(frozen=True, slots=True)
class CountsMatrix:
    """A run's counts per kind of record (rows) and outcome (columns), with a total row."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[int, ...]], ...]
    totals: tuple[int, ...]


def _label(kind: str) -> str:
    try:
        return EntityKind(kind).plural
    except ValueError:
        return kind.replace("_", " ")


def counts_matrix(counts: Mapping[str, object] | None) -> CountsMatrix:
    """The `entities` counts of a run as a matrix; empty when the run counted no records.

    Columns are the known outcomes any kind has, in report order, then any others by name.
    """
    entities = (counts or {}).get("entities")
    if not isinstance(entities, Mapping):
        return CountsMatrix(columns=(), rows=(), totals=())
    per_kind = {str(k): v for k, v in entities.items() if isinstance(v, Mapping)}
    seen = {str(o) for v in per_kind.values() for o in v}
    columns = tuple(o for o in OUTCOMES if o in seen) + tuple(sorted(seen - set(OUTCOMES)))
    rows = tuple(
        (_label(kind), tuple(_number(v.get(o)) for o in columns)) for kind, v in per_kind.items()
    )
    totals = tuple(sum(row[i] for _, row in rows) for i in range(len(columns)))
    return CountsMatrix(columns=columns, rows=rows, totals=totals)


def _number(value: object) -> int:
    return value if isinstance(value, int) else 0


def issue_counts(counts: Mapping[str, object] | None) -> tuple[int, int]:
    """The errors and warnings a run found, (0, 0) when it recorded none."""
    issues = (counts or {}).get("issues")
    if not isinstance(issues, Mapping):
        return 0, 0
    return _number(issues.get("errors")), _number(issues.get("warnings"))


def in_words(value: object) -> str:
    """A counted value as text: mappings as "name 3 · other 1", sequences joined, never a repr."""
    if isinstance(value, Mapping):
        parts = [f"{str(k).replace('_', ' ')} {in_words(v)}" for k, v in value.items()]
        return " · ".join(parts) if parts else "none"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(in_words(v) for v in value) if value else "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return "—" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class CountFact:
    """One of a run's other counts: its stored key, a label, and its value as words or items."""

    key: str
    label: str
    words: str
    # A counted mapping, one (name, words) pair per entry, for a list rather than one long line.
    items: tuple[tuple[str, str], ...] = ()


def count_facts(counts: Mapping[str, object] | None) -> list[CountFact]:
    """The run's other counts (requests, retries, records pulled, …), in the order stored."""
    facts = []
    for k, value in (counts or {}).items():
        key = str(k)
        if key in _SAID_ELSEWHERE:
            continue
        items: tuple[tuple[str, str], ...] = ()
        if isinstance(value, Mapping):
            items = tuple((str(n).replace("_", " "), in_words(v)) for n, v in value.items())
        label = _FACT_LABELS.get(key, key.replace("_", " ").capitalize())
        facts.append(CountFact(key=key, label=label, words=in_words(value), items=items))
    return facts


def status_words(status: str, errors: int = 0) -> str:
    """What a run's status means, in a sentence a data manager can act on."""
    if status == "succeeded" and errors:
        found = "1 error" if errors == 1 else f"{errors:,} errors"
        return (
            f"This sync finished with issues: it applied its changes, but found {found}. "
            "The records with errors were held back unchanged until the district fixes them."
        )
    return _STATUS_WORDS.get(status, f"This run is {status.replace('_', ' ')}.")


def duration_words(started: datetime, finished: datetime | None) -> str:
    """How long a run took, e.g. "2 min 5 s"; "still running" before it ends."""
    return seconds_words(None if finished is None else (finished - started).total_seconds())


def actor_words(actor: str | None, names: Mapping[str, str] | None = None) -> str:
    """Who an audit actor is, in words: a known name first, else the kind of actor.

    Args:
        actor: An actor as audited (`staff:<id>`, `cli:<login>`, `scheduler`, …).
        names: Display names by actor, for the actors the page knows (the signed-in staff member).
    """
    if not actor:
        return "nobody"
    if names and actor in names:
        return names[actor]
    kind, _, rest = actor.partition(":")
    if kind == "cli":
        return f"{rest} on the command line" if rest else "someone on the command line"
    if kind == "scheduler":
        return "the sync schedule"
    return _ACTOR_WORDS.get(kind, actor)


def admin_templates(directory: Path = TEMPLATES) -> Jinja2Templates:
    """The admin pages' templates, with the run page's filters and globals registered."""
    templates = Jinja2Templates(directory=directory)
    env = templates.env
    env.filters.update(
        actor_words=actor_words,
        in_words=in_words,
        status_words=status_words,
    )
    env.globals.update(
        counts_matrix=counts_matrix,
        count_facts=count_facts,
        issue_counts=issue_counts,
        duration_words=duration_words,
        record_url=record_url,
    )
    return templates


__all__ = [
    "OUTCOMES",
    "CountFact",
    "CountsMatrix",
    "actor_words",
    "admin_templates",
    "count_facts",
    "counts_matrix",
    "duration_words",
    "in_words",
    "issue_counts",
    "status_words",
]
