"""Open issues as a person works through them: grouped by problem, counted in plain words
("12 students have no grade"), each problem with one fix worded for the district's own source.

A district whose roster is pulled from ClassLink (or another OneRoster server) fixes a record in
its SIS, and the next sync picks the change up; a district that pushes OneRoster CSV files fixes
the file and pushes it again (`Audience`). The validators (`domain.validate*`) keep one stored fix
per issue, written for a ClassLink district; the portal's issues page words each problem's fix
here instead, and falls back to the stored fix for a problem this module does not know.

The page's filters and sort are plain data here too (`IssueFilters`), so
the store's query (`store.issue_lists`) and the page's links read the same values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from rostersync.domain.issues import IssueSubject

__all__ = [
    "PAGE_SIZE",
    "PUSHED_SOURCE_KIND",
    "SORTS",
    "Audience",
    "IssueFilters",
    "IssueGroup",
    "ProblemCount",
    "RecordWords",
    "audience_for",
    "grade_order",
    "group_problems",
    "problem_fix",
    "problem_label",
    "problem_title",
    "record_words",
    "source_message",
]

PAGE_SIZE = 50
# The orders the page offers, by the value its form sends; the first is the default.
SORTS: dict[str, str] = {"problem": "Problem", "name": "Name", "school": "School"}


@dataclass(frozen=True, slots=True)
class Audience:
    """Where the district changes a record to fix it, and what its roster source is called.

    `Audience.CLASSLINK` is a district pulled from ClassLink or a OneRoster server (it fixes a
    record in its SIS); `Audience.FILES` one that pushes OneRoster CSV files (it fixes the file,
    then pushes again). A district pulled from another provider is told the same as a ClassLink
    one in that provider's name (`source`, e.g. "Clever"), which the caller passes in: the
    domain names no provider.
    """

    files: bool = False
    source: str = "ClassLink"

    CLASSLINK: ClassVar[Audience]
    FILES: ClassVar[Audience]

    @property
    def id_label(self) -> str:
        """What a record's id at the source is called: "ClassLink id", "Clever id"."""
        return "sourcedId" if self.files else f"{self.source} id"

    def words(self, text: str) -> str:
        """A text written for a ClassLink district, in this district's words (`source_message`)."""
        return source_message(text, self)


Audience.CLASSLINK = Audience()
Audience.FILES = Audience(files=True, source="the files")


# A record kind (an issue's `entity`) as people say it, one and many.
_NOUNS: dict[str, tuple[str, str]] = {
    "student": ("student", "students"),
    "educator": ("educator", "educators"),
    "user": ("person", "people"),
    "class": ("class", "classes"),
    "course": ("course", "courses"),
    "school": ("school", "schools"),
    "org": ("school", "schools"),
    "term": ("term", "terms"),
    "academicSession": ("term", "terms"),
    "enrollment": ("enrollment", "enrollments"),
}
_PEOPLE = frozenset({"student", "educator", "user"})
# The file of a OneRoster CSV bundle that holds each kind.
_FILES: dict[str, str] = {
    "student": "users.csv",
    "educator": "users.csv",
    "user": "users.csv",
    "class": "classes.csv",
    "course": "courses.csv",
    "school": "orgs.csv",
    "org": "orgs.csv",
    "term": "academicSessions.csv",
    "academicSession": "academicSessions.csv",
    "enrollment": "enrollments.csv",
}
# What a predicate's verbs become for one record and for many: "{has} no grade".
_VERBS: dict[str, tuple[str, str]] = {
    "has": ("has", "have"),
    "is": ("is", "are"),
    "was": ("was", "were"),
    "its": ("its", "their"),
    "shares": ("shares", "share"),
    "points": ("points", "point"),
    "names": ("names", "name"),
}
_AGAIN = "then push the files again."


@dataclass(frozen=True, slots=True)
class _Problem:
    """One kind of problem (an issue `code`): its short name, what it says of the records that
    have it, and its fix per audience. The fixes may name `{thing}` (the record's kind), `{file}`
    (its CSV file), `{plural}`, `{target}` and `{target_file}` (what a reference points at)."""

    label: str
    says: str
    classlink: str
    files: str
    target: str = ""


