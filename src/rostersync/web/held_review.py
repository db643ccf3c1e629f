"""A held or previewed run reviewed where it is decided: the records its plan would change.

`plan_changes` reads a stored plan's summary (`sync/report.py` `plan_summary`): per kind and
outcome, the count and the first 200 sourcedIds (the plan's items are only digests).
`review` filters them by action and by text (name, student ID or ClassLink id), pages them 50 at
a time and names each page's records with one set-based lookup per kind. `changes_csv` is the
same list as a spreadsheet-safe download; `decision_words` names the counts a decision confirms;
`hold_words` says in plain words which threshold tripped.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rostersync.domain.records import EntityKind
from rostersync.notify.csvfile import BOM, neutralise
from rostersync.store.plan_subjects import PlanSubject
from rostersync.store.workflow import PlanRecord

PAGE_SIZE = 50
# The actions a person reviews, in the order they are listed; the summary's outcome for each.
ACTIONS = {
    "deactivate": "deactivated",
    "update": "updated",
    "create": "created",
    "restore": "restored",
}
# People first (whom a hold is usually about), then what they are enrolled in.
ORDER = {
    kind: n
    for n, kind in enumerate(
        ("student", "educator", "enrollment", "class", "course", "org", "academicSession")
    )
}
NOT_IN_PORTAL = "Not in the portal yet"
CSV_COLUMNS = ("action", "name", "role", "student_id", "school", "classlink_id", "kind")

Lookup = Callable[[Sequence[tuple[str, str]]], dict[tuple[str, str], PlanSubject]]


@dataclass(frozen=True, slots=True)
class Change:
    """One record the plan would change."""

    kind: str
    action: str
    sourced_id: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.sourced_id)

    @property
    def kind_label(self) -> str:
        try:
            return EntityKind(self.kind).label
        except ValueError:
            return self.kind


@dataclass(frozen=True, slots=True)
class Row:
    """A change with its subject, as the page and the download show it."""

    change: Change
    name: str
    role: str
    student_id: str
    school: str


@dataclass(frozen=True, slots=True)
class Review:
    """One page of a plan's changes, and where it sits among them."""

    rows: list[Row]
    total: int
    first: int
    last: int
    page: int
    pages: int
    itemised: bool
    # Changes of the chosen action the summary lists, and the plan counts (more past the cap).
    listed: int
    counted: int


def plan_changes(plan: PlanRecord) -> list[Change]:
    """Every reviewable change the plan's summary lists, students first, then by action and
    ClassLink id (the summary keeps the first 200 of each kind and outcome: `complete` says
    whether that is all of them: `counted`)."""
    changes: set[Change] = set()
    for kind, outcomes in _kinds(plan).items():
        for action, outcome in ACTIONS.items():
            for sourced_id in (outcomes.get(outcome) or {}).get("sourced_ids") or ():
                changes.add(Change(kind, action, str(sourced_id)))
    actions = list(ACTIONS)
    return sorted(
        changes,
        key=lambda c: (ORDER.get(c.kind, 99), actions.index(c.action), c.sourced_id),
    )


def _kinds(plan: PlanRecord) -> dict[str, Any]:
    kinds = plan.summary.get("kinds") or {}
    return {k: v for k, v in kinds.items() if isinstance(v, dict)}


def counted(plan: PlanRecord, action: str = "") -> int:
    """How many changes of `action` (every action when empty) the plan counts."""
    return sum(
        int((outcomes.get(outcome) or {}).get("count", 0))
        for outcomes in _kinds(plan).values()
        for name, outcome in ACTIONS.items()
        if not action or name == action
    )


def _rows(changes: Iterable[Change], lookup: Lookup) -> list[Row]:
    changes = list(changes)
    found = lookup([c.key for c in changes]) if changes else {}
    rows = []
    for change in changes:
        subject = found.get(change.key)
        if subject is None:
            rows.append(Row(change, NOT_IN_PORTAL, change.kind_label, "", ""))
        else:
            role = subject.role or change.kind_label
            rows.append(Row(change, subject.name, role, subject.student_id, subject.school))
    return rows


