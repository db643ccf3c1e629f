"""What the web feature keeps and reads: login states, used codes, sessions, and home-page data.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
Secrets that travel in URLs or cookies (state, session token, code) are stored only as SHA-256
hashes, so reading the database does not let anyone finish a login or ride a session.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    insert,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from rostersync.store.tables import (
    audit_log,
    classes,
    districts,
    educators,
    eligibility,
    enrollments,
    integrations,
    orgs,
    students,
)
from rostersync.store.web_tables import login_states, used_codes, web_sessions


def digest(value: str) -> str:
    """The SHA-256 hex digest under which a URL or cookie secret is stored."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class SignInDistrict:
    """A district as the login page lists it."""

    id: str
    display_name: str
    status: str
    classlink_tenant_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginState:
    """One login we started, as kept until its callback."""

    district_id: str | None
    binding_hash: str
    issuer: str
    nonce: str
    code_verifier: str
    next_path: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """A rostered person who may sign in."""

    kind: str  # "student" or "educator"
    id: str
    district_id: str
    active: bool
    enabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSession:
    """A signed-in browser."""

    district_id: str | None
    person_kind: str
    person_id: str
    csrf_token: str
    expires_at: datetime


# Districts -----------------------------------------------------------------------------------
def live_districts(conn: Connection) -> list[tuple[str, str]]:
    """(id, display name) of every live district, by display name: one query, any count."""
    rows = conn.execute(
        select(districts.c.id, districts.c.display_name)
        .where(districts.c.status == "live")
        .order_by(districts.c.display_name)
    )
    return [(r.id, r.display_name) for r in rows]


# The statements of a login are built once, here, with bound parameters: building a statement
# costs SQLAlchemy several times what running it does, and a login runs a score of them.
_SIGN_IN_DISTRICT = select(
    districts.c.id, districts.c.display_name, districts.c.status, districts.c.classlink_tenant_id
)
_DISTRICT_BY_ID = _SIGN_IN_DISTRICT.where(districts.c.id == bindparam("district_id"))
_DISTRICTS_BY_TENANT = _SIGN_IN_DISTRICT.where(
    districts.c.classlink_tenant_id == bindparam("tenant_id")
)


def sign_in_district(conn: Connection, district_id: str) -> SignInDistrict | None:
    """A district by id, whatever its status, or None."""
    row = conn.execute(_DISTRICT_BY_ID, {"district_id": district_id}).first()
    return None if row is None else SignInDistrict(**row._mapping)


def district_for_tenant(conn: Connection, tenant_id: str) -> SignInDistrict | None:
    """The district with this ClassLink tenant id (live first, if several), or None."""
    rows = conn.execute(_DISTRICTS_BY_TENANT, {"tenant_id": tenant_id}).all()
    found = [SignInDistrict(**r._mapping) for r in rows]
    found.sort(key=lambda d: d.status != "live")
    return found[0] if found else None


# Login states and codes ----------------------------------------------------------------------
def save_login_state(
    conn: Connection,
    *,
    state: str,
    district_id: str | None,
    binding: str,
    issuer: str,
    nonce: str,
    code_verifier: str,
    next_path: str,
    now: datetime,
    lifetime: timedelta,
) -> None:
    """Keep a started login until its callback (or `lifetime`, whichever comes first)."""
    conn.execute(
        _SAVE_LOGIN_STATE,
        {
            "state_hash": digest(state),
            "district_id": district_id,
            "binding_hash": digest(binding),
            "issuer": issuer,
            "nonce": nonce,
            "code_verifier": code_verifier,
            "next_path": next_path,
            "created_at": now,
            "expires_at": now + lifetime,
        },
    )


_SAVE_LOGIN_STATE = insert(login_states)
_TAKE_LOGIN_STATE = (
    delete(login_states)
    .where(login_states.c.state_hash == bindparam("key"))
    .returning(*(c for c in login_states.c if c.name != "state_hash"))
)
# An INSERT that does nothing when the code is there already: a row back says this one won.
_CLAIM_CODE = {
    "sqlite": sqlite_insert(used_codes).on_conflict_do_nothing().returning(used_codes.c.code_hash),
    "postgresql": postgresql_insert(used_codes)
    .on_conflict_do_nothing()
    .returning(used_codes.c.code_hash),
}


def take_login_state(conn: Connection, state: str, *, now: datetime) -> LoginState | None:
    """Consume a login state: it is returned at most once, and never after it expired.

    One DELETE ... RETURNING decides who wins when two callbacks race for one state: only the
    request whose DELETE removed the row gets it back.
    """
    row = conn.execute(_TAKE_LOGIN_STATE, {"key": digest(state)}).first()
    if row is None:
        return None
    values = dict(row._mapping)
    if values.pop("expires_at") <= now:
        return None
    return LoginState(**values)


