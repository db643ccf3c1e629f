"""From Clever Data API v3.1 JSON to rostersync's source records. Pure functions, no I/O.

Clever's objects become the same records a OneRoster source yields, so the pipeline cannot tell
the two apart:

    district, school  → Org ("district"; "school" whose parent is the district)
    term              → AcademicSession of type "term"
    course            → Course (its org is the district: Clever courses belong to it)
    section           → SchoolClass, and one Enrollment per (section, user, role) from its
                        `students` and `teachers` lists (`section_enrollments`)
    user              → Person, with one role (`to_person`); a contact is a "guardian", which
                        the portal skips as it skips a OneRoster guardian

Every Clever id is read through `sourced_id`, as every OneRoster id is. Clever lists only what the
district shares now, so every record is active; a record that left is simply absent. As in
`oneroster.mapping`, nothing is judged here: a missing field becomes "" or None and validation
reports it; only an item that is not a JSON object is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from sys import intern
from typing import Any, NamedTuple

from rostersync.domain.records import (
    EDUCATOR_ROLES,
    AcademicSession,
    Course,
    Enrollment,
    Org,
    Person,
    Record,
    SchoolClass,
    shared,
)
from rostersync.errors import FatalSourceError
from rostersync.oneroster.mapping import flat_metadata, sourced_id, text

__all__ = [
    "FEEDS",
    "MAPPERS",
    "ROLE_ORDER",
    "SectionSeat",
    "grade",
    "section_seats",
    "to_course",
    "to_district",
    "to_enrollment",
    "to_person",
    "to_school",
    "to_section",
    "to_term",
]

# Which of a user's Clever roles becomes the portal's one role, first found wins, and the
# OneRoster 1.1 role it is given. A student is never also staff in Clever; a teacher who is also
# school staff or a district admin keeps the account of a teacher. A district admin is an
# administrator of the district org, as OneRoster 1.1 has one; staff see `_staff_role`.
ROLE_ORDER: tuple[tuple[str, str], ...] = (
    ("student", "student"),
    ("teacher", "teacher"),
    ("staff", "administrator"),
    ("district_admin", "administrator"),
    ("contact", "guardian"),
)
# A staff member whose title names one of these OneRoster roles keeps it ("Aide" → "aide").
_STAFF_TITLES = EDUCATOR_ROLES - {"teacher"}

# Clever's grade words and the CEDS codes a OneRoster source sends for them; numbers are padded
# to two digits ("1" → "01"). Anything else is kept as sent, and validation reports it.
_GRADES = {
    "infanttoddler": "IT",
    "preschool": "PR",
    "prekindergarten": "PK",
    "transitionalkindergarten": "TK",
    "kindergarten": "KG",
    "postgraduate": "PS",
    "ungraded": "UG",
    "other": "Other",
}
# The identifiers a district may name as its student ID (`userIds:<name>`), in this order.
_STUDENT_IDS = ("sis_id", "student_number", "state_id")
_STAFF_IDS = ("sis_id", "teacher_number", "staff_id", "state_id")


def _object(raw: object, entity: str) -> Mapping[str, Any]:
    # A list item is `{"data": {...}, "uri": ...}`; a single record may come bare.
    if isinstance(raw, Mapping) and isinstance(raw.get("data"), Mapping):
        raw = raw["data"]
    if not isinstance(raw, Mapping):
        raise FatalSourceError(
            f"Clever sent a {entity} that is not a JSON object ({type(raw).__name__}); the "
            "district's data in Clever is malformed"
        )
    return raw


_text = text


def _str(raw: Mapping[str, Any], key: str) -> str:
    return _text(raw.get(key))


def _id(value: object) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return sourced_id(value) or None
    return None


def _ids(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else []
    return tuple(dict.fromkeys(i for i in map(_id, items) if i is not None))


def _modified(raw: Mapping[str, Any]) -> str | None:
    modified = _str(raw, "last_modified")
    return intern(modified) if modified else None


def grade(value: object) -> str:
    """A Clever grade as the CEDS code a OneRoster source sends ("Kindergarten" → "KG")."""
    text = _text(value).strip()
    if text.isdigit():
        return f"{int(text):02d}"
    return _GRADES.get(text.lower().replace(" ", ""), text)


def to_district(raw: object) -> Org:
    """Map a Clever district to the district's org.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "district")
    return Org(
        sourced_id=sourced_id(item.get("id")),
        date_last_modified=_modified(item),
        name=_str(item, "name"),
        type="district",
        identifier=_str(item, "nces_id"),
    )


