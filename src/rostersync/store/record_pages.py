"""One record read whole, for its page: a person, a class or a school.

Each reader takes the record's ClassLink sourcedId (an account made by hand, which has none, by
its portal id) and reads, in a fixed handful of statements whatever the record's size: its
current values, a student's eligibility, its enrollments (a person's classes, a class's members),
its open issues and those of its enrollments, and its audit history with its enrollments'. A
record the portal does not hold but whose open issues name it (it failed validation and was
held) is read from those issues' subject. Actors are named by `store.records.actor_names`.

Every function takes a `Connection`; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, func, literal, or_, select, union_all
from sqlalchemy.engine import Connection

from rostersync.store.planner import unindexed
from rostersync.store.records import (
    PEOPLE,
    RecordPage,
    class_teachers,
    held_subject,
    record_page,
)
from rostersync.store.tables import (
    academic_sessions,
    classes,
    courses,
    educators,
    eligibility,
    enrollments,
    orgs,
    students,
)

# Members a class page lists, classes a school page lists, enrollments a person's.
MEMBERS_CAP = 500


# A person ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class PersonRecord:
    """A student or educator as the portal holds them (or, `held`, as their issues name them)."""

    kind: str
    portal_id: str | None
    sourced_id: str | None
    name: str
    role: str
    student_id: str = ""
    grade: str = ""
    username: str = ""
    email: str = ""
    school: str = ""
    school_sourced_id: str | None = None
    active: bool = False
    deactivated_at: datetime | None = None
    manually_rostered: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    held: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EligibilityRecord:
    """A student's eligibility and who last set it (an audit actor)."""

    status: str
    category: str | None
    source: str
    changed_at: datetime
    changed_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentRow:
    """One of a person's enrollments: the class, its school and teachers, the person's role."""

    portal_id: str
    sourced_id: str
    class_sourced_id: str
    title: str
    code: str
    school: str
    role: str
    primary: bool
    begin_date: str
    end_date: str
    active: bool
    teachers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonPage:
    person: PersonRecord
    eligibility: EligibilityRecord | None
    enrollments: list[EnrollmentRow]
    page: RecordPage


def _full_name(given: ColumnElement[str], family: ColumnElement[str]) -> ColumnElement[str]:
    return func.trim(given + literal(" ", String) + family, type_=String)


def _person_query(kind: str, table: Any, district_id: str, ref: str) -> Any:
    school = orgs.alias(f"{kind}_school")
    blank = literal("", String)
    return (
        select(
            literal(kind, String).label("kind"),
            table.c.id.label("portal_id"),
            table.c.sourced_id,
            _full_name(table.c.given_name, table.c.family_name).label("name"),
            (table.c.role if kind == "educator" else literal("student", String)).label("role"),
            (table.c.student_id if kind == "student" else blank).label("student_id"),
            (table.c.grade if kind == "student" else blank).label("grade"),
            table.c.username,
            table.c.email,
            func.coalesce(school.c.name, blank).label("school"),
            school.c.sourced_id.label("school_sourced_id"),
            table.c.active,
            table.c.deactivated_at,
            table.c.manually_rostered,
            table.c.created_at,
            table.c.updated_at,
        )
        .select_from(table.outerjoin(school, school.c.id == table.c.school_id))
        .where(
            table.c.district_id == district_id,
            # An account made by hand has no sourcedId: its page is at its portal id.
            or_(table.c.sourced_id == ref, and_(table.c.sourced_id.is_(None), table.c.id == ref)),
        )
    )


