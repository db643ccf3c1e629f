"""One simulated district as Clever's Data API v3.1 serves it, translated from a `DistrictData`.

The same generated district can so be served by the ClassLink simulator and by the Clever one.
Clever ids are 24-hex ObjectIDs; here each is derived from the district id, the record kind and the
OneRoster sourcedId (a hash), so a translation is deterministic and a record keeps its id across
roster changes. The OneRoster sourcedId stays on the record as `sis_id` wherever Clever has one.

What carries over and what cannot (Clever validates what it serves):

- users marked `tobedeleted` are absent (Clever deletes records; it has no soft state);
- planted `duplicate_email` and `duplicate_student_id` carry over as they are (Clever does not
  enforce uniqueness of email or student_number); `missing_grade` becomes `grade: null`;
- `unknown_school` cannot be expressed: Clever never points at a school it does not serve, so such
  a student is served with `school: null` and `schools: []`;
- `unknown_class` cannot be expressed: Clever has no enrollment records, only the `students` and
  `teachers` lists of a section, so an enrollment in a missing class is dropped;
- a class in several terms gets the earliest as its single `term_id`; the school year and grading
  periods (not of type `term`) have no Clever counterpart;
- a district-level administrator becomes a `district_admin`, whose v3.1 role has no field for the
  sourcedId; school-level administrators, aides and proctors become `staff` with `staff_id`.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

from rostersync.simulator.district import DistrictData

Record = dict[str, Any]

#: The Data API collections, in the order Clever documents them (all served under /v3.1/).
KINDS = ("districts", "schools", "terms", "courses", "sections", "users")

_GRADES = {
    "IT": "InfantToddler",
    "PR": "Preschool",
    "PK": "PreKindergarten",
    "TK": "TransitionalKindergarten",
    "KG": "Kindergarten",
    "PS": "PostGraduate",
    "UG": "Ungraded",
}
_SUBJECTS = {
    "mathematics": "math",
    "math": "math",
    "english language arts": "english/language arts",
    "english": "english/language arts",
    "reading": "english/language arts",
    "science": "science",
    "social studies": "social studies",
    "history": "social studies",
    "art": "arts and music",
    "music": "arts and music",
    "physical education": "PE and health",
    "health": "PE and health",
    "technology": "technology and engineering",
    "world languages": "language",
}
_STAFF_ROLES = frozenset({"administrator", "aide", "proctor"})
_CONTACT_ROLES = frozenset({"parent", "guardian"})


def object_id(*parts: str) -> str:
    """A 24-hex Clever ObjectID derived from `parts` (the same parts, the same id)."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def district_id_for(data: DistrictData) -> str:
    """The Clever id a district gets when none is chosen: derived from its tenant name."""
    return object_id("district", data.tenant)


def clever_grade(grade: str | None) -> str | None:
    """A OneRoster grade ("KG", "01", "12") as Clever's grade enum ("Kindergarten", "1", "12")."""
    if not grade:
        return None
    if grade in _GRADES:
        return _GRADES[grade]
    if grade.isdigit() and 1 <= int(grade) <= 13:
        return str(int(grade))
    return "Other"


def clever_subject(subject: str | None) -> str | None:
    """A OneRoster subject name as Clever's section subject enum; unknown names are "other"."""
    if not subject:
        return None
    return _SUBJECTS.get(subject.strip().lower(), "other")


def timestamp(value: str | None) -> str | None:
    """A OneRoster dateTime as Clever's `YYYY-MM-DDTHH:MM:SS.sssZ`."""
    if not value:
        return None
    stem = value.rstrip("Z").split("+")[0]
    if "." not in stem:
        stem += ".000"
    head, _, fraction = stem.partition(".")
    return f"{head}.{(fraction + '000')[:3]}Z"


@dataclass
class CleverDistrict:
    """One district's Clever records, each collection a list of `data` objects sorted by id.

    Attributes:
        district_id: The district's Clever id.
        records: Per kind in `KINDS`, the records served (the `data` object of each item).
    """

    district_id: str
    records: dict[str, list[Record]] = field(default_factory=dict)

    def collection(self, kind: str) -> list[Record]:
        """The records of one kind, sorted by ascending id as Clever pages them."""
        return self.records.get(kind, [])

    def find(self, kind: str, record_id: str) -> Record | None:
        """One record by id, or None."""
        for record in self.collection(kind):
            if record["id"] == record_id:
                return record
        return None

    def copy(self) -> CleverDistrict:
        """A deep copy, to change without touching what is served."""
        return CleverDistrict(self.district_id, copy.deepcopy(self.records))

    def sort(self) -> None:
        """Restore ascending-id order after records were added."""
        for records in self.records.values():
            records.sort(key=lambda r: r["id"])