def to_school(raw: object) -> Org:
    """Map a Clever school to a school org whose parent is its district.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "school")
    return Org(
        sourced_id=sourced_id(item.get("id")),
        date_last_modified=_modified(item),
        name=_str(item, "name"),
        type="school",
        identifier=_str(item, "school_number"),
        parent_sourced_id=_id(item.get("district")),
    )


def to_term(raw: object) -> AcademicSession:
    """Map a Clever term to an academic session of type "term".

    Clever has no school year: it is the year the term ends, as OneRoster's `schoolYear` is.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "term")
    end = _str(item, "end_date")
    return AcademicSession(
        sourced_id=sourced_id(item.get("id")),
        date_last_modified=_modified(item),
        title=_str(item, "name"),
        type="term",
        start_date=_str(item, "start_date")[:10],
        end_date=end[:10],
        school_year=end[:4],
    )


def to_course(raw: object) -> Course:
    """Map a Clever course; its org is its district.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "course")
    return Course(
        sourced_id=sourced_id(item.get("id")),
        date_last_modified=_modified(item),
        title=_str(item, "name"),
        course_code=_str(item, "number"),
        org_sourced_id=shared(_id(item.get("district"))),
    )


def to_section(raw: object) -> SchoolClass:
    """Map a Clever section to a class; its term is its one term.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "section")
    term = _id(item.get("term_id"))
    grades = item.get("grades")
    if not isinstance(grades, list):
        grades = [item.get("grade")] if item.get("grade") else []
    subject = _str(item, "subject").lower()
    return SchoolClass(
        sourced_id=sourced_id(item.get("id")),
        date_last_modified=_modified(item),
        title=_str(item, "name"),
        class_code=_str(item, "section_number"),
        class_type=shared("homeroom" if subject.startswith("homeroom") else "scheduled"),
        course_sourced_id=shared(_id(item.get("course"))),
        school_sourced_id=shared(_id(item.get("school"))),
        term_sourced_ids=shared((term,) if term else ()),
        grades=shared(tuple(grade(g) for g in grades if g is not None)),
    )


class SectionSeat(NamedTuple):
    """One person's place in a section, kept small until it becomes an `Enrollment`."""

    section: str
    school: str
    user: str
    role: str
    primary: bool


