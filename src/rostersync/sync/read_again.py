"""Rows known unchanged, in a run: offered to the source, checked, stored (decision 0046).

A full pull's classes and users whose rows the portal holds unchanged are never read into
records (`domain.unchanged_rows`). What such a record's validation depends on outside its own
row is checked here once the pull is in: another user of the pull with its email or student ID,
and the schools, terms and courses the portal holds (which a class or user may point at) still
standing. When one of these moved, the check says why, the attempt ends before anything is
written, and the run reads the pull again, every row into its record, as it would without the
short cut.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from sqlalchemy.engine import Engine

from rostersync.domain.emails import normal_email
from rostersync.domain.issues import ValidationIssue
from rostersync.domain.match import PEOPLE
from rostersync.domain.records import ACTIVE, EntityKind, Student
from rostersync.domain.rules import DistrictRules
from rostersync.domain.subjects import PortalNames
from rostersync.domain.unchanged_rows import FILES, KnownRows, basis_of
from rostersync.domain.validate import SourceRoster, ValidatedRoster
from rostersync.store import delta as store_delta
from rostersync.store import unchanged_rows as store_unchanged
from rostersync.store.apply import RowHashes
from rostersync.sync.sources import RosterSource

__all__ = [
    "check_people",
    "check_references",
    "offer",
    "portal_names",
    "release",
    "rewind",
    "row_hashes",
]

# The kinds a class or user may point at, which are always read into records.
POINTED_AT = (EntityKind.ORG, EntityKind.ACADEMIC_SESSION, EntityKind.COURSE)


def offer(
    engine: Engine, district_id: str, rules: DistrictRules, source: RosterSource, *, skip: bool
) -> KnownRows | None:
    """Offer a source that can use them the portal's row hashes (with `skip`), or none, so its
    rows are only hashed; what was offered."""
    take = getattr(source, "offer_known", None)
    if take is None:
        return None
    if skip:
        with engine.connect() as conn:
            known = store_unchanged.known_rows(conn, district_id, rules)
    else:
        known = KnownRows(basis=basis_of(rules), stored={})
    take(known)
    return known


def portal_names(engine: Engine, district_id: str, roster: SourceRoster) -> PortalNames:
    """How an enrollment's issue names a person or class known unchanged (as the portal has it)."""
    return store_unchanged.StoredNames(engine, district_id, roster.unchanged)


def rewind(source: RosterSource) -> None:
    """Make a source that was offered row hashes ready to be read again without them."""
    again = getattr(source, "rewind", None)
    if again is not None:
        again()


def release(source: RosterSource) -> None:
    """The run is done with a source it offered row hashes (a REST source keeps its client
    open until then, to be read again if need be)."""
    done = getattr(source, "release", None)
    if done is not None:
        done()


def check_people(engine: Engine, district_id: str, roster: SourceRoster) -> str | None:
    """Before validation: why the pull must be read again, when a user read this pull shares
    an email or student ID with one known unchanged (validation holds both, which needs both
    records) or has an email that is not plain ASCII (the databases lower-case only ASCII)."""
    unchanged = {kind: roster.unchanged.get(kind, set()) for kind in PEOPLE}
    if not any(unchanged.values()):
        return None
    emails: set[str] = set()
    student_ids: set[str] = set()
    for account in roster.accounts:
        if account.status != ACTIVE:
            continue
        if account.email:
            emails.add(normal_email(account.email))
        if isinstance(account, Student) and account.student_id:
            student_ids.add(account.student_id)
    if not emails and not student_ids:
        return None
    if not all(email.isascii() for email in emails):
        return "a changed user's email is not plain ASCII"
    with engine.connect() as conn:
        shared = store_unchanged.owners_among(conn, district_id, emails, student_ids, unchanged)
    if shared:
        return f"{len(shared)} unchanged users share an email or student ID with changed ones"
    return None


def check_references(engine: Engine, district_id: str, validated: ValidatedRoster) -> str | None:
    """After validation: why the pull must be read again, when a school, term or course the
    portal holds active is gone, removed or held this pull (an unchanged class or user may
    point at it)."""
    with engine.connect() as conn:
        held = store_delta.active_sourced_ids(conn, district_id, POINTED_AT)
    for kind, sourced_ids in held.items():
        standing = {r.sourced_id for r in validated.valid[kind] if r.status == ACTIVE}
        if sourced_ids - standing:
            return f"{len(sourced_ids - standing)} {kind.plural} no longer stand"
    return None


def row_hashes(
    known: KnownRows | None,
    issues: Iterable[ValidationIssue],
    held: Mapping[EntityKind, Collection[str]],
) -> Mapping[EntityKind, RowHashes] | None:
    """The row hashes to store with this run's records: none for a record with an issue, and
    none kept for a record held (waiting for another, or failing)."""
    if known is None:
        return None
    flagged = {issue.sourced_id for issue in issues}
    return {
        kind: RowHashes(known.hashes_for(kind), flagged, held.get(kind, ()))
        for kinds in FILES.values()
        for kind in kinds
    }