def _enrollments_of(conn: Connection, column: Any, portal_id: str) -> list[EnrollmentRow]:
    e, c = enrollments, classes
    school = orgs.alias("enrollment_school")
    rows = conn.execute(
        select(
            e.c.id,
            e.c.sourced_id,
            e.c.class_id,
            c.c.sourced_id.label("class_sourced_id"),
            c.c.title,
            c.c.class_code,
            func.coalesce(school.c.name, "").label("school"),
            e.c.role,
            e.c.primary,
            e.c.begin_date,
            e.c.end_date,
            e.c.active,
        )
        .select_from(
            e.join(c, c.c.id == e.c.class_id).outerjoin(school, school.c.id == c.c.school_id)
        )
        .where(column == portal_id)
        .order_by(e.c.active.desc(), c.c.title, e.c.sourced_id)
        .limit(MEMBERS_CAP)
    ).all()
    teachers = class_teachers(conn, sorted({r.class_id for r in rows}))
    return [
        EnrollmentRow(
            portal_id=r.id,
            sourced_id=r.sourced_id,
            class_sourced_id=r.class_sourced_id,
            title=r.title,
            code=r.class_code,
            school=r.school,
            role=r.role,
            primary=bool(r.primary),
            begin_date=r.begin_date or "",
            end_date=r.end_date or "",
            active=bool(r.active),
            teachers=tuple(teachers.get(r.class_id, ())),
        )
        for r in rows
    ]


def person_page(conn: Connection, district_id: str, ref: str) -> PersonPage | None:
    """A person by sourcedId (or, made by hand, portal id), or held; None when unknown."""
    found = conn.execute(
        union_all(
            _person_query("student", students, district_id, ref),
            _person_query("educator", educators, district_id, ref),
        )
    ).first()
    if found is None:
        issue = held_subject(conn, district_id, PEOPLE, ref)
        if issue is None:
            return None
        subject = issue.subject
        person = PersonRecord(
            kind=issue.entity,
            portal_id=None,
            sourced_id=ref,
            name=subject.name if subject else "",
            role=(subject.role if subject else "") or issue.entity,
            student_id=subject.student_id if subject else "",
            grade=subject.grade if subject else "",
            school=subject.school if subject else "",
            held=True,
        )
        page = record_page(conn, district_id, keys=[(issue.entity, ref)], about={})
        return PersonPage(person=person, eligibility=None, enrollments=[], page=page)
    person = PersonRecord(**found._mapping)
    assert person.portal_id is not None
    column = enrollments.c.student_id if person.kind == "student" else enrollments.c.educator_id
    listed = _enrollments_of(conn, column, person.portal_id)
    about = {person.portal_id: ""} | {r.portal_id: f"enrollment in {r.title}" for r in listed}
    keys = [("enrollment", r.sourced_id) for r in listed]
    if person.sourced_id:
        keys.append((person.kind, person.sourced_id))
    row = None
    if person.kind == "student":
        e = eligibility
        row = conn.execute(
            select(e.c.status, e.c.category, e.c.source, e.c.changed_at, e.c.changed_by).where(
                e.c.student_id == person.portal_id, unindexed(e.c.district_id) == district_id
            )
        ).first()
    status = None if row is None else EligibilityRecord(**row._mapping)
    extra = [status.changed_by] if status else []
    page = record_page(conn, district_id, keys=keys, about=about, actors=extra)
    return PersonPage(person=person, eligibility=status, enrollments=listed, page=page)


# A class -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ClassRecord:
    """A class as the portal holds it (or, `held`, as its issues name it)."""

    portal_id: str | None
    sourced_id: str
    title: str
    code: str = ""
    class_type: str = ""
    school: str = ""
    school_sourced_id: str | None = None
    course: str = ""
    course_code: str = ""
    grades: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    active: bool = False
    deactivated_at: datetime | None = None
    held: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A person enrolled in a class, as the class page lists them, with the enrollment's ids."""

    enrollment_id: str
    enrollment_sourced_id: str
    kind: str
    sourced_id: str | None
    portal_id: str
    name: str
    role: str
    student_id: str
    grade: str
    primary: bool
    active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassPage:
    record: ClassRecord
    members: list[Member]
    members_total: int
    page: RecordPage


