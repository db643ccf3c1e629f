"""Change over time: a district's data between two syncs, as pure functions.

Every function takes a `DistrictData` and returns a `Mutated`: a new `DistrictData` and a
`Change` saying which records it created, updated, marked `tobedeleted`, removed silently or
brought back. The input is never modified; records that change are copies, the others are shared
between the old and the new district (so edit neither in place). Every record a mutation touches
gets `dateLastModified = at`, so a delta filter (`dateLastModified>'…'`) finds exactly them.

    step = mutations.add_students(data, 3, at="2026-09-01T12:00:00Z")
    server.tenant("springfield").data = step.data
    assert step.change.count("created", "users", role="student") == 3
"""

from __future__ import annotations

import copy
import dataclasses
import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from rostersync.simulator.district import COLLECTIONS, DistrictData, Record
from rostersync.simulator.names import FAMILY_NAMES, GIVEN_NAMES

__all__ = [
    "Change",
    "Mutated",
    "Ref",
    "add_students",
    "come_back",
    "edit_users",
    "mark_tobedeleted",
    "move_students",
    "promote_grades",
    "vanish",
]

OUTCOMES = ("created", "updated", "deleted", "vanished", "returned")
# Promotion moves each grade up one; 12th graders stay (graduation is a `tobedeleted` instead).
_NEXT_GRADE = {
    "PK": "KG",
    "TK": "KG",
    "KG": "01",
    **{f"{g:02d}": f"{g + 1:02d}" for g in range(1, 12)},
}


@dataclass(frozen=True, slots=True)
class Ref:
    """One touched record: its collection, sourcedId and, for users, role."""

    collection: str
    sourced_id: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """What one or more mutations did, by outcome.

    Attributes:
        created: Records new to the source.
        updated: Records whose content changed.
        deleted: Records now marked `tobedeleted`.
        vanished: Records removed without a trace.
        returned: Records present again after vanishing.
        taken: The records that vanished, as they were, for `come_back`.
    """

    created: tuple[Ref, ...] = ()
    updated: tuple[Ref, ...] = ()
    deleted: tuple[Ref, ...] = ()
    vanished: tuple[Ref, ...] = ()
    returned: tuple[Ref, ...] = ()
    taken: tuple[tuple[str, Record], ...] = ()

    def count(self, outcome: str, collection: str, *, role: str | None = None) -> int:
        """How many records of `collection` (and, for users, `role`) had this outcome."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        refs: tuple[Ref, ...] = getattr(self, outcome)
        return sum(1 for r in refs if r.collection == collection and role in (None, r.role))

    def __add__(self, other: Change) -> Change:
        return Change(
            *(getattr(self, name) + getattr(other, name) for name in (*OUTCOMES, "taken"))
        )


@dataclass(frozen=True, slots=True)
class Mutated:
    """A mutation's result: the new district and what changed."""

    data: DistrictData
    change: Change


def _stamp(at: str | datetime) -> str:
    if isinstance(at, datetime):
        return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return at


def _ref(record: Record, collection: str) -> Ref:
    return Ref(
        collection, str(record["sourcedId"]), record.get("role") if collection == "users" else None
    )


def _retarget(ref: Record, sourced_id: str) -> Record:
    # A GUIDRef copied from a sibling, pointed at another record of the same collection.
    moved = dict(ref)
    moved["sourcedId"] = sourced_id
    if isinstance(moved.get("href"), str):
        moved["href"] = f"{moved['href'].rsplit('/', 1)[0]}/{sourced_id}"
    return moved


class _Editor:
    """Copy-on-write over one district: lists are copied once, records when first touched."""

    def __init__(self, data: DistrictData, at: str | datetime) -> None:
        self.source = data
        self.at = _stamp(at)
        self.lists = {c: list(data.collection(c)) for c in COLLECTIONS}
        self._copied: set[int] = set()
        self._taken: dict[str, set[str]] = {}

    def touch(self, collection: str, index: int) -> Record:
        """The record at `index`, copied if not already, with dateLastModified set to `at`."""
        record = self.lists[collection][index]
        if id(record) not in self._copied:
            record = copy.deepcopy(record)
            self.lists[collection][index] = record
            self._copied.add(id(record))
        record["dateLastModified"] = self.at
        return record

    def find(self, collection: str, sourced_ids: Iterable[str]) -> list[int]:
        wanted = list(sourced_ids)
        positions = {r["sourcedId"]: i for i, r in enumerate(self.lists[collection])}
        missing = [sid for sid in wanted if sid not in positions]
        if missing:
            raise KeyError(f"no {collection} record with sourcedId {missing[0]!r}")
        return [positions[sid] for sid in wanted]

    def enrollments_of(self, user_ids: Collection[str]) -> list[int]:
        return [
            i
            for i, e in enumerate(self.lists["enrollments"])
            if e.get("user", {}).get("sourcedId") in user_ids
        ]

    def fresh_id(self, collection: str, prefix: str) -> str:
        taken = self._taken.get(collection)
        if taken is None:
            taken = self._taken[collection] = {r["sourcedId"] for r in self.lists[collection]}
        n = 1
        while f"{prefix}{n:05d}" in taken:
            n += 1
        taken.add(f"{prefix}{n:05d}")
        return f"{prefix}{n:05d}"

    def done(self, change: Change) -> Mutated:
        data = dataclasses.replace(self.source, **self.lists)  # type: ignore[arg-type]
        return Mutated(data, change)


