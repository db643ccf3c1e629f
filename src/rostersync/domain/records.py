"""Roster records as the district's source sends them, and as the portal keeps them.

Source records (`Org`, `AcademicSession`, `Course`, `SchoolClass`, `Person`, `Enrollment`) are
what a OneRoster source says, already decoded from its wire format. Portal records (`Student`,
`Educator`) are a `Person` projected through the district's questionnaire answers: which field is
the student ID, which metadata field carries eligibility. Every record is immutable and knows its
content hash, which is how a resync tells "changed" from "unchanged" without comparing columns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from typing import Any, ClassVar, NamedTuple, TypeVar, cast


class EntityKind(StrEnum):
    """The kinds of roster record rostersync provisions, in dependency order."""

    ORG = "org"
    ACADEMIC_SESSION = "academicSession"
    COURSE = "course"
    CLASS = "class"
    EDUCATOR = "educator"
    STUDENT = "student"
    ENROLLMENT = "enrollment"

    @property
    def label(self) -> str:
        """The word a district data manager uses for this kind."""
        return _LABELS[self][0]

    @property
    def plural(self) -> str:
        """The plural, for report headings."""
        return _LABELS[self][1]


_LABELS = {
    EntityKind.ORG: ("school", "schools & district"),
    EntityKind.ACADEMIC_SESSION: ("term", "terms"),
    EntityKind.COURSE: ("course", "courses"),
    EntityKind.CLASS: ("class", "classes"),
    EntityKind.EDUCATOR: ("educator", "educators"),
    EntityKind.STUDENT: ("student", "students"),
    EntityKind.ENROLLMENT: ("enrollment", "enrollments"),
}

ACTIVE = "active"
TO_BE_DELETED = "tobedeleted"

STUDENT_ROLES = frozenset({"student"})
# Every staff role OneRoster 1.1 and 1.2 define becomes an educator account that keeps its role.
EDUCATOR_ROLES = frozenset(
    {
        "teacher",
        "administrator",
        "aide",
        "proctor",
        "counselor",
        "principal",
        "districtAdministrator",
        "siteAdministrator",
        "systemAdministrator",
    }
)
# Family members are not portal accounts: counted as skipped, never an error.
SKIPPED_ROLES = frozenset({"guardian", "parent", "relative"})

# CEDS entry-grade codes accepted by OneRoster 1.1.
GRADE_CODES = frozenset(
    ["IT", "PR", "PK", "TK", "KG", "PS", "UG", "Other"] + [f"{n:02d}" for n in range(1, 14)]
)


# How many recent distinct values `shared` remembers: a big district's common given and family
# names, school lists, grades and eligibility values, not its millions of unique ones.
SHARED_VALUES = 1 << 16

_T = TypeVar("_T", bound=Hashable)


@lru_cache(maxsize=SHARED_VALUES)
def _first_seen(value: Hashable) -> Hashable:
    return value


def shared(value: _T) -> _T:
    """One object for a value many records repeat: the equal value seen recently, else `value`.

    A million students' accounts are kept in memory during a run; each string costs about 50
    bytes beyond its characters, so repeated names and school lists share one object. Only for
    strings and tuples of strings (equal values of other types, say 1 and True, would merge).
    """
    return cast(_T, _first_seen(value))


def _digest(values: tuple[Any, ...]) -> str:
    return hashlib.blake2b(repr(values).encode("utf-8"), digest_size=16).hexdigest()


def digest_of(values: tuple[Any, ...]) -> str:
    """The content hash of a record's hashed field values, given as a tuple in field order.

    For records streamed as plain tuples (see `Enrollment` rows in `sync.enrollments`): the same
    digest `Record.content_hash` makes, without building the record.
    """
    return _digest(values)


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """Fields every roster record carries. `hashed_fields` lists what a change is judged by."""

    sourced_id: str
    status: str = ACTIVE
    date_last_modified: str | None = None

    KIND: ClassVar[EntityKind]
    # Status and dateLastModified are bookkeeping, not content: a touch alone is not a change.
    _UNHASHED: ClassVar[frozenset[str]] = frozenset({"status", "date_last_modified"})

    @property
    def kind(self) -> EntityKind:
        return self.KIND

    def content_hash(self) -> str:
        """A stable digest of the record's content, used to detect changes between syncs.

        Hashed for every record of every sync, so the hashed fields are read by one getter made
        once per class; the digest is exactly the field-by-field one stored hashes were made with.
        """
        values = _hashed_values(type(self))(self)
        return _digest(tuple(map(_freeze, values)) if type(self) in _WITH_MAPPINGS else values)


# Per record class: a getter returning the hashed fields' values as a tuple, in field order.
_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
# Classes with a field that may hold a mapping (frozen into sorted items before hashing).
_WITH_MAPPINGS: set[type] = set()


def _hashed_values(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    getter = _GETTERS.get(cls)
    if getter is None:
        names = [f.name for f in fields(cls) if f.name not in Record._UNHASHED]
        many = attrgetter(*names)
        # attrgetter of one name returns the bare value; the digest wants a tuple either way.
        getter = many if len(names) > 1 else (lambda record: (many(record),))
        if any("Mapping" in str(f.type) for f in fields(cls)):
            _WITH_MAPPINGS.add(cls)
        _GETTERS[cls] = getter
    return getter


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted(value.items()))
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Org(Record):
    """A school, the district itself, or another organisation in the district's tree."""

    KIND = EntityKind.ORG
    name: str
    type: str
    identifier: str = ""
    parent_sourced_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AcademicSession(Record):
    """A school year, semester, term or grading period."""

    KIND = EntityKind.ACADEMIC_SESSION
    title: str
    type: str
    start_date: str
    end_date: str
    school_year: str
    parent_sourced_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Course(Record):
    """A course in the district's catalogue."""

    KIND = EntityKind.COURSE
    title: str
    course_code: str
    org_sourced_id: str | None
    school_year_sourced_id: str | None = None
    grades: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SchoolClass(Record):
    """A class (section) taught at a school in one or more terms."""

    KIND = EntityKind.CLASS
    title: str
    class_code: str
    class_type: str
    course_sourced_id: str | None
    school_sourced_id: str | None
    term_sourced_ids: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Person(Record):
    """A OneRoster user as the source sends it, before the questionnaire decides what it becomes."""

    KIND = EntityKind.STUDENT  # refined by `Student`/`Educator`; a Person itself is never stored
    role: str
    username: str
    given_name: str
    family_name: str
    middle_name: str = ""
    identifier: str = ""
    email: str = ""
    enabled: bool = True
    org_sourced_ids: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()
    user_ids: tuple[tuple[str, str], ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Student(Record):
    """A student account in the portal."""

    KIND = EntityKind.STUDENT
    username: str
    given_name: str
    family_name: str
    email: str
    student_id: str
    grade: str
    school_sourced_ids: tuple[str, ...]
    enabled: bool = True
    # The raw value of the district's eligibility metadata field (when ClassLink is the source).
    eligibility_value: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Educator(Record):
    """A teacher or any other staff member, with the OneRoster role kept."""

    KIND = EntityKind.EDUCATOR
    role: str
    username: str
    given_name: str
    family_name: str
    email: str
    school_sourced_ids: tuple[str, ...]
    enabled: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Enrollment(Record):
    """A person's place in a class, as student, teacher, administrator or proctor."""

    KIND = EntityKind.ENROLLMENT
    class_sourced_id: str
    school_sourced_id: str
    user_sourced_id: str
    role: str
    primary: bool = False
    begin_date: str | None = None
    end_date: str | None = None


class StoredRecord(NamedTuple):
    """What the portal already holds for one source record: enough to plan without loading rows.

    A named tuple rather than a dataclass: a resync loads one per stored row (millions in a big
    district), and a tuple is built several times faster than a frozen dataclass.
    """

    id: str
    sourced_id: str
    content_hash: str
    active: bool
    # Accounts added by spreadsheet import or by hand: a sync never deactivates them.
    manually_rostered: bool = False


class StoredIndex(Mapping[str, StoredRecord]):
    """What the portal holds for one kind, keyed by sourcedId, one string per record.

    A resync plans against every stored student of a district, a million in a big one. As a
    `StoredRecord` with its own id and hash strings each costs about 330 bytes; packed into one
    string (flags, hash length, hash, id) about 200, and the record is rebuilt when read.
    Hashes are at most 32 characters (the column's width), so their length takes two digits.
    """

    __slots__ = ("_packed",)

    def __init__(self) -> None:
        self._packed: dict[str, str] = {}

    def add(self, id_: str, sourced_id: str, content_hash: str, active: bool, manual: bool) -> None:
        """Hold one stored record (a later one under the same sourcedId replaces it)."""
        self._packed[sourced_id] = (
            f"{'1' if active else '0'}{'1' if manual else '0'}"
            f"{len(content_hash):02d}{content_hash}{id_}"
        )

    def get(self, sourced_id: str, default: Any = None) -> Any:
        packed = self._packed.get(sourced_id)
        return default if packed is None else _unpack(sourced_id, packed)

    def __getitem__(self, sourced_id: str) -> StoredRecord:
        return _unpack(sourced_id, self._packed[sourced_id])

    def __contains__(self, sourced_id: object) -> bool:
        return sourced_id in self._packed

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)


def _unpack(sourced_id: str, packed: str) -> StoredRecord:
    end = 4 + int(packed[2:4])
    return StoredRecord(packed[end:], sourced_id, packed[4:end], packed[0] == "1", packed[1] == "1")