def _members(conn: Connection, class_id: str) -> tuple[list[Member], int]:
    e, s, ed = enrollments, students, educators
    is_student = e.c.student_id.is_not(None)
    rows = conn.execute(
        select(
            e.c.id.label("enrollment_id"),
            e.c.sourced_id.label("enrollment_sourced_id"),
            case((is_student, "student"), else_="educator").label("kind"),
            func.coalesce(s.c.sourced_id, ed.c.sourced_id).label("sourced_id"),
            func.coalesce(s.c.id, ed.c.id).label("portal_id"),
            func.coalesce(
                _full_name(s.c.given_name, s.c.family_name),
                _full_name(ed.c.given_name, ed.c.family_name),
            ).label("name"),
            e.c.role,
            func.coalesce(s.c.student_id, "").label("student_id"),
            func.coalesce(s.c.grade, "").label("grade"),
            e.c.primary,
            e.c.active,
            func.count().over().label("total"),
        )
        .select_from(
            e.outerjoin(s, s.c.id == e.c.student_id).outerjoin(ed, ed.c.id == e.c.educator_id)
        )
        .where(e.c.class_id == class_id)
        .order_by(
            e.c.active.desc(),
            is_student,
            func.coalesce(s.c.family_name, ed.c.family_name),
            func.coalesce(s.c.given_name, ed.c.given_name),
        )
        .limit(MEMBERS_CAP)
    ).all()
    members = [Member(**{k: v for k, v in r._mapping.items() if k != "total"}) for r in rows]
    return members, int(rows[0].total) if rows else 0


def class_page(conn: Connection, district_id: str, ref: str) -> ClassPage | None:
    """A class by sourcedId, or held; None when unknown."""
    c = classes
    school = orgs.alias("class_school")
    row = conn.execute(
        select(
            c.c.id,
            c.c.title,
            c.c.class_code,
            c.c.class_type,
            c.c.course_id,
            c.c.term_sourced_ids,
            c.c.grades,
            c.c.active,
            c.c.deactivated_at,
            school.c.name.label("school"),
            school.c.sourced_id.label("school_sourced_id"),
        )
        .select_from(c.outerjoin(school, school.c.id == c.c.school_id))
        .where(c.c.district_id == district_id, c.c.sourced_id == ref)
    ).first()
    if row is None:
        issue = held_subject(conn, district_id, ("class",), ref)
        if issue is None:
            return None
        subject = issue.subject
        record = ClassRecord(
            portal_id=None,
            sourced_id=ref,
            title=subject.name if subject else "",
            code=subject.code if subject else "",
            school=subject.school if subject else "",
            held=True,
        )
        page = record_page(conn, district_id, keys=[("class", ref)], about={})
        return ClassPage(record=record, members=[], members_total=0, page=page)
    course = None
    if row.course_id is not None:
        course = conn.execute(
            select(courses.c.title, courses.c.course_code).where(courses.c.id == row.course_id)
        ).first()
    record = ClassRecord(
        portal_id=row.id,
        sourced_id=ref,
        title=row.title,
        code=row.class_code,
        class_type=row.class_type,
        school=row.school or "",
        school_sourced_id=row.school_sourced_id,
        course=course.title if course else "",
        course_code=course.course_code if course else "",
        grades=[str(g) for g in row.grades or ()],
        terms=_term_titles(conn, district_id, [str(t) for t in row.term_sourced_ids or ()]),
        active=bool(row.active),
        deactivated_at=row.deactivated_at,
    )
    members, total = _members(conn, row.id)
    about = {row.id: ""} | {m.enrollment_id: f"enrollment of {m.name}" for m in members}
    keys = [("class", ref), *[("enrollment", m.enrollment_sourced_id) for m in members]]
    page = record_page(conn, district_id, keys=keys, about=about)
    return ClassPage(record=record, members=members, members_total=total, page=page)


