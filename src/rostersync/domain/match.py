"""Matching source people to portal accounts that existed before the district was rostered.

A district may already have accounts in the portal, made by staff or by a spreadsheet import.
Before planning, each source student or educator that the portal does not hold by sourcedId is
matched, inside the district only, in this order: the ClassLink sourcedId already linked; then the
student ID (students only); then the email, trimmed and compared without case. A match needs
exactly one account and one source record to agree. Anything else is an `ambiguous_match` issue
naming both sides, and the record is held, never merged (docs/decisions/0004-matching-order.md).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from rostersync.domain.emails import normal_email as normal_email
from rostersync.domain.issues import ValidationIssue
from rostersync.domain.records import (
    ACTIVE,
    Educator,
    Enrollment,
    EntityKind,
    Record,
    StoredRecord,
    Student,
)
from rostersync.domain.references import describe, waiting_key
from rostersync.domain.validate import WAITING, ValidatedRoster

PEOPLE = (EntityKind.STUDENT, EntityKind.EDUCATOR)
AMBIGUOUS = "ambiguous_match"


class MatchKey(StrEnum):
    """Which key made a match, in the order they are tried."""

    SOURCED_ID = "sourcedId"
    STUDENT_ID = "student_id"
    EMAIL = "email"


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """A portal account that a source record may claim: unlinked, or made by hand.

    `email` is already trimmed and lower-cased; `student_id` is empty for educators.
    """

    id: str
    sourced_id: str | None
    student_id: str
    email: str
    active: bool
    manually_rostered: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """One source record linked to an existing account, and the key that linked them."""

    kind: EntityKind
    sourced_id: str
    account_id: str
    key: MatchKey


@dataclass(slots=True, kw_only=True)
class MatchResult:
    """The roster and stored index to plan from, with the matches that changed them."""

    roster: ValidatedRoster
    stored: dict[EntityKind, Mapping[str, StoredRecord]]
    matches: dict[EntityKind, list[Match]] = field(default_factory=dict)
    # People held by a matching conflict: their enrollments wait on the fix.
    blocked: frozenset[str] = frozenset()
    # The same people as a person knows them (`references.describe`), by sourcedId.
    blocked_names: Mapping[str, str] = field(default_factory=dict)

    def count(self, kind: EntityKind) -> int:
        """How many records of `kind` were matched."""
        return len(self.matches.get(kind, ()))


def match_accounts(
    roster: ValidatedRoster,
    stored: Mapping[EntityKind, Mapping[str, StoredRecord]],
    accounts: Mapping[EntityKind, Sequence[Account]],
) -> MatchResult:
    """Link source people to existing accounts, or hold them when the link is ambiguous.

    Args:
        roster: The validated pull.
        stored: What the portal holds per kind, keyed by sourcedId.
        accounts: Per people kind, the district's accounts without a sourcedId or made by hand.

    Returns:
        A roster in which ambiguous records (and the enrollments waiting on them) are held, a
        stored index in which every matched account stands under its new sourcedId (so the plan
        updates or restores it, keeping its id), and the matches by kind.
    """
    # Lists and indexes are shared with the input, never changed in place: a kind whose
    # records or index change gets a new list or dict (a big district's are millions long).
    valid = dict(roster.valid)
    held = {kind: set(sids) for kind, sids in roster.held.items()}
    issues = list(roster.issues)
    # What waits for which record is counted among the run's skipped records from here on.
    skipped = Counter(roster.skipped)
    skipped.update(roster.waiting)
    new_stored: dict[EntityKind, Mapping[str, StoredRecord]] = dict(stored)
    matches: dict[EntityKind, list[Match]] = {}
    blocked: set[str] = set()
    blocked_names: dict[str, str] = {}

    for kind in PEOPLE:
        records = [r for r in valid.get(kind, []) if r.status == ACTIVE]
        present = (
            {r.sourced_id for r in records}
            | held.get(kind, set())
            | roster.unchanged.get(kind, set())
        )
        found, conflicts = _match_kind(
            kind, records, stored.get(kind, {}), accounts.get(kind, ()), present
        )
        matches[kind] = found
        if found or kind not in stored:
            new_stored[kind] = _relinked(stored.get(kind, {}), found, accounts.get(kind, ()))
        for sid, issue in conflicts.items():
            issues.append(issue)
            blocked.add(sid)
        blocked_names.update(
            (r.sourced_id, describe(r)) for r in records if r.sourced_id in conflicts
        )
        if conflicts or kind not in valid:
            valid[kind] = [r for r in valid.get(kind, []) if r.sourced_id not in conflicts]
        held.setdefault(kind, set()).update(conflicts)

    if blocked:
        # Enrollments of a held person wait on that person's fix, as validation does elsewhere.
        keep: list[Record] = []
        for record in valid.get(EntityKind.ENROLLMENT, []):
            if isinstance(record, Enrollment) and record.user_sourced_id in blocked:
                held.setdefault(EntityKind.ENROLLMENT, set()).add(record.sourced_id)
                skipped[f"{EntityKind.ENROLLMENT.value}_{WAITING}"] += 1
                target = blocked_names[record.user_sourced_id]
                skipped[waiting_key(EntityKind.ENROLLMENT.value, target)] += 1
            else:
                keep.append(record)
        valid[EntityKind.ENROLLMENT] = keep

    return MatchResult(
        roster=ValidatedRoster(
            valid=valid,
            held=held,
            issues=issues,
            skipped=dict(skipped),
            unchanged=roster.unchanged,
        ),
        stored=new_stored,
        matches=matches,
        blocked=frozenset(blocked),
        blocked_names=blocked_names,
    )


def _relinked(
    stored: Mapping[str, StoredRecord], found: Sequence[Match], accounts: Sequence[Account]
) -> Mapping[str, StoredRecord]:
    """One kind's index in which every matched account stands under its sourcedId: the stored
    index seen through the matches' changes (never a copy: it can hold a million records)."""
    changes: dict[str, StoredRecord | None] = {}
    by_id = {a.id: a for a in accounts}
    for match in found:
        if match.key is MatchKey.SOURCED_ID:
            changes[match.sourced_id] = stored[match.sourced_id]._replace(manually_rostered=False)
            continue
        account = by_id[match.account_id]
        if account.sourced_id:
            # A hand-made account relinked to ClassLink's id leaves its old key behind.
            changes[account.sourced_id] = None
        # An empty hash differs from any record's, so the plan writes the account.
        changes[match.sourced_id] = StoredRecord(
            id=account.id,
            sourced_id=match.sourced_id,
            content_hash="",
            active=account.active,
            manually_rostered=False,
        )
    return _Changed(stored, changes)


