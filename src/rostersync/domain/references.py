"""References between records: when one resolves, and in what words it does not.

A reference resolves to an active record of the same pull (or, in a delta, one the portal holds).
When it does not, the words say why: the target is held for an error of its own (the referrer
waits, marked `WAITING`, and is counted rather than reported: the fix is the target's), the
district marked it `tobedeleted` (the referrer is told so, and counted), it is not named at all,
or it is not in the roster ClassLink shared (share it, or correct the reference).

A waiting record is counted twice over in a run's `skipped`: once under `<kind>_WAITING`, and
once per record it waits for, under `waiting_key(kind, describe(target))`, so a person reads
which record to fix ("12 enrollments wait for class “Reading 1” (cls-1)"), named as people
know it, its sourcedId second.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field

from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.domain.records import (
    AcademicSession,
    Course,
    Educator,
    Org,
    Person,
    Record,
    SchoolClass,
    Student,
)

__all__ = [
    "DELETED",
    "POINTS_AT_DELETED",
    "WAITING",
    "Refused",
    "describe",
    "issue",
    "reference",
    "split_skipped",
    "waiting_detail",
    "waiting_key",
]

WAITING = "waiting_on_failed_record"
# Issue codes `deleted_<target>`, and the count of records whose reference is to such a record.
DELETED = "deleted_"
POINTS_AT_DELETED = "pointing_at_deleted_record"


@dataclass(frozen=True, slots=True)
class Refused:
    """The targets a reference may not resolve to: held ones (the referrer waits for their fix)
    and ones the district marked `tobedeleted` in this pull (the referrer is told so)."""

    held: Set[str]
    deleted: Set[str] = frozenset()
    # How people know the held ones (`describe`), for the count of what waits for them.
    names: Mapping[str, str] = field(default_factory=dict)


def describe(record: Record) -> str:
    """A record as a person knows it, its sourcedId second: `class “Reading 1” (cls-1)`."""
    sid = record.sourced_id
    if isinstance(record, Student | Educator | Person):
        name = " ".join(p for p in (record.given_name.strip(), record.family_name.strip()) if p)
        label = {Student: "student", Educator: "educator"}.get(type(record), "user")
        return f"{label} {name} ({sid})" if name else f"{label} {sid}"
    labels = {Org: "school", AcademicSession: "term", Course: "course", SchoolClass: "class"}
    label = next((w for t, w in labels.items() if isinstance(record, t)), "record")
    title = getattr(record, "name", "") or getattr(record, "title", "")
    title = title.strip() if isinstance(title, str) else ""
    return f"{label} “{title}” ({sid})" if title else f"{label} {sid}"


def named(record: Record) -> str:
    """`describe` at the start of a sentence: `Student Mary White (stu-1)`."""
    text = describe(record)
    return text[:1].upper() + text[1:]


def waiting_key(kind: str, target: str) -> str:
    """The `skipped` key counting the records of `kind` that wait for `target` (`describe`)."""
    return f"{kind}_{WAITING}:{target}"


def waiting_detail(key: str) -> tuple[str, str] | None:
    """`(kind, target)` of a `waiting_key`, or None for any other `skipped` key."""
    head, colon, target = key.partition(":")
    kind, _, rest = head.partition("_")
    if not colon or rest != WAITING:
        return None
    return kind, target


def issue(
    entity: str,
    sid: str,
    field_name: str,
    code: str,
    message: str,
    fix: str,
    severity: Severity = Severity.ERROR,
) -> ValidationIssue:
    """One issue of one record (see `ValidationIssue`)."""
    return ValidationIssue(
        entity=entity,
        sourced_id=sid,
        field=field_name,
        code=code,
        message=message,
        fix=fix,
        severity=severity,
    )


def reference(
    entity: str,
    sid: str,
    field_name: str,
    target_label: str,
    target: str | None,
    ok: Set[str],
    failed: Set[str] | Refused,
) -> ValidationIssue | None:
    """None when the reference resolves; WAITING marker, or the issue of a reference that does
    not resolve: to nothing, to a record the district marked for deletion, to an unknown one."""
    if target and target in ok:
        return None
    refused = failed if isinstance(failed, Refused) else Refused(failed)
    if target and target in refused.held:
        # Not an issue of its own: the message names what it waits for, to count it by that.
        waits_for = refused.names.get(target) or f"{target_label} {target}"
        return issue(entity, sid, field_name, WAITING, waits_for, "")
    if target and target in refused.deleted:
        return issue(
            entity,
            sid,
            field_name,
            f"{DELETED}{target_label}",
            f"{entity.capitalize()} {sid!r} points at {target_label} {target!r}, which the "
            "district marked for deletion (status tobedeleted), so it cannot be added.",
            f"If the {target_label} is gone, mark this {entity} tobedeleted too (or remove it) in "
            f"the SIS; if it is not, undo the {target_label}'s deletion.",
        )
    if not target:
        return issue(
            entity,
            sid,
            field_name,
            f"missing_{target_label}",
            f"{entity.capitalize()} {sid!r} does not name its {target_label}.",
            f"Assign the {entity} to a {target_label} in the SIS.",
        )
    return issue(
        entity,
        sid,
        field_name,
        f"unknown_{target_label}",
        f"{entity.capitalize()} {sid!r} points at {target_label} {target!r}, which is not in "
        "the roster ClassLink shared.",
        f"Share {target_label} {target!r} with this application in ClassLink, or correct the "
        f"{entity}'s {field_name} in the SIS.",
    )


def split_skipped(skipped: Mapping[str, int]) -> tuple[dict[str, int], list[str]]:
    """A run's `skipped` counts as people read them: what was skipped on purpose (family
    members, say), and one sentence per kind of record that waits for another record's fix,
    naming what it waits for: "14 enrollments wait for: class “Reading 1” (cls-1) 12, …"."""
    on_purpose: dict[str, int] = {}
    totals: dict[str, int] = {}
    targets: dict[str, list[str]] = {}
    for key, count in sorted(skipped.items()):
        detail = waiting_detail(key)
        kind, _, rest = key.partition("_")
        if detail is not None:
            targets.setdefault(detail[0], []).append(f"{detail[1]} {count}")
        elif rest == WAITING:
            totals[kind] = count
        else:
            on_purpose[key] = count
    waiting = []
    for kind in sorted(totals.keys() | targets.keys()):
        count = totals.get(kind, 0)
        plural = f"{kind}{'es' if kind.endswith('s') else 's'}" if count != 1 else kind
        verb = "waits" if count == 1 else "wait"
        named = targets.get(kind)
        what = f": {', '.join(named)}" if named else " a record with an error"
        waiting.append(f"{count} {plural} {verb} for{what}")
    return on_purpose, waiting