def _term_titles(conn: Connection, district_id: str, sourced_ids: Sequence[str]) -> list[str]:
    if not sourced_ids:
        return []
    s = academic_sessions
    rows = conn.execute(
        select(s.c.sourced_id, s.c.title).where(
            s.c.district_id == district_id, s.c.sourced_id.in_(list(sourced_ids))
        )
    )
    titles = {row.sourced_id: row.title for row in rows}
    return [titles.get(sid, sid) for sid in sourced_ids]


# A school ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class SchoolRecord:
    """A school (or the district's own org) as the portal holds it."""

    portal_id: str | None
    sourced_id: str
    name: str
    type: str = ""
    identifier: str = ""
    parent: str = ""
    parent_sourced_id: str | None = None
    active: bool = False
    held: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SchoolClass:
    sourced_id: str
    title: str
    code: str
    active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SchoolPage:
    record: SchoolRecord
    students: int
    educators: int
    classes: list[SchoolClass]
    classes_total: int
    page: RecordPage


def school_page(conn: Connection, district_id: str, ref: str) -> SchoolPage | None:
    """A school by sourcedId, or held; None when unknown."""
    o = orgs
    parent = orgs.alias("parent")
    row = conn.execute(
        select(
            o.c.id,
            o.c.name,
            o.c.type,
            o.c.identifier,
            o.c.active,
            o.c.parent_sourced_id,
            parent.c.name.label("parent"),
        )
        .select_from(
            o.outerjoin(
                parent,
                and_(
                    parent.c.district_id == o.c.district_id,
                    parent.c.sourced_id == o.c.parent_sourced_id,
                ),
            )
        )
        .where(o.c.district_id == district_id, o.c.sourced_id == ref)
    ).first()
    if row is None:
        issue = held_subject(conn, district_id, ("org",), ref)
        if issue is None:
            return None
        subject = issue.subject
        record = SchoolRecord(
            portal_id=None, sourced_id=ref, name=subject.name if subject else "", held=True
        )
        page = record_page(conn, district_id, keys=[("org", ref)], about={})
        return SchoolPage(
            record=record, students=0, educators=0, classes=[], classes_total=0, page=page
        )
    record = SchoolRecord(
        portal_id=row.id,
        sourced_id=ref,
        name=row.name,
        type=row.type,
        identifier=row.identifier or "",
        parent=row.parent or "",
        parent_sourced_id=row.parent_sourced_id,
        active=bool(row.active),
    )
    # Active people filed under the school; neither table indexes school_id, so each count
    # reads the district's rows (classes.school_id is indexed).
    counts = conn.execute(
        select(
            select(func.count())
            .where(students.c.school_id == row.id, students.c.active)
            .scalar_subquery(),
            select(func.count())
            .where(educators.c.school_id == row.id, educators.c.active)
            .scalar_subquery(),
        )
    ).one()
    c = classes
    rows = conn.execute(
        select(
            c.c.sourced_id, c.c.title, c.c.class_code, c.c.active, func.count().over().label("n")
        )
        .where(c.c.school_id == row.id)
        .order_by(c.c.active.desc(), c.c.title, c.c.sourced_id)
        .limit(MEMBERS_CAP)
    ).all()
    listed = [
        SchoolClass(sourced_id=r.sourced_id, title=r.title, code=r.class_code, active=r.active)
        for r in rows
    ]
    page = record_page(conn, district_id, keys=[("org", ref)], about={row.id: ""})
    return SchoolPage(
        record=record,
        students=int(counts[0]),
        educators=int(counts[1]),
        classes=listed,
        classes_total=int(rows[0].n) if rows else 0,
        page=page,
    )


__all__ = [
    "MEMBERS_CAP",
    "ClassPage",
    "ClassRecord",
    "EligibilityRecord",
    "EnrollmentRow",
    "Member",
    "PersonPage",
    "PersonRecord",
    "SchoolClass",
    "SchoolPage",
    "SchoolRecord",
    "class_page",
    "person_page",
    "school_page",
]