class _Changed(Mapping[str, StoredRecord]):
    """A stored index with some entries replaced (a record) or removed (None)."""

    __slots__ = ("_base", "_changes")

    def __init__(
        self, base: Mapping[str, StoredRecord], changes: dict[str, StoredRecord | None]
    ) -> None:
        self._base, self._changes = base, changes

    def __getitem__(self, sourced_id: str) -> StoredRecord:
        if sourced_id in self._changes:
            changed = self._changes[sourced_id]
            if changed is None:
                raise KeyError(sourced_id)
            return changed
        return self._base[sourced_id]

    def __iter__(self) -> Iterator[str]:
        changes = self._changes
        yield from (sid for sid in self._base if sid not in changes)
        yield from (sid for sid, record in changes.items() if record is not None)

    def __len__(self) -> int:
        size = len(self._base)
        for sid, record in self._changes.items():
            if record is None and sid in self._base:
                size -= 1
            elif record is not None and sid not in self._base:
                size += 1
        return size


def _match_kind(
    kind: EntityKind,
    records: Sequence[Record],
    index: Mapping[str, StoredRecord],
    accounts: Sequence[Account],
    present: set[str],
) -> tuple[list[Match], dict[str, ValidationIssue]]:
    found: list[Match] = []
    # The linked sourcedId comes first: a hand-made account ClassLink now sends becomes synced.
    for record in records:
        existing = index.get(record.sourced_id)
        if existing is not None and existing.manually_rostered:
            found.append(
                Match(
                    kind=kind,
                    sourced_id=record.sourced_id,
                    account_id=existing.id,
                    key=MatchKey.SOURCED_ID,
                )
            )
    # Accounts already linked to a sourcedId the source still sends are spoken for.
    free = [a for a in accounts if not (a.sourced_id and a.sourced_id in present)]
    by_student_id: dict[str, list[str]] = defaultdict(list)
    by_email: dict[str, list[str]] = defaultdict(list)
    for account in free:
        if student_id := account.student_id.strip():
            by_student_id[student_id].append(account.id)
        if email := normal_email(account.email):
            by_email[email].append(account.id)

    claims: dict[str, list[tuple[str, MatchKey]]] = defaultdict(list)
    conflicts: dict[str, ValidationIssue] = {}
    for record in records:
        sid = record.sourced_id
        if sid in index:
            continue
        student_id = record.student_id.strip() if isinstance(record, Student) else ""
        email = normal_email(record.email) if isinstance(record, Student | Educator) else ""
        by_id = by_student_id.get(student_id, []) if student_id else []
        by_mail = by_email.get(email, []) if email else []
        if len(by_id) > 1 or len(by_mail) > 1:
            ids = by_id if len(by_id) > 1 else by_mail
            what = "student ID" if len(by_id) > 1 else "email"
            conflicts[sid] = _issue(
                kind,
                sid,
                "studentId" if len(by_id) > 1 else "email",
                f"The {what} of {kind.label} {sid!r} belongs to {len(ids)} existing portal "
                f"accounts ({', '.join(sorted(ids))}), so it cannot tell which one is theirs.",
                f"Remove the duplicate portal account, or correct the {what} in ClassLink.",
            )
            continue
        if by_id and by_mail and by_id[0] != by_mail[0]:
            conflicts[sid] = _issue(
                kind,
                sid,
                "studentId",
                f"The student ID of {kind.label} {sid!r} matches portal account {by_id[0]} but "
                f"the email matches portal account {by_mail[0]}.",
                "Correct the student ID or the email in ClassLink or in the portal so that both "
                "point at the same account.",
            )
            continue
        if by_id:
            claims[by_id[0]].append((sid, MatchKey.STUDENT_ID))
        elif by_mail:
            claims[by_mail[0]].append((sid, MatchKey.EMAIL))

    for account_id, claimants in claims.items():
        if len(claimants) == 1:
            sid, key = claimants[0]
            found.append(Match(kind=kind, sourced_id=sid, account_id=account_id, key=key))
            continue
        sids = sorted(sid for sid, _ in claimants)
        for sid, key in claimants:
            others = ", ".join(repr(s) for s in sids if s != sid)
            conflicts[sid] = _issue(
                kind,
                sid,
                "studentId" if key is MatchKey.STUDENT_ID else "email",
                f"Portal account {account_id} is claimed by {kind.label} {sid!r} and by "
                f"{others}; two records cannot share one account.",
                "Give each person their own student ID and email in ClassLink.",
            )
    return found, conflicts


def _issue(kind: EntityKind, sid: str, field_name: str, message: str, fix: str) -> ValidationIssue:
    return ValidationIssue(
        entity=kind.value,
        sourced_id=sid,
        field=field_name,
        code=AMBIGUOUS,
        message=message,
        fix=fix,
    )


__all__ = ["AMBIGUOUS", "Account", "Match", "MatchKey", "MatchResult", "match_accounts"]