def section_seats(raw: object) -> Iterator[SectionSeat]:
    """The enrollments a Clever section implies: each student, then each teacher.

    The section's `teacher` is the primary teacher; a primary teacher missing from `teachers`
    is still enrolled. A user listed twice in one role is enrolled once.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "section")
    section = sourced_id(item.get("id"))
    school = shared(_id(item.get("school")) or "")
    primary = _id(item.get("teacher"))
    for user in _ids(item.get("students")):
        yield SectionSeat(section, school, user, "student", False)
    teachers = _ids(item.get("teachers"))
    if primary is not None and primary not in teachers:
        teachers = (primary, *teachers)
    for user in teachers:
        yield SectionSeat(section, school, user, "teacher", user == primary)


def to_enrollment(seat: SectionSeat) -> Enrollment:
    """The enrollment of one seat, its sourcedId `{section}:{user}:{role}` (the same every
    sync, so a resync finds it again)."""
    return Enrollment(
        sourced_id=f"{seat.section}:{seat.user}:{seat.role}",
        class_sourced_id=seat.section,
        school_sourced_id=seat.school,
        user_sourced_id=seat.user,
        role=intern(seat.role),
        primary=seat.primary,
    )


def _role(roles: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    for clever_role, role in ROLE_ORDER:
        found = roles.get(clever_role)
        if isinstance(found, Mapping):
            return (_staff_role(found) if clever_role == "staff" else role), found
    return "", {}


def _staff_role(staff: Mapping[str, Any]) -> str:
    # Clever's staff are school staff of any kind; its title says which, when it is one of
    # OneRoster's words for them, else an administrator.
    title = _str(staff, "title").strip().lower()
    return title if title in _STAFF_TITLES else "administrator"


def _schools(roles: Mapping[str, Any], district: str | None) -> tuple[str, ...]:
    # Every school of every role the user holds (a teacher who is also staff elsewhere works at
    # both); a district admin without schools belongs to the district.
    schools: list[str] = []
    for clever_role, _role_name in ROLE_ORDER:
        held = roles.get(clever_role)
        if not isinstance(held, Mapping):
            continue
        found = _ids(held.get("schools"))
        one = _id(held.get("school"))
        schools += [*((one,) if one else ()), *found]
        if clever_role == "district_admin" and not found and not one and district:
            schools.append(district)
    return tuple(map(intern, dict.fromkeys(schools)))


def to_person(raw: object) -> Person:
    """Map a Clever user to a person with one role.

    A Clever user may hold several roles; the portal keeps one account per person, so the first
    role held in `ROLE_ORDER` decides: student, else teacher, else staff ("administrator"), else
    district admin ("administrator" of the district), else contact ("guardian", skipped by the
    portal). A staff member whose title is a OneRoster role ("Aide", "Principal") keeps it.
    The person's schools are those of every role held. The chosen role's fields give the rest:

    - `identifier`: the student number, or the teacher number (staff: the staff id);
    - `user_ids`: each of `sis_id`, `student_number` (`teacher_number`, `staff_id`) and
      `state_id` that is set, so a district names its student ID as `userIds:state_id`, say;
    - `metadata`: the role's `ext` fields, one level flattened (`ext.eligibility` is the
      metadata field `eligibility`);
    - `username`: the district username of the role's credentials, else the email;
    - `grades`: a student's grade as its CEDS code.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "user")
    roles = item.get("roles")
    roles = roles if isinstance(roles, Mapping) else {}
    role, held = _role(roles)
    name = item.get("name")
    name = name if isinstance(name, Mapping) else {}
    names = _STUDENT_IDS if role == "student" else _STAFF_IDS
    user_ids = tuple((key, _str(held, key)) for key in names if _str(held, key))
    number = "student_number" if role == "student" else "teacher_number"
    credentials = held.get("credentials")
    username = _str(credentials, "district_username") if isinstance(credentials, Mapping) else ""
    email = _str(item, "email")
    student_grade = grade(held.get("grade")) if role == "student" and held.get("grade") else ""
    return Person(
        sourced_id=sourced_id(item.get("id")),
        date_last_modified=_modified(item),
        role=intern(role),
        username=username or email,
        given_name=_str(name, "first"),
        family_name=_str(name, "last"),
        middle_name=_str(name, "middle"),
        identifier=_str(held, number) or _str(held, "staff_id"),
        email=email,
        org_sourced_ids=_schools(roles, _id(item.get("district"))),
        grades=(intern(student_grade),) if student_grade else (),
        user_ids=user_ids,
        # A role's `ext` as OneRoster metadata: `ext.eligibility` is the district's `eligibility`.
        metadata=flat_metadata(held.get("ext")),
    )


# The Clever collections that feed each of rostersync's collections, in dependency order
# (enrollments come from the sections' seats), and the mapper of each.
FEEDS: dict[str, tuple[str, ...]] = {
    "orgs": ("districts", "schools"),
    "academicSessions": ("terms",),
    "courses": ("courses",),
    "classes": ("sections",),
    "users": ("users",),
    "enrollments": (),
}
MAPPERS: dict[str, Callable[[object], Record]] = {
    "districts": to_district,
    "schools": to_school,
    "terms": to_term,
    "courses": to_course,
    "sections": to_section,
    "users": to_person,
}