def matching(changes: list[Change], lookup: Lookup, *, action: str, text: str) -> list[Row]:
    """Every change of `action` (all when empty) whose name, student ID or ClassLink id has
    `text` (all when empty), named."""
    chosen = [c for c in changes if not action or c.action == action]
    needle = text.strip().casefold()
    rows = _rows(chosen, lookup)
    if not needle:
        return rows
    return [
        r
        for r in rows
        if needle in r.name.casefold()
        or needle == r.student_id.casefold()
        or needle in r.change.sourced_id.casefold()
    ]


def review(
    plan: PlanRecord, lookup: Lookup, *, action: str = "", text: str = "", page: int = 1
) -> Review:
    """One page (50 records) of the plan's changes of `action` that match `text`.

    Without a search, only the page's records are looked up; a search looks up every change of
    the action, a chunk at a time, since it matches on names.
    """
    changes = [c for c in plan_changes(plan) if not action or c.action == action]
    if text.strip():
        every = matching(changes, lookup, action="", text=text)
        total = len(every)
    else:
        every, total = [], len(changes)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    start = (page - 1) * PAGE_SIZE
    if text.strip():
        rows = every[start : start + PAGE_SIZE]
    else:
        rows = _rows(changes[start : start + PAGE_SIZE], lookup)
    return Review(
        rows=rows,
        total=total,
        first=start + 1 if total else 0,
        last=start + len(rows),
        page=page,
        pages=pages,
        itemised=len(changes) >= counted(plan, action),
        listed=len(changes),
        counted=counted(plan, action),
    )


def changes_csv(rows: Iterable[Row]) -> str:
    """The rows as a UTF-8 CSV with a byte-order mark, every cell neutralised."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        cells = (
            r.change.action,
            r.name,
            r.role,
            r.student_id,
            r.school,
            r.change.sourced_id,
            r.change.kind_label,
        )
        writer.writerow([neutralise(cell) for cell in cells])
    return out.getvalue()


def _plural(kind: str, n: int) -> str:
    try:
        known = EntityKind(kind)
    except ValueError:
        return kind
    return known.label if n == 1 else known.plural


def decision_words(plan: PlanRecord) -> str:
    """What approving would do, by the counts: "deactivate 147 students, update 3 classes"."""
    kinds = _kinds(plan)
    parts = []
    for action, outcome in ACTIONS.items():
        counted = [
            (kind, int((kinds[kind].get(outcome) or {}).get("count", 0)))
            for kind in sorted(kinds, key=lambda k: ORDER.get(k, 99))
        ]
        said = [f"{n:,} {_plural(kind, n)}" for kind, n in counted if n]
        if said:
            parts.append(f"{action} " + " and ".join(said))
    return ", ".join(parts) if parts else "change nothing"


_RATIO = re.compile(
    r"^(?P<label>[^:]+): (?P<n>\d+) (?P<what>deactivations|updates) is (?P<pct>\d+%) of "
    r"(?P<active>\d+) active \(limit (?P<limit>\d+%)\)$"
)
_MAX = re.compile(r"^(?P<label>[^:]+): (?P<n>\d+) deactivations is more than (?P<limit>\d+)$")


def hold_words(reason: str | None) -> list[str]:
    """The hold reason, one plain sentence per tripped threshold; unknown reasons as they are."""
    sentences = []
    for part in (reason or "").split("; "):
        part = part.strip()
        if not part:
            continue
        ratio, most = _RATIO.match(part), _MAX.match(part)
        if ratio:
            done = "deactivated" if ratio["what"] == "deactivations" else "updated"
            sentences.append(
                f"{int(ratio['n']):,} of the {int(ratio['active']):,} active {ratio['label']} "
                f"({ratio['pct']}) would be {done}; a sync that {done[:-1]}s more than "
                f"{ratio['limit']} of them waits for a person to approve it."
            )
        elif most:
            sentences.append(
                f"{int(most['n']):,} {most['label']} would be deactivated; a sync that "
                f"deactivates more than {int(most['limit']):,} of them waits for a person to "
                "approve it."
            )
        else:
            sentences.append(part)
    return sentences