def claim_code(conn: Connection, code: str, *, now: datetime) -> bool:
    """Record that we are about to exchange `code`; False when it was claimed before.

    A duplicate is no error (ON CONFLICT DO NOTHING), so the caller's transaction stays usable;
    of two requests racing with one code, the second waits for the first's row and inserts
    nothing.
    """
    statement = _CLAIM_CODE[conn.dialect.name]
    claimed = conn.execute(statement, {"code_hash": digest(code), "used_at": now}).first()
    return claimed is not None


def forget_stale(conn: Connection, *, now: datetime, keep_codes: timedelta) -> None:
    """Drop expired login states and sessions, and code records older than `keep_codes`."""
    conn.execute(_STALE_LOGIN_STATES, {"now": now})
    conn.execute(_STALE_SESSIONS, {"now": now})
    conn.execute(_STALE_CODES, {"before": now - keep_codes})


_STALE_LOGIN_STATES = delete(login_states).where(login_states.c.expires_at <= bindparam("now"))
_STALE_SESSIONS = delete(web_sessions).where(web_sessions.c.expires_at <= bindparam("now"))
_STALE_CODES = delete(used_codes).where(used_codes.c.used_at <= bindparam("before"))


# Accounts and sessions -----------------------------------------------------------------------
def find_account(conn: Connection, district_id: str, sourced_id: str) -> Account | None:
    """The student or educator rostered under `sourced_id` in this one district, or None."""
    params = {"district_id": district_id, "sourced_id": sourced_id}
    for kind, statement in _ACCOUNT_BY_SOURCED_ID:
        row = conn.execute(statement, params).first()
        if row is not None:
            return Account(kind=kind, **row._mapping)
    return None


_ACCOUNT_BY_SOURCED_ID = [
    (
        kind,
        select(table.c.id, table.c.district_id, table.c.active, table.c.enabled).where(
            table.c.district_id == bindparam("district_id"),
            table.c.sourced_id == bindparam("sourced_id"),
        ),
    )
    for kind, table in (("student", students), ("educator", educators))
]
_CREATE_SESSION = insert(web_sessions)


def create_session(
    conn: Connection,
    *,
    token: str,
    csrf_token: str,
    account: Account,
    now: datetime,
    lifetime: timedelta,
) -> None:
    """Store a new signed-in session under the hash of `token`."""
    conn.execute(
        _CREATE_SESSION,
        {
            "token_hash": digest(token),
            "district_id": account.district_id,
            "person_kind": account.kind,
            "person_id": account.id,
            "csrf_token": csrf_token,
            "created_at": now,
            "expires_at": now + lifetime,
        },
    )


_SESSION = select(
    web_sessions.c.district_id,
    web_sessions.c.person_kind,
    web_sessions.c.person_id,
    web_sessions.c.csrf_token,
    web_sessions.c.expires_at,
).where(
    web_sessions.c.token_hash == bindparam("token_hash"),
    web_sessions.c.expires_at > bindparam("now"),
)
_DELETE_SESSION = delete(web_sessions).where(web_sessions.c.token_hash == bindparam("token_hash"))


def get_session(conn: Connection, token: str, *, now: datetime) -> WebSession | None:
    """The live session behind a cookie token, or None."""
    row = conn.execute(_SESSION, {"token_hash": digest(token), "now": now}).first()
    return None if row is None else WebSession(**row._mapping)


def delete_session(conn: Connection, token: str) -> None:
    """Sign a session out; a token with no session is fine."""
    conn.execute(_DELETE_SESSION, {"token_hash": digest(token)})


# Home pages ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """The signed-in person's name, school and district, for the page header."""

    kind: str
    id: str
    given_name: str
    family_name: str
    school: str | None
    district: str
    grade: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassRow:
    """One class a person is enrolled in or teaches."""

    id: str
    title: str
    class_code: str
    school: str | None


def person(conn: Connection, kind: str, person_id: str) -> Person | None:
    """Name, school and district of a student or educator."""
    row = conn.execute(_PERSON[kind], {"person_id": person_id}).first()
    return None if row is None else Person(kind=kind, **row._mapping)


def _person_columns(table: Table) -> list[Any]:
    return [
        table.c.given_name,
        table.c.family_name,
        orgs.c.name.label("school"),
        districts.c.display_name.label("district"),
    ]


def _with_school_and_district(table: Table) -> Any:
    return table.join(districts, districts.c.id == table.c.district_id).outerjoin(
        orgs, orgs.c.id == table.c.school_id
    )


# Built once, like the sign-in lookups: every signed-in page reads the person.
_PERSON = {
    kind: select(table.c.id, *_person_columns(table), *extra)
    .select_from(_with_school_and_district(table))
    .where(table.c.id == bindparam("person_id"))
    for kind, table, extra in (
        ("student", students, [students.c.grade]),
        ("educator", educators, []),
    )
}