def _fill(field: str, what: str) -> tuple[str, str]:
    """The fixes for a value to fill in: in the SIS, or in the column of the record's file."""
    return (
        f"Fill in the {{thing}}'s {what} in the SIS; the next sync picks it up.",
        f"Fill in {field} for the {{thing}} in {{file}}, {_AGAIN}",
    )


def _references() -> dict[str, _Problem]:
    """The problems of a reference to another record: to none, to one not in the roster, to one
    the district marked for deletion (`domain.references`)."""
    found: dict[str, _Problem] = {}
    for target in ("school", "term", "course", "class", "user"):
        word = "person" if target == "user" else target
        in_one = target in ("school", "term")
        found[f"missing_{target}"] = _Problem(
            label=f"No {word}",
            says=f"{{is}} not in any {word}" if in_one else f"{{names}} no {word}",
            classlink=f"Assign the {{thing}} to a {word} in the SIS; the next sync picks it up.",
            files=f"Fill in the {{thing}}'s {word} in {{file}}, {_AGAIN}",
        )
        found[f"unknown_{target}"] = _Problem(
            label=f"Unknown {word}",
            says=f"{{points}} at a {word} that is not in the roster",
            classlink=(
                f"Share the {word} with this application in ClassLink, or correct the "
                f"{{thing}}'s {word} in the SIS."
            ),
            files=(
                f"Add the {word} to {{target_file}}, or correct the {{thing}}'s {word} in "
                f"{{file}}; {_AGAIN}"
            ),
            target=target,
        )
        found[f"deleted_{target}"] = _Problem(
            label=f"{word.capitalize()} marked for deletion",
            says=f"{{points}} at a {word} marked for deletion",
            classlink=(
                f"If the {word} is gone, mark the {{thing}} tobedeleted too (or remove it) in the "
                f"SIS; if it is not, undo the {word}'s deletion."
            ),
            files=(
                f"If the {word} is gone, mark the {{thing}}'s row tobedeleted in {{file}} (or "
                f"remove it); if it is not, undo the {word}'s deletion in {{target_file}}. Then "
                "push the files again."
            ),
            target=target,
        )
    return found