class _Translator:
    def __init__(self, data: DistrictData, district_id: str) -> None:
        self.data = data
        self.did = district_id
        self.orgs = {o["sourcedId"]: o for o in data.orgs if _live(o)}
        self.schools = {k: o for k, o in self.orgs.items() if o.get("type") == "school"}
        self.terms = {
            s["sourcedId"]: s for s in data.academicSessions if _live(s) and s.get("type") == "term"
        }
        self.users = {u["sourcedId"]: u for u in data.users if _live(u)}
        self.courses = {c["sourcedId"]: c for c in data.courses if _live(c)}

    def id(self, kind: str, sourced_id: str | None) -> str:
        return object_id(self.did, kind, sourced_id or "")

    def build(self) -> CleverDistrict:
        result = CleverDistrict(
            self.did,
            {
                "districts": [self.district()],
                "schools": [self.school(o) for o in self.schools.values()],
                "terms": [self.term(t) for t in self.terms.values()],
                "courses": [self.course(c) for c in self.courses.values()],
                "sections": self.sections(),
                "users": [self.user(u) for u in self.users.values()],
            },
        )
        result.sort()
        return result

    def district(self) -> Record:
        org = next((o for o in self.orgs.values() if o.get("type") == "district"), None)
        name = org["name"] if org else self.data.tenant
        return {
            "id": self.did,
            "name": name,
            "sis_type": "sftp",
            "state": "success",
            "launch_date": "2026-08-01",
            "last_sync": "2026-08-01T00:00:00.000Z",
            "portal_url": f"https://clever.com/in/{self.data.tenant}",
            "login_methods": ["Clever Badges", "Clever Passwords"],
            "mdr_number": None,
            "nces_id": None,
        }

    def school(self, org: Record) -> Record:
        grades = sorted(
            {
                g
                for c in self.courses.values()
                if _sid(c.get("org")) == org["sourcedId"]
                for g in c.get("grades", [])
            },
            key=_grade_order,
        )
        return {
            "id": self.id("school", org["sourcedId"]),
            "district": self.did,
            "name": org.get("name", ""),
            "sis_id": org["sourcedId"],
            "school_number": org.get("identifier") or org["sourcedId"],
            "state_id": None,
            "nces_id": None,
            "mdr_number": None,
            "low_grade": clever_grade(grades[0]) if grades else None,
            "high_grade": clever_grade(grades[-1]) if grades else None,
            "created": timestamp(org.get("dateLastModified")),
            "last_modified": timestamp(org.get("dateLastModified")),
        }

    def term(self, session: Record) -> Record:
        return {
            "id": self.id("term", session["sourcedId"]),
            "district": self.did,
            "name": session.get("title"),
            "start_date": session.get("startDate"),
            "end_date": session.get("endDate"),
        }

    def course(self, course: Record) -> Record:
        return {
            "id": self.id("course", course["sourcedId"]),
            "district": self.did,
            "name": course.get("title"),
            "number": course.get("courseCode") or None,
        }

    def sections(self) -> list[Record]:
        members: dict[str, tuple[list[str], list[str], list[str]]] = {}
        for enrollment in self.data.enrollments:
            class_id, user_id = _sid(enrollment.get("class")), _sid(enrollment.get("user"))
            if not _live(enrollment) or class_id is None or user_id not in self.users:
                continue
            students, teachers, primary = members.setdefault(class_id, ([], [], []))
            person = self.id("user", user_id)
            if enrollment.get("role") == "student":
                students.append(person)
            elif enrollment.get("role") == "teacher":
                teachers.append(person)
                if str(enrollment.get("primary", "")).lower() == "true":
                    primary.append(person)
        sections = []
        for cls in self.data.classes:
            if not _live(cls):
                continue
            students, teachers, primary = members.get(cls["sourcedId"], ([], [], []))
            sections.append(self.section(cls, students, teachers, primary))
        return sections

    def section(
        self, cls: Record, students: list[str], teachers: list[str], primary: list[str]
    ) -> Record:
        term_ids = [t for t in (_sid(ref) for ref in cls.get("terms", [])) if t in self.terms]
        term_ids.sort(key=lambda t: str(self.terms[t].get("startDate", "")))
        school = _sid(cls.get("school"))
        course = _sid(cls.get("course"))
        grades, subjects, periods = (
            cls.get("grades", []),
            cls.get("subjects", []),
            cls.get("periods", []),
        )
        lead = primary[0] if primary else (teachers[0] if teachers else None)
        return {
            "id": self.id("section", cls["sourcedId"]),
            "district": self.did,
            "school": self.id("school", school) if school in self.schools else None,
            "course": self.id("course", course) if course in self.courses else None,
            "term_id": self.id("term", term_ids[0]) if term_ids else None,
            "name": cls.get("title", ""),
            "sis_id": cls["sourcedId"],
            "section_number": cls.get("classCode") or None,
            "subject": clever_subject(subjects[0] if subjects else None),
            "grade": clever_grade(grades[0] if grades else None),
            "period": periods[0] if periods else None,
            "students": sorted(set(students)),
            "teachers": _unique([lead, *teachers] if lead else teachers),
            "teacher": lead,
            "created": timestamp(cls.get("dateLastModified")),
            "last_modified": timestamp(cls.get("dateLastModified")),
        }

    def user(self, user: Record) -> Record:
        sourced_id, role = user["sourcedId"], user.get("role", "")
        school_ids = [
            self.id("school", s)
            for s in (_sid(r) for r in user.get("orgs", []))
            if s in self.schools
        ]
        state_id = next(
            (i.get("identifier") for i in user.get("userIds", []) if i.get("type") == "StateID"),
            None,
        )
        legacy_id = object_id(self.did, "legacy", sourced_id)
        common: Record = {"legacy_id": legacy_id}
        roles: Record = {}
        if role == "student":
            grades = user.get("grades", [])
            roles["student"] = {
                **common,
                "sis_id": sourced_id,
                "student_number": user.get("identifier") or None,
                "state_id": state_id,
                "grade": clever_grade(grades[0] if grades else None),
                "school": school_ids[0] if school_ids else None,
                "schools": school_ids,
                "credentials": {"district_username": user.get("username", "")},
                "ext": dict(user.get("metadata") or {}),
            }
        elif role == "teacher":
            roles["teacher"] = {
                **common,
                "sis_id": sourced_id,
                "teacher_number": user.get("identifier") or None,
                "state_id": state_id,
                "school": school_ids[0] if school_ids else None,
                "schools": school_ids,
                "credentials": {"district_username": user.get("username", "")},
                "title": None,
            }
        elif role == "administrator" and not school_ids:
            roles["district_admin"] = {**common, "title": "Administrator"}
        elif role in _STAFF_ROLES:
            roles["staff"] = {
                **common,
                "staff_id": sourced_id,
                "schools": school_ids,
                "roles": [role],
                "title": role.capitalize(),
                "department": None,
                "credentials": {"district_username": user.get("username", "")},
            }
        elif role in _CONTACT_ROLES:
            roles["contact"] = {
                **common,
                "sis_id": sourced_id,
                "phone": user.get("phone") or None,
                "phone_type": "Other" if user.get("phone") else None,
                "student_relationships": [
                    {
                        "student": self.id("user", child),
                        "relationship": "Parent" if role == "parent" else "Other",
                        "type": "Parent/Guardian",
                    }
                    for child in (_sid(r) for r in user.get("agents", []))
                    if child in self.users
                ],
            }
        middle = user.get("middleName") or None
        return {
            "id": self.id("user", sourced_id),
            "district": self.did,
            "email": user.get("email") or None,
            "name": {
                "first": user.get("givenName"),
                "middle": middle,
                "last": user.get("familyName"),
            },
            "roles": roles,
            "created": timestamp(user.get("dateLastModified")),
            "last_modified": timestamp(user.get("dateLastModified")),
        }


def translate(data: DistrictData, district_id: str | None = None) -> CleverDistrict:
    """Clever's records for a OneRoster district (see the module docstring for what is lost).

    Args:
        data: The district, as the ClassLink simulator serves it.
        district_id: Its Clever id; by default derived from the tenant name.
    """
    return _Translator(data, district_id or district_id_for(data)).build()


def user_id_for(district_id: str, sourced_id: str) -> str:
    """The Clever user id a OneRoster user gets in this district."""
    return object_id(district_id, "user", sourced_id)


def section_id_for(district_id: str, sourced_id: str) -> str:
    """The Clever section id a OneRoster class gets in this district."""
    return object_id(district_id, "section", sourced_id)


def _live(record: Record) -> bool:
    return str(record.get("status", "active")) != "tobedeleted"


def _sid(ref: object) -> str | None:
    if isinstance(ref, dict):
        value = ref.get("sourcedId")
        return str(value) if value is not None else None
    return None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _grade_order(grade: str) -> tuple[int, str]:
    order = {"IT": -4, "PR": -3, "PK": -2, "TK": -1, "KG": 0}
    if grade in order:
        return order[grade], grade
    return (int(grade), grade) if grade.isdigit() else (99, grade)