def add_students(
    data: DistrictData, count: int, *, at: str | datetime, school: str | None = None, seed: int = 0
) -> Mutated:
    """New students, each enrolled in the classes of an existing student of the same school.

    Args:
        data: The district.
        count: How many students to add.
        at: Their dateLastModified (ISO 8601 text or a datetime).
        school: The school's sourcedId; any school when None.
        seed: Picks the classmates they copy and their names.

    Raises:
        ValueError: The school has no students to model the new ones on.
    """
    editor = _Editor(data, at)
    rng = random.Random(f"add:{seed}")
    models = [
        u
        for u in editor.lists["users"]
        if u.get("role") == "student"
        and u.get("status", "active") == "active"
        and (school is None or any(o.get("sourcedId") == school for o in u.get("orgs", [])))
    ]
    if not models:
        raise ValueError(f"no active students to model new ones on (school {school!r})")
    created: list[Ref] = []
    for _ in range(count):
        model = models[int(rng.random() * len(models))]
        sid = editor.fresh_id("users", "stu-new-")
        given = GIVEN_NAMES[int(rng.random() * len(GIVEN_NAMES))]
        family = FAMILY_NAMES[int(rng.random() * len(FAMILY_NAMES))]
        serial = sid.rsplit("-", 1)[-1]
        student = copy.deepcopy(model)
        student.pop("metadata", None)
        domain = str(model.get("email", "@students.example.org")).partition("@")[2]
        student.update(
            sourcedId=sid,
            dateLastModified=editor.at,
            givenName=given,
            familyName=family,
            username=f"new{serial}",
            email=f"new.student{serial}@{domain}",
            identifier=f"N{serial}",
            userIds=[{"type": "StateID", "identifier": f"99{serial}"}],
            agents=[],
        )
        editor.lists["users"].append(student)
        created.append(_ref(student, "users"))
        for index in editor.enrollments_of({model["sourcedId"]}):
            enrollment = copy.deepcopy(editor.lists["enrollments"][index])
            enrollment["sourcedId"] = editor.fresh_id("enrollments", "enr-new-")
            enrollment["user"] = _retarget(enrollment["user"], sid)
            enrollment["dateLastModified"] = editor.at
            editor.lists["enrollments"].append(enrollment)
            created.append(_ref(enrollment, "enrollments"))
    return editor.done(Change(created=tuple(created)))


def edit_users(
    data: DistrictData,
    sourced_ids: Iterable[str],
    *,
    at: str | datetime,
    names: bool = True,
    emails: bool = False,
) -> Mutated:
    """Change users' family names (a hyphenated second name) and/or email addresses."""
    editor = _Editor(data, at)
    updated: list[Ref] = []
    for index in editor.find("users", sourced_ids):
        user = editor.touch("users", index)
        if names:
            user["familyName"] = f"{user.get('familyName', '')}-Okafor"
        if emails:
            local, _, domain = str(user.get("email", "")).partition("@")
            user["email"] = f"{local}.new@{domain or 'example.org'}"
        updated.append(_ref(user, "users"))
    return editor.done(Change(updated=tuple(updated)))