_PROBLEMS: dict[str, _Problem] = {
    "missing_sourced_id": _Problem(
        "No sourcedId",
        "{has} no sourcedId, so it cannot be tracked between syncs",
        "Every record needs a sourcedId: check the export settings of the SIS and ClassLink.",
        f"Give every row of {{file}} a sourcedId, {_AGAIN}",
    ),
    "duplicate_sourced_id": _Problem(
        "The same sourcedId twice",
        "{shares} {its} sourcedId with another record",
        "sourcedIds must be unique: remove or renumber the duplicate {thing} in the SIS.",
        f"sourcedIds must be unique: remove or renumber the duplicate row in {{file}}, {_AGAIN}",
    ),
    "missing_name": _Problem("No name", "{has} no name", *_fill("name", "name")),
    "invalid_org_type": _Problem(
        "Unknown school type",
        "{has} a type OneRoster does not define",
        "Set the type to school or district (or department, state, national) in the SIS.",
        "Set the type column of orgs.csv to school or district (or department, state, "
        f"national), {_AGAIN}",
    ),
    "missing_title": _Problem("No title", "{has} no title", *_fill("title", "title")),
    "missing_startDate": _Problem(
        "No start date", "{has} no start date", *_fill("startDate", "start date")
    ),
    "missing_endDate": _Problem("No end date", "{has} no end date", *_fill("endDate", "end date")),
    "invalid_session_type": _Problem(
        "Unknown term type",
        "{has} a type OneRoster does not define",
        "Use schoolYear, semester, term or gradingPeriod as the term's type in the SIS.",
        "Set the type column of academicSessions.csv to schoolYear, semester, term or "
        f"gradingPeriod, {_AGAIN}",
    ),
    "missing_givenName": _Problem(
        "No first name", "{has} no first name", *_fill("givenName", "first name")
    ),
    "missing_familyName": _Problem(
        "No last name", "{has} no last name", *_fill("familyName", "last name")
    ),
    "missing_username": _Problem(
        "No username", "{has} no username", *_fill("username", "username")
    ),
    "missing_course": _Problem(
        "No course",
        "{names} no course",
        "Assign the class to a course in the SIS; the next sync picks it up.",
        f"Fill in courseSourcedId for the class in classes.csv, {_AGAIN}",
    ),
    **_references(),
    "course_not_provided": _Problem(
        "Course not sent",
        "{was} added without {its} course",
        "Share the district's courses with this application in ClassLink; nothing else needs "
        "to change.",
        "Include courses.csv in the files (file.courses bulk in manifest.csv) to link classes to "
        "their courses; nothing else needs to change.",
    ),
    "invalid_email": _Problem(
        "Not an email address",
        "{has} an email that is not an email address",
        "Correct the {thing}'s email in the SIS; the next sync picks it up.",
        f"Correct the {{thing}}'s email in {{file}}, {_AGAIN}",
    ),
    "duplicate_email": _Problem(
        "The same email twice",
        "{shares} an email address with someone else",
        "Each person needs their own email: correct the duplicate in the SIS.",
        f"Each person needs their own email: correct the duplicate in {{file}}, {_AGAIN}",
    ),
    "unknown_role": _Problem(
        "Unknown role",
        "{has} a role that is neither student nor staff",
        "Set the person's role to student, teacher, administrator, aide or another OneRoster "
        "staff role in the SIS.",
        "Set the role column of users.csv to student, teacher, administrator, aide or another "
        f"OneRoster staff role, {_AGAIN}",
    ),
    "missing_grade": _Problem(
        "No grade",
        "{has} no grade",
        "Set the student's grade in the SIS (a CEDS code such as KG or 05); the next sync "
        "picks it up.",
        f"Fill in the grades column of users.csv with a CEDS code such as KG or 05, {_AGAIN}",
    ),
    "invalid_grade": _Problem(
        "Grade is not a CEDS code",
        "{has} a grade that is not a CEDS grade code",
        "Use a CEDS grade code in the SIS: KG, 01–12, PK, TK, IT, PR, PS, UG or Other.",
        "Use a CEDS grade code (KG, 01–12, PK, TK, IT, PR, PS, UG or Other) in the grades "
        f"column of users.csv, {_AGAIN}",
    ),
    "missing_student_id": _Problem(
        "No student ID",
        "{has} no student ID",
        "Fill in the student ID in the SIS, in the field the district chose for student IDs.",
        "Fill in the student ID in users.csv, in the column the district chose for student "
        f"IDs, {_AGAIN}",
    ),
    "duplicate_student_id": _Problem(
        "The same student ID twice",
        "{shares} a student ID with another student",
        "Student IDs must be unique within the district: correct the duplicate in the SIS.",
        "Student IDs must be unique within the district: correct the duplicate in users.csv, "
        + _AGAIN,
    ),
    "invalid_enrollment_role": _Problem(
        "Unknown enrollment role",
        "{has} a role a class does not use",
        "Use student, teacher, administrator or proctor as the enrollment's role in the SIS.",
        "Set the role column of enrollments.csv to student, teacher, administrator or proctor, "
        + _AGAIN,
    ),
    "ambiguous_match": _Problem(
        "Matches more than one account",
        "cannot be matched to one portal account",
        "Give each person their own student ID and email in the SIS, or remove the duplicate "
        "portal account.",
        "Give each person their own student ID and email in users.csv (then push the files "
        "again), or remove the duplicate portal account.",
    ),
    "empty_collection": _Problem(
        "Nothing sent",
        "",
        "Check in ClassLink that the district's {plural} are still shared with this "
        "application, then sync again; if the district really has none now, ask the vendor's "
        "support to deactivate them.",
        "Check that the files include {file} with its rows, then push them again; if the "
        "district really has none now, ask the vendor's support to deactivate them.",
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProblemCount:
    """How many open issues of one severity, problem and kind of record a district has, with
    one of their stored fixes (for a problem this module does not know)."""

    severity: str
    code: str
    entity: str
    count: int
    fix: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueGroup:
    """One problem as the page shows it: "12 students have no grade", and how to fix it."""

    severity: str
    code: str
    count: int
    title: str
    fix: str


def _noun(entities: Mapping[str, int], count: int) -> str:
    """The records' kind as one word: theirs when they are of one kind, else people or records."""
    kinds = {k for k, n in entities.items() if n}
    one = count == 1
    if len(kinds) == 1:
        (kind,) = kinds
        nouns = _NOUNS.get(kind, ("record", "records"))
    elif kinds and kinds <= _PEOPLE:
        nouns = ("person", "people")
    else:
        nouns = ("record", "records")
    return nouns[0 if one else 1]


def _verbs(count: int) -> dict[str, str]:
    return {name: forms[0 if count == 1 else 1] for name, forms in _VERBS.items()}


def problem_label(code: str) -> str:
    """A problem's short name, for a list to choose from: "No grade"."""
    known = _PROBLEMS.get(code)
    return known.label if known is not None else code.replace("_", " ").capitalize()


def problem_title(code: str, entities: Mapping[str, int]) -> str:
    """The problem counted in plain words: "12 students have no grade", "1 class is not in any
    term", "3 people share an email address with someone else (2 students, 1 educator)".

    Args:
        code: The issues' code.
        entities: How many of them are of each kind of record (an issue's `entity`).
    """
    count = sum(entities.values())
    known = _PROBLEMS.get(code)
    if code == "empty_collection":
        what = ", ".join(_NOUNS.get(k, (k, k))[1] for k in sorted(entities) if entities[k])
        return f"The last full sync sent no {what} at all; those in the portal were kept"
    noun = _noun(entities, count)
    says = known.says.format(**_verbs(count)) if known is not None else ""
    title = f"{count:,} {noun} {says}" if says else f"{count:,} {noun}: {problem_label(code)}"
    several = sorted((k for k, n in entities.items() if n), key=lambda k: (-entities[k], k))
    if len(several) > 1:
        parts = [f"{entities[k]:,} {_NOUNS.get(k, (k, k))[entities[k] != 1]}" for k in several]
        title += f" ({', '.join(parts)})"
    return title


def problem_fix(code: str, entities: Iterable[str], audience: Audience, stored: str = "") -> str:
    """How the district fixes a problem, in the words of its source.

    Args:
        code: The issues' code.
        entities: The kinds of record that have it (an issue's `entity`).
        audience: Where the district changes a record.
        stored: The fix stored with an issue, said for a problem this module does not know.
    """
    known = _PROBLEMS.get(code)
    if known is None:
        return source_message(stored, audience) if not audience.files else stored
    kinds = sorted(set(entities))
    if len(kinds) == 1:
        thing, plural = _NOUNS.get(kinds[0], ("record", "records"))
    elif kinds and set(kinds) <= _PEOPLE:
        thing, plural = "person", "people"
    else:
        thing, plural = "record", "records"
    files = sorted({_FILES[k] for k in kinds if k in _FILES})
    text = known.files if audience.files else source_message(known.classlink, audience)
    return text.format(
        thing=thing,
        plural=plural,
        file=" or ".join(files) or "the file",
        target=known.target,
        target_file=_FILES.get(known.target, "its file"),
    )


def group_problems(counts: Iterable[ProblemCount], audience: Audience) -> list[IssueGroup]:
    """The problems of a district's open issues, errors before warnings, the largest first.

    Issues of one code and severity are one group whatever their kind of record; its title says
    how many of each kind there are when there are several.
    """
    entities: dict[tuple[str, str], dict[str, int]] = {}
    stored: dict[tuple[str, str], str] = {}
    for c in counts:
        key = (c.severity, c.code)
        kinds = entities.setdefault(key, {})
        kinds[c.entity] = kinds.get(c.entity, 0) + c.count
        stored.setdefault(key, c.fix)
    groups = [
        IssueGroup(
            severity=severity,
            code=code,
            count=sum(kinds.values()),
            title=problem_title(code, kinds),
            fix=problem_fix(code, kinds, audience, stored[(severity, code)]),
        )
        for (severity, code), kinds in entities.items()
    ]
    return sorted(groups, key=lambda g: (g.severity != "error", -g.count, g.code))


_GRADES = ("IT", "PR", "PK", "TK", "KG", *(f"{n:02d}" for n in range(1, 14)), "PS", "UG", "Other")


def grade_order(grade: str) -> tuple[int, str]:
    """A sort key that puts CEDS grades in school order (PK, KG, 01 … 12), others after."""
    return (_GRADES.index(grade), "") if grade in _GRADES else (len(_GRADES), grade)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueFilters:
    """What the issues page shows: filters (combined) and order.

    `search` is a record's ClassLink sourcedId or student ID exactly, or part of its name; the
    page's query parameter for it is `sourced_id` (the links in emails use that name).
    """

    code: str = ""
    school: str = ""
    grade: str = ""
    role: str = ""
    search: str = ""
    sort: str = "problem"

    @classmethod
    def of(
        cls,
        *,
        code: str = "",
        school: str = "",
        grade: str = "",
        role: str = "",
        search: str = "",
        sort: str = "",
    ) -> IssueFilters:
        """The filters as typed or linked, trimmed; an unknown sort is the default one."""
        return cls(
            code=code.strip(),
            school=school.strip(),
            grade=grade.strip(),
            role=role.strip(),
            search=search.strip(),
            sort=sort if sort in SORTS else "problem",
        )

    @property
    def narrowed(self) -> bool:
        """Whether any filter is set (the order is not a filter)."""
        return any((self.code, self.school, self.grade, self.role, self.search))

    def but(self, **changes: str) -> IssueFilters:
        """The same filters with some changed."""
        return replace(self, **changes)

    def params(self) -> dict[str, str]:
        """The query parameters of a link to these filters (only those not at their default)."""
        values = {
            "code": self.code,
            "school": self.school,
            "grade": self.grade,
            "role": self.role,
            "sourced_id": self.search,
            "sort": "" if self.sort == "problem" else self.sort,
        }
        return {name: value for name, value in values.items() if value}


# The source kind of a district that pushes OneRoster CSV files (`providers.push.KIND`; the
# domain names no provider, so a unit test keeps the two the same).
PUSHED_SOURCE_KIND = "oneroster-push"


def audience_for(source_kind: str, source_name: str = "ClassLink") -> Audience:
    """Where a district with this source kind fixes a record: in its files when it pushes them,
    else in its SIS, shared through the source its provider calls `source_name` (ClassLink, or
    another OneRoster server, or Clever; `providers.Registry.audience` passes the name)."""
    if source_kind == PUSHED_SOURCE_KIND:
        return Audience.FILES
    if source_name == Audience.CLASSLINK.source:
        return Audience.CLASSLINK
    return Audience(source=source_name)


@dataclass(frozen=True, slots=True)
class RecordWords:
    """A record as a list, table or email shows it: what a person recognises first (`name`),
    then what else tells it apart (`details`); the ClassLink sourcedId is shown after both."""

    name: str
    details: str


def record_words(entity: str, subject: IssueSubject | None) -> RecordWords:
    """How to name an issue's record: "Ana Ruiz" with "student, ID 1001, grade 05, Lincoln ES";
    a class "Algebra I" with "code ALG1-3, Lincoln ES"; an enrollment "Ana Ruiz in Algebra I
    (ALG1-3)" with "student, ID 1001, grade 05, Lincoln ES". Empty when the name is not known.
    """
    if subject is None:
        return RecordWords("", "")
    if entity != "enrollment" or not subject.code:
        return RecordWords(subject.name, subject.details())
    name = f"{subject.name} ({subject.code})" if subject.name else ""
    rest = replace(subject, code="")
    return RecordWords(name, rest.details() if name else subject.details())


# What a stored message says of the district's source, said again for a district that pushes
# files (the validators write messages for a ClassLink district, as they do fixes).
_FILE_MESSAGES = (("the roster ClassLink shared", "the files the district pushed"),)


def source_message(message: str, audience: Audience) -> str:
    """An issue's stored message (or fix) in the words of the district's source: a district that
    pushes files is never told what "ClassLink shared", and one read from Clever is told to
    share a record in Clever, never in ClassLink."""
    if audience.files:
        for said, meant in _FILE_MESSAGES:
            message = message.replace(said, meant)
    elif audience.source != Audience.CLASSLINK.source:
        message = message.replace(Audience.CLASSLINK.source, audience.source)
    return message