def session_person(
    conn: Connection, token: str, *, now: datetime
) -> tuple[WebSession, Person] | None:
    """A live session of a district and the person it belongs to, read in one statement; None
    when the token has no live session of a district, or its person is gone."""
    row = conn.execute(_SESSION_VIEWER, {"token_hash": digest(token), "now": now}).first()
    if row is None:
        return None
    values = dict(row._mapping)
    session = WebSession(
        district_id=values.pop("district_id"),
        person_kind=values.pop("person_kind"),
        person_id=values.pop("person_id"),
        csrf_token=values.pop("csrf_token"),
        expires_at=values.pop("expires_at"),
    )
    if session.person_kind != "student":
        values["grade"] = ""
    return session, Person(kind=session.person_kind, id=session.person_id, **values)


# The session and its person (a student or an educator: a UNION ALL of both, one row at most).
_SESSION_VIEWER = union_all(
    *(
        select(
            web_sessions.c.district_id,
            web_sessions.c.person_kind,
            web_sessions.c.person_id,
            web_sessions.c.csrf_token,
            web_sessions.c.expires_at,
            *_person_columns(table),
            grade,
        )
        .select_from(
            web_sessions.join(
                _with_school_and_district(table),
                and_(web_sessions.c.person_kind == kind, table.c.id == web_sessions.c.person_id),
            )
        )
        .where(
            web_sessions.c.token_hash == bindparam("token_hash"),
            web_sessions.c.expires_at > bindparam("now"),
            web_sessions.c.district_id.is_not(None),
        )
        for kind, table, grade in (
            ("student", students, students.c.grade.label("grade")),
            ("educator", educators, cast(null(), String).label("grade")),
        )
    )
)


def classes_of(conn: Connection, kind: str, person_id: str) -> list[ClassRow]:
    """The active classes a student attends or an educator teaches, by title."""
    rows = conn.execute(_CLASSES_OF[kind], {"person_id": person_id})
    return [ClassRow(**r._mapping) for r in rows]


_CLASSES_OF = {
    kind: select(classes.c.id, classes.c.title, classes.c.class_code, orgs.c.name.label("school"))
    .select_from(
        enrollments.join(classes, classes.c.id == enrollments.c.class_id).outerjoin(
            orgs, orgs.c.id == classes.c.school_id
        )
    )
    .where(person_column == bindparam("person_id"), enrollments.c.active, classes.c.active)
    .distinct()
    .order_by(classes.c.title, classes.c.id)
    for kind, person_column in (
        ("student", enrollments.c.student_id),
        ("educator", enrollments.c.educator_id),
    )
}


def eligibility_source(conn: Connection, district_id: str) -> str | None:
    """Where the district's eligibility comes from: "portal" or "metadata"."""
    return conn.execute(
        select(integrations.c.eligibility_source).where(integrations.c.district_id == district_id)
    ).scalar_one_or_none()


def teaches_student(conn: Connection, district_id: str, educator_id: str, student_id: str) -> bool:
    """Whether the educator has an active class, in their district, that the student attends."""
    mine = enrollments.alias("mine")
    theirs = enrollments.alias("theirs")
    row = conn.execute(
        select(theirs.c.id)
        .select_from(mine.join(theirs, and_(theirs.c.class_id == mine.c.class_id)))
        .where(
            mine.c.educator_id == educator_id,
            mine.c.district_id == district_id,
            mine.c.active,
            theirs.c.student_id == student_id,
            theirs.c.district_id == district_id,
            theirs.c.active,
        )
        .limit(1)
    ).first()
    return row is not None


def confirm_eligibility(
    conn: Connection,
    *,
    district_id: str,
    student_id: str,
    status: str,
    actor: str,
    now: datetime,
) -> None:
    """Set a student's eligibility from the portal, with an audit row of before and after."""
    current = conn.execute(
        select(eligibility.c.status, eligibility.c.category).where(
            eligibility.c.student_id == student_id, eligibility.c.district_id == district_id
        )
    ).first()
    values: dict[str, Any] = {
        "status": status,
        "category": None,
        "source": "portal",
        "changed_at": now,
        "changed_by": actor,
    }
    if current is None:
        conn.execute(
            insert(eligibility).values(student_id=student_id, district_id=district_id, **values)
        )
    else:
        conn.execute(
            update(eligibility)
            .where(eligibility.c.student_id == student_id, eligibility.c.district_id == district_id)
            .values(**values)
        )
    before = None if current is None else {"status": current.status, "category": current.category}
    conn.execute(
        insert(audit_log).values(
            district_id=district_id,
            run_id=None,
            actor=actor,
            action="eligibility",
            entity_type="student",
            entity_id=student_id,
            changes={
                "before": before,
                "after": {"status": status, "category": None},
                "source": "portal",
            },
            at=now,
        )
    )


__all__ = [
    "Account",
    "ClassRow",
    "LoginState",
    "Person",
    "SignInDistrict",
    "WebSession",
    "claim_code",
    "classes_of",
    "confirm_eligibility",
    "create_session",
    "delete_session",
    "digest",
    "district_for_tenant",
    "eligibility_source",
    "find_account",
    "forget_stale",
    "get_session",
    "live_districts",
    "person",
    "save_login_state",
    "sign_in_district",
    "take_login_state",
]
