"""A held or previewed run reviewed where it is decided: the records its plan would change.

A run held since its changes were listed in full (`store.plan_changes`) is reviewed from that
list: `review` pages it by keyset, 50 at a time, with the list's total, searched by name,
student ID or ClassLink id in SQL; `download` is every change that matches, as a
spreadsheet-safe CSV. A preview, or a run held before that list was kept, is reviewed from its
plan's summary (`sync/report.py` `plan_summary`): per kind and outcome, the count and the first
200 sourcedIds, paged by number and named a page at a time (`plan_changes`, `matching`); the page
then says the list is partial. `decision_words` names the counts a decision confirms;
`hold_words` says in plain words which threshold tripped.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from rostersync.domain.records import EntityKind
from rostersync.notify.csvfile import BOM, neutralise
from rostersync.services.runs import Runs
from rostersync.store import plan_changes as store_plan_changes
from rostersync.store.plan_subjects import PlanSubject
from rostersync.store.workflow import PlanRecord
from rostersync.web.paging import links_of, page_seek

PAGE_SIZE = 50
# The actions a person reviews, in the order they are listed; the summary's outcome for each.
OUTCOMES = ("deactivated", "updated", "created", "restored")
ACTIONS = dict(zip(store_plan_changes.ACTIONS, OUTCOMES, strict=True))
# People first (whom a hold is usually about), then what they are enrolled in.
ORDER = {kind: n for n, kind in enumerate(store_plan_changes.KINDS)}
NOT_IN_PORTAL = "Not in the portal yet"
# A record by name, role, student ID and school; its ClassLink id second.
CSV_COLUMNS = ("name", "role", "student_id", "school", "classlink_id", "kind", "action")
# The cursor of the keyset-paged list (`web/paging.py`).
LIST_NAME = "run-changes"

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """One page of a plan's changes, where it sits among them, and its links."""

    rows: list[Row]
    total: int
    first: int
    last: int
    next_url: str
    previous_url: str
    first_url: str
    # Every change of the chosen action is listed (the full list, or a summary short of its cap).
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


def _link(path: str, params: dict[str, str | int]) -> str:
    kept = {k: v for k, v in params.items() if v not in ("", None)}
    return path + (f"?{urlencode(kept)}" if kept else "")


def _summary_review(
    plan: PlanRecord, lookup: Lookup, path: str, *, action: str, text: str, page: int
) -> Review:
    """One page (50 records) of the changes of `action` that match `text` that the plan's
    summary lists, paged by number.

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
    query: dict[str, str | int] = {"q": text, "action": action}
    return Review(
        rows=rows,
        total=total,
        first=start + 1 if total else 0,
        last=start + len(rows),
        next_url=_link(path, {**query, "page": page + 1}) if page < pages else "",
        previous_url=_link(path, {**query, "page": page - 1}) if page > 1 else "",
        first_url=_link(path, query),
        itemised=len(changes) >= counted(plan, action),
        listed=len(changes),
        counted=counted(plan, action),
    )


def _row(change: store_plan_changes.ListedChange) -> Row:
    listed = Change(change.kind, change.action, change.sourced_id)
    if not change.in_portal:
        return Row(listed, NOT_IN_PORTAL, listed.kind_label, "", "")
    role = change.role or listed.kind_label
    return Row(listed, change.name, role, change.student_id, change.school)


def review(
    runs: Runs,
    plan: PlanRecord,
    district_id: str,
    *,
    action: str = "",
    text: str = "",
    cursor: str = "",
    page: int = 1,
) -> Review:
    """One page of the run's changes of `action` (all when empty) that match `text`: from the
    full list by `cursor` when the run's changes were listed, else from its summary by `page`.

    Raises:
        PageError: The cursor is not one this list made (a 400 page that links the first page).
    """
    path = f"/admin/runs/{plan.run_id}"
    query: dict[str, str | int] = {"q": text, "action": action}
    first_url = _link(path, query)
    seek = page_seek(cursor, LIST_NAME, store_plan_changes.KEY_SHAPE, first_url)
    listed = runs.listed_changes(plan.run_id, district_id, action=action, text=text, seek=seek)
    if listed is None:
        return _summary_review(
            plan, runs_lookup(runs, district_id), path, action=action, text=text, page=page
        )
    found, changes = listed
    links = links_of(found, LIST_NAME, path, query)
    return Review(
        rows=[_row(c) for c in changes],
        total=found.total,
        first=found.first,
        last=found.last,
        next_url=links.next_url,
        previous_url=links.previous_url,
        first_url=first_url,
        itemised=True,
        listed=found.total,
        counted=found.total,
    )


def runs_lookup(runs: Runs, district_id: str) -> Lookup:
    """Names of a summary's changes, from the portal's records."""
    return lambda keys: runs.plan_subjects(district_id, keys)


def download(runs: Runs, plan: PlanRecord, district_id: str, *, action: str, text: str) -> str:
    """Every change of `action` that matches `text`, as `changes_csv`: the full list when the
    run's changes were listed, else what its summary lists."""
    listed = runs.every_listed_change(plan.run_id, district_id, action=action, text=text)
    if listed is None:
        lookup = runs_lookup(runs, district_id)
        return changes_csv(matching(plan_changes(plan), lookup, action=action, text=text))
    return changes_csv(_row(c) for c in listed)


def changes_csv(rows: Iterable[Row]) -> str:
    """The rows as a UTF-8 CSV with a byte-order mark, every cell neutralised: each record by
    name, role, student ID and school, then its ClassLink id, kind and change."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        cells = (
            r.name,
            r.role,
            r.student_id,
            r.school,
            r.change.sourced_id,
            r.change.kind_label,
            r.change.action,
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
