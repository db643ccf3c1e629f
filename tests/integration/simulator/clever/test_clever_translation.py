"""The Clever model of a generated district has the same people, classes and enrollments."""

from __future__ import annotations

import copy

from rostersync.simulator import generate_district
from rostersync.simulator.clever import translate, user_id_for
from rostersync.simulator.clever.model import object_id


def test_same_people_classes_and_enrollment_pairs() -> None:
    data = generate_district(students=150, seed=5, bad_records=True, tenant="springfield")
    model = translate(data, "d" * 24)
    users = {u["sourcedId"]: u for u in data.users}
    clever_users = {u["id"] for u in model.collection("users")}
    assert clever_users == {user_id_for("d" * 24, sid) for sid in users}
    classes = {c["sourcedId"] for c in data.classes}
    sections = {s["sis_id"]: s for s in model.collection("sections")}
    assert set(sections) == classes
    back = {user_id_for("d" * 24, sid): sid for sid in users}
    expected = {
        (e["class"]["sourcedId"], e["user"]["sourcedId"], e["role"])
        for e in data.enrollments
        if e["class"]["sourcedId"] in classes
    }
    served = {
        (sis_id, back[person], role)
        for sis_id, section in sections.items()
        for role, people in (("student", section["students"]), ("teacher", section["teachers"]))
        for person in people
    }
    assert served == expected
    # The planted enrollment in a missing class cannot be expressed in Clever and is dropped.
    assert any(p.problem == "unknown_class" for p in data.planted)


def test_student_fields_carry_ids_grade_and_eligibility() -> None:
    data = generate_district(students=150, seed=5, bad_records=True, tenant="springfield")
    model = translate(data)
    by_sis = {
        u["roles"]["student"]["sis_id"]: u["roles"]["student"]
        for u in model.collection("users")
        if "student" in u["roles"]
    }
    for user in (u for u in data.users if u["role"] == "student"):
        role = by_sis[user["sourcedId"]]
        assert role["student_number"] == user["identifier"]
        assert role["state_id"] == user["userIds"][0]["identifier"]
        assert role["ext"] == user.get("metadata", {})
        assert role["grade"] == _expected_grade(user["grades"])
    duplicated = next(p for p in data.planted if p.problem == "duplicate_student_id")
    assert (
        by_sis[duplicated.sourced_id]["student_number"]
        == by_sis[duplicated.related[0]]["student_number"]
    )
    lost = next(p for p in data.planted if p.problem == "unknown_school")
    assert by_sis[lost.sourced_id]["school"] is None and by_sis[lost.sourced_id]["schools"] == []


def test_tobedeleted_users_are_absent_and_ids_are_stable() -> None:
    data = generate_district(students=40, seed=2, tenant="springfield")
    gone = copy.deepcopy(data)
    teacher = next(u for u in gone.users if u["role"] == "teacher")
    teacher["status"] = "tobedeleted"
    before, after = translate(data), translate(gone)
    removed = object_id(before.district_id, "user", teacher["sourcedId"])
    assert removed in {u["id"] for u in before.collection("users")}
    assert removed not in {u["id"] for u in after.collection("users")}
    assert all(removed not in s["teachers"] for s in after.collection("sections"))
    assert [s["id"] for s in before.collection("sections")] == [
        s["id"] for s in after.collection("sections")
    ]
    roles = {next(iter(u["roles"])) for u in before.collection("users")}
    assert roles == {"student", "teacher", "staff", "district_admin", "contact"}


def _expected_grade(grades: list[str]) -> str | None:
    """Clever's grade for OneRoster grades: none, Kindergarten, or the number without zeros."""
    if not grades:
        return None
    return "Kindergarten" if grades[0] == "KG" else str(int(grades[0]))