def move_students(
    data: DistrictData,
    sourced_ids: Iterable[str],
    *,
    to_school: str,
    at: str | datetime,
    grade: str | None = None,
) -> Mutated:
    """Students change school: their orgs, and their enrollments (old ones vanish, new ones appear).

    Each moved student is enrolled in one section of every course of the new school that serves
    their grade.

    Args:
        data: The district.
        sourced_ids: The students who move.
        to_school: The new school's sourcedId.
        at: dateLastModified of every touched record.
        grade: Their grade at the new school (moving up from middle to high school); unchanged
            when None.

    Raises:
        ValueError: The new school has no classes for a moved student's grade.
    """
    editor = _Editor(data, at)
    school_classes = [c for c in editor.lists["classes"] if c["school"]["sourcedId"] == to_school]
    if not school_classes:
        raise ValueError(f"school {to_school!r} has no classes to move students into")
    school_ref = dict(school_classes[0]["school"])
    change = Change()
    ids = list(sourced_ids)
    for index in editor.find("users", ids):
        student = editor.touch("users", index)
        student["orgs"] = [dict(school_ref)]
        if grade is not None:
            student["grades"] = [grade]
        grades = set(student.get("grades") or [])
        sections: dict[str, Record] = {}
        for cls in school_classes:
            if grades & set(cls.get("grades") or []):
                sections.setdefault(cls["course"]["sourcedId"], cls)
        if not sections:
            raise ValueError(f"school {to_school!r} has no classes for grades {sorted(grades)}")
        old = editor.enrollments_of({student["sourcedId"]})
        template = editor.lists["enrollments"][old[0]] if old else None
        gone = tuple(_ref(editor.lists["enrollments"][i], "enrollments") for i in old)
        keep = set(old)
        editor.lists["enrollments"] = [
            e for i, e in enumerate(editor.lists["enrollments"]) if i not in keep
        ]
        created: list[Ref] = []
        for cls in sections.values():
            enrollment: Record = {
                "sourcedId": editor.fresh_id("enrollments", "enr-mv-"),
                "status": "active",
                "dateLastModified": editor.at,
                "user": _retarget(template["user"], student["sourcedId"])
                if template
                else {"sourcedId": student["sourcedId"], "type": "user"},
                "class": {
                    "href": f"{cls['course'].get('href', '').rsplit('/courses/', 1)[0]}/classes/"
                    f"{cls['sourcedId']}",
                    "sourcedId": cls["sourcedId"],
                    "type": "class",
                },
                "school": dict(school_ref),
                "role": "student",
                "primary": "false",
            }
            editor.lists["enrollments"].append(enrollment)
            created.append(_ref(enrollment, "enrollments"))
        change += Change(updated=(_ref(student, "users"),), vanished=gone, created=tuple(created))
    return editor.done(change)


def promote_grades(
    data: DistrictData, *, at: str | datetime, schools: Collection[str] | None = None
) -> Mutated:
    """Every active student moves up one grade (KG→01 … 11→12; 12th graders stay).

    Args:
        data: The district.
        at: dateLastModified of every promoted student.
        schools: Only students of these schools (sourcedIds); all when None.
    """
    editor = _Editor(data, at)
    updated: list[Ref] = []
    for index, user in enumerate(list(editor.lists["users"])):
        if user.get("role") != "student" or user.get("status", "active") != "active":
            continue
        orgs = {o.get("sourcedId") for o in user.get("orgs", [])}
        if schools is not None and not orgs & set(schools):
            continue
        grades = list(user.get("grades") or [])
        promoted = [_NEXT_GRADE.get(g, g) for g in grades]
        if promoted == grades:
            continue
        editor.touch("users", index)["grades"] = promoted
        updated.append(_ref(user, "users"))
    return editor.done(Change(updated=tuple(updated)))


def mark_tobedeleted(
    data: DistrictData, collection: str, sourced_ids: Iterable[str], *, at: str | datetime
) -> Mutated:
    """Mark records `status: tobedeleted`, the spec's explicit removal."""
    editor = _Editor(data, at)
    deleted: list[Ref] = []
    for index in editor.find(collection, sourced_ids):
        record = editor.touch(collection, index)
        record["status"] = "tobedeleted"
        deleted.append(_ref(record, collection))
    return editor.done(Change(deleted=tuple(deleted)))


def vanish(
    data: DistrictData, collection: str, sourced_ids: Iterable[str], *, cascade: bool = True
) -> Mutated:
    """Remove records without a trace, as ClassLink does when a district stops sharing them.

    Args:
        data: The district.
        collection: Where the records are, e.g. "users".
        sourced_ids: The records to remove.
        cascade: Also remove the enrollments of removed users and classes.

    Returns:
        The change lists them under `vanished` and keeps them in `taken` for `come_back`.
    """
    editor = _Editor(data, "")
    wanted = set(sourced_ids)
    editor.find(collection, wanted)
    taken: list[tuple[str, Record]] = [
        (collection, r) for r in editor.lists[collection] if r["sourcedId"] in wanted
    ]
    editor.lists[collection] = [r for r in editor.lists[collection] if r["sourcedId"] not in wanted]
    if cascade and collection in ("users", "classes"):
        key = "user" if collection == "users" else "class"
        kept: list[Record] = []
        for enrollment in editor.lists["enrollments"]:
            if enrollment.get(key, {}).get("sourcedId") in wanted:
                taken.append(("enrollments", enrollment))
            else:
                kept.append(enrollment)
        editor.lists["enrollments"] = kept
    refs = tuple(_ref(r, c) for c, r in taken)
    return editor.done(Change(vanished=refs, taken=tuple(taken)))


def come_back(data: DistrictData, gone: Change, *, at: str | datetime) -> Mutated:
    """Bring back what `vanish` took, unchanged but for a fresh dateLastModified.

    Records whose sourcedId is present again already are left alone.
    """
    editor = _Editor(data, at)
    present = {c: {r["sourcedId"] for r in editor.lists[c]} for c in COLLECTIONS}
    returned: list[Ref] = []
    for collection, record in gone.taken:
        if record["sourcedId"] in present[collection]:
            continue
        back = copy.deepcopy(record)
        back["dateLastModified"] = editor.at
        editor.lists[collection].append(back)
        returned.append(_ref(back, collection))
    return editor.done(Change(returned=tuple(returned)))
