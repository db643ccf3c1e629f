"""Applying a SyncPlan: rows, references, deactivations, eligibility and the audit trail."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from rostersync.domain.eligibility import Eligibility, EligibilityStatus, plan_eligibility
from rostersync.domain.plan import EntityPlan, PlannedWrite, SyncPlan, plan_entity
from rostersync.domain.records import (
    TO_BE_DELETED,
    AcademicSession,
    Course,
    Educator,
    Enrollment,
    EntityKind,
    Org,
    Record,
    SchoolClass,
    StoredRecord,
    Student,
)
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.errors import RosterSyncError
from rostersync.store import roster as roster_store
from rostersync.store.apply import apply_plan
from rostersync.store.districts import DistrictRecord
from rostersync.store.roster import (
    load_index,
    lookup_eligibility,
    lookup_index,
)
from rostersync.store.runs import audit_entries, create_run
from rostersync.store.tables import (
    ROSTER_TABLES,
    audit_log,
    classes,
    eligibility,
    enrollments,
    students,
)

RULES = DistrictRules(
    eligibility_source=EligibilitySource.METADATA, eligibility_field="eligibility"
)
# 03:00 UTC on 1 September is still 31 August in Springfield (America/Chicago).
FIRST = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)
SECOND = FIRST + timedelta(days=1)

Roster = dict[EntityKind, list[Record]]


def org(sid: str, **kw: Any) -> Org:
    return Org(sourced_id=sid, **{"name": f"School {sid}", "type": "school", **kw})


def student(n: int, school: str = "sch-1", **kw: Any) -> Student:
    fields: dict[str, Any] = {
        "username": f"student{n}",
        "given_name": "Ada",
        "family_name": f"Reader{n}",
        "email": f"student{n}@springfield.example",
        "student_id": f"S{n:05d}",
        "grade": "05",
        "school_sourced_ids": (school,),
        "eligibility_value": None,
    }
    return Student(sourced_id=f"stu-{n}", **{**fields, **kw})


def enrollment(sid: str, user: str, cls: str, role: str = "student", **kw: Any) -> Enrollment:
    return Enrollment(
        sourced_id=sid,
        class_sourced_id=cls,
        school_sourced_id="sch-1",
        user_sourced_id=user,
        role=role,
        **kw,
    )


def springfield() -> Roster:
    """Two schools, one term, course and teacher, two classes, three students."""
    return {
        EntityKind.ORG: [
            org("d-1", type="district", name="Springfield USD"),
            org("sch-1", parent_sourced_id="d-1"),
            org("sch-2", parent_sourced_id="d-1"),
        ],
        EntityKind.ACADEMIC_SESSION: [
            AcademicSession(
                sourced_id="term-1",
                title="Fall",
                type="semester",
                start_date="2026-08-15",
                end_date="2026-12-20",
                school_year="2027",
            )
        ],
        EntityKind.COURSE: [
            Course(sourced_id="crs-1", title="Reading", course_code="RD1", org_sourced_id="sch-1")
        ],
        EntityKind.CLASS: [
            SchoolClass(
                sourced_id=f"cls-{n}",
                title=f"Reading {n}",
                class_code=f"RD1-0{n}",
                class_type="scheduled",
                course_sourced_id="crs-1",
                school_sourced_id=f"sch-{n}",
                term_sourced_ids=("term-1",),
                grades=("05",),
            )
            for n in (1, 2)
        ],
        EntityKind.EDUCATOR: [
            Educator(
                sourced_id="tch-1",
                role="teacher",
                username="teacher1",
                given_name="Grace",
                family_name="Teacher",
                email="grace@springfield.example",
                school_sourced_ids=("sch-1", "sch-2"),
            )
        ],
        EntityKind.STUDENT: [
            student(1, eligibility_value="RD"),
            student(2, school="sch-2"),
            student(3, eligibility_value="no"),
        ],
        EntityKind.ENROLLMENT: [
            enrollment("enr-t1", "tch-1", "cls-1", role="teacher", primary=True),
            enrollment("enr-1", "stu-1", "cls-1", begin_date="2026-08-15"),
            enrollment("enr-2", "stu-2", "cls-2"),
            enrollment("enr-3", "stu-3", "cls-1"),
            enrollment("enr-4", "stu-1", "cls-2", end_date="2027-01-15"),
        ],
    }


def sync(
    conn: Connection, district: DistrictRecord, roster: Roster, *, now: datetime
) -> tuple[SyncPlan, str]:
    """Plan a complete snapshot against what the store holds, then apply it."""
    run_id = create_run(conn, district_id=district.id, trigger="manual", mode="apply", now=now)
    entities = {
        kind: plan_entity(kind, records, load_index(conn, district.id, kind), complete=True)
        for kind, records in roster.items()
    }
    students_plan = entities.get(EntityKind.STUDENT)
    # As a sync reads it: only the planned students' eligibility.
    planned = list(students_plan.ids.values()) if students_plan else []
    current = lookup_eligibility(conn, district.id, planned)
    changes = []
    for record in roster.get(EntityKind.STUDENT, []):
        if students_plan and isinstance(record, Student) and record.status == "active":
            portal_id = students_plan.ids[record.sourced_id]
            change = plan_eligibility(
                RULES, portal_id, current.get(portal_id), record.eligibility_value
            )
            if change is not None:
                changes.append(change)
    plan = SyncPlan(entities=entities, eligibility=changes)
    apply_plan(
        conn, district_id=district.id, run_id=run_id, plan=plan, actor=f"sync run {run_id}", now=now
    )
    return plan, run_id


def ids(conn: Connection, district: DistrictRecord, kind: EntityKind) -> dict[str, str]:
    return {sid: s.id for sid, s in load_index(conn, district.id, kind).items()}


def stored_eligibility(conn: Connection, district: DistrictRecord) -> dict[str, Eligibility]:
    """Every eligibility row of the district, by portal student id."""
    rows = conn.execute(
        select(eligibility.c.student_id, eligibility.c.status, eligibility.c.category).where(
            eligibility.c.district_id == district.id
        )
    )
    return {
        r.student_id: Eligibility(status=EligibilityStatus(r.status), category=r.category)
        for r in rows
    }


def audit_of(conn: Connection, run_id: str) -> set[tuple[str, str, str, str]]:
    """(action, entity type, entity id, changes as JSON) for every audit row of a run."""
    rows = conn.execute(
        select(
            audit_log.c.action, audit_log.c.entity_type, audit_log.c.entity_id, audit_log.c.changes
        ).where(audit_log.c.run_id == run_id)
    )
    return {(a, t, i, json.dumps(c, sort_keys=True)) for a, t, i, c in rows}


def by_sourced_id(conn: Connection, district: DistrictRecord, kind: EntityKind) -> dict[str, Any]:
    table = ROSTER_TABLES[kind]
    rows = conn.execute(select(table).where(table.c.district_id == district.id))
    return {row.sourced_id: row for row in rows}


class TestFirstSync:
    """A first sync creates every record, resolves references to portal ids, and audits."""

    def test_every_record_is_stored_active_with_its_hash(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        roster = springfield()
        sync(conn, district, roster, now=FIRST)
        for kind, records in roster.items():
            stored = load_index(conn, district.id, kind)
            assert {sid: (s.content_hash, s.active) for sid, s in stored.items()} == {
                r.sourced_id: (r.content_hash(), True) for r in records
            }

    def test_columns_hold_the_record_fields(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        sync(conn, district, springfield(), now=FIRST)
        stu = by_sourced_id(conn, district, EntityKind.STUDENT)["stu-1"]
        assert (stu.username, stu.given_name, stu.family_name, stu.email) == (
            "student1",
            "Ada",
            "Reader1",
            "student1@springfield.example",
        )
        assert (stu.student_id, stu.grade, stu.school_sourced_ids) == ("S00001", "05", ["sch-1"])
        assert stu.manually_rostered is False and stu.enabled is True
        assert stu.created_at == stu.updated_at == FIRST and stu.deactivated_at is None
        tch = by_sourced_id(conn, district, EntityKind.EDUCATOR)["tch-1"]
        assert (tch.role, tch.school_sourced_ids) == ("teacher", ["sch-1", "sch-2"])
        cls = by_sourced_id(conn, district, EntityKind.CLASS)["cls-1"]
        assert (cls.term_sourced_ids, cls.grades, cls.class_type) == (
            ["term-1"],
            ["05"],
            "scheduled",
        )
        enr = by_sourced_id(conn, district, EntityKind.ENROLLMENT)["enr-t1"]
        assert (enr.role, enr.primary, enr.begin_date, enr.end_date) == (
            "teacher",
            True,
            None,
            None,
        )

    def test_references_are_resolved_to_portal_ids(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        sync(conn, district, springfield(), now=FIRST)
        org_ids = ids(conn, district, EntityKind.ORG)
        class_ids = ids(conn, district, EntityKind.CLASS)
        student_ids = ids(conn, district, EntityKind.STUDENT)
        teacher_id = ids(conn, district, EntityKind.EDUCATOR)["tch-1"]

        cls = by_sourced_id(conn, district, EntityKind.CLASS)
        assert cls["cls-2"].school_id == org_ids["sch-2"]
        assert cls["cls-2"].course_id == ids(conn, district, EntityKind.COURSE)["crs-1"]
        assert (
            by_sourced_id(conn, district, EntityKind.STUDENT)["stu-2"].school_id == org_ids["sch-2"]
        )
        # The first school listed is the one an account is filed under.
        assert (
            by_sourced_id(conn, district, EntityKind.EDUCATOR)["tch-1"].school_id
            == org_ids["sch-1"]
        )
        enr = by_sourced_id(conn, district, EntityKind.ENROLLMENT)
        assert (enr["enr-t1"].class_id, enr["enr-t1"].educator_id, enr["enr-t1"].student_id) == (
            class_ids["cls-1"],
            teacher_id,
            None,
        )
        assert (enr["enr-4"].class_id, enr["enr-4"].student_id, enr["enr-4"].educator_id) == (
            class_ids["cls-2"],
            student_ids["stu-1"],
            None,
        )
        assert enr["enr-4"].school_id == org_ids["sch-1"]

    def test_every_created_record_and_eligibility_gets_one_audit_row(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        roster = springfield()
        _, run_id = sync(conn, district, roster, now=FIRST)
        student_ids = ids(conn, district, EntityKind.STUDENT)
        created = {
            ("create", kind.value, ids(conn, district, kind)[r.sourced_id], "null")
            for kind, records in roster.items()
            for r in records
        }
        eligibility_rows = {
            (
                "eligibility",
                "student",
                student_ids[sid],
                json.dumps(
                    {"after": after, "before": None, "source": "metadata.eligibility"},
                    sort_keys=True,
                ),
            )
            for sid, after in [
                ("stu-1", {"status": "eligible", "category": "RD"}),
                ("stu-2", {"status": "unconfirmed", "category": None}),
                ("stu-3", {"status": "not_eligible", "category": None}),
            ]
        }
        assert audit_of(conn, run_id) == created | eligibility_rows
        entries = audit_entries(conn, district.id, limit=100)
        assert len(entries) == len(created) + 3
        assert {(e.actor, e.run_id, e.at) for e in entries} == {
            (f"sync run {run_id}", run_id, FIRST)
        }

    def test_eligibility_is_stored_for_new_students(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        _, run_id = sync(conn, district, springfield(), now=FIRST)
        student_ids = ids(conn, district, EntityKind.STUDENT)
        assert stored_eligibility(conn, district) == {
            student_ids["stu-1"]: Eligibility(status=EligibilityStatus.ELIGIBLE, category="RD"),
            student_ids["stu-2"]: Eligibility(status=EligibilityStatus.UNCONFIRMED),
            student_ids["stu-3"]: Eligibility(status=EligibilityStatus.NOT_ELIGIBLE),
        }
        row = conn.execute(
            select(eligibility).where(eligibility.c.student_id == student_ids["stu-1"])
        ).one()
        assert (row.source, row.changed_at, row.changed_by) == (
            "metadata.eligibility",
            FIRST,
            f"sync run {run_id}",
        )


class TestLaterSync:
    """A later sync updates, restores and deactivates exactly what changed, and audits it."""

    def test_update_restore_and_deactivations(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        roster = springfield()
        sync(conn, district, roster, now=FIRST)
        # stu-3 leaves (with its enrollment) so that the next sync can bring it back.
        leaving = springfield()
        leaving[EntityKind.STUDENT] = leaving[EntityKind.STUDENT][:2]
        leaving[EntityKind.ENROLLMENT] = [
            e for e in leaving[EntityKind.ENROLLMENT] if e.sourced_id != "enr-3"
        ]
        sync(conn, district, leaving, now=FIRST + timedelta(hours=1))
        before = by_sourced_id(conn, district, EntityKind.STUDENT)
        assert before["stu-3"].active is False

        second = springfield()
        second[EntityKind.STUDENT] = [
            student(1, grade="06", email="ada.reader@springfield.example", eligibility_value="RD"),
            student(3, eligibility_value="no"),  # back: restored
        ]  # stu-2 gone: deactivated
        second[EntityKind.ENROLLMENT] = [
            e for e in second[EntityKind.ENROLLMENT] if e.sourced_id in {"enr-t1", "enr-1", "enr-3"}
        ]  # enr-2 and enr-4 gone
        plan, run_id = sync(conn, district, second, now=SECOND)
        assert plan.entities[EntityKind.STUDENT].counts() == {
            "created": 0,
            "updated": 1,
            "restored": 1,
            "deactivated": 1,
            "unchanged": 0,
            "held": 0,
        }

        sid = ids(conn, district, EntityKind.STUDENT)
        eid = ids(conn, district, EntityKind.ENROLLMENT)
        rows = by_sourced_id(conn, district, EntityKind.STUDENT)
        assert {k: (r.active, r.grade, r.email) for k, r in rows.items()} == {
            "stu-1": (True, "06", "ada.reader@springfield.example"),
            "stu-2": (False, "05", "student2@springfield.example"),
            "stu-3": (True, "05", "student3@springfield.example"),
        }
        assert (rows["stu-1"].updated_at, rows["stu-1"].created_at) == (SECOND, FIRST)
        assert (rows["stu-2"].deactivated_at, rows["stu-2"].updated_at) == (SECOND, SECOND)
        assert (rows["stu-3"].deactivated_at, rows["stu-3"].updated_at) == (None, SECOND)
        assert rows["stu-1"].content_hash == second[EntityKind.STUDENT][0].content_hash()
        assert {
            k: r.active for k, r in by_sourced_id(conn, district, EntityKind.ENROLLMENT).items()
        } == {"enr-t1": True, "enr-1": True, "enr-2": False, "enr-3": True, "enr-4": False}

        def fields(*names: str) -> str:
            return json.dumps({"fields": list(names)})

        assert audit_of(conn, run_id) == {
            ("update", "student", sid["stu-1"], fields("email", "grade")),
            # Nothing about stu-3 changed while it was away: restored with no field changes.
            ("restore", "student", sid["stu-3"], fields()),
            # The end date set when it left is cleared: the source gave none.
            ("restore", "enrollment", eid["enr-3"], fields("end_date")),
            ("deactivate", "student", sid["stu-2"], "null"),
            ("deactivate", "enrollment", eid["enr-2"], "null"),
            ("deactivate", "enrollment", eid["enr-4"], "null"),
        }

    def test_a_deactivated_enrollment_ends_today_in_the_districts_time_zone(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        sync(conn, district, springfield(), now=FIRST)
        later = springfield()
        later[EntityKind.ENROLLMENT] = later[EntityKind.ENROLLMENT][:2]  # enr-2..4 leave
        sync(conn, district, later, now=FIRST)
        rows = by_sourced_id(conn, district, EntityKind.ENROLLMENT)
        assert {k: (r.active, r.end_date) for k, r in rows.items()} == {
            "enr-t1": (True, None),
            "enr-1": (True, None),
            "enr-2": (False, "2026-08-31"),  # FIRST is 31 August in Chicago
            "enr-3": (False, "2026-08-31"),
            "enr-4": (False, "2027-01-15"),  # an end date the source gave is kept
        }

    def test_an_explicit_removal_deactivates(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        sync(conn, district, springfield(), now=FIRST)
        later = springfield()
        later[EntityKind.CLASS] = [
            replace(later[EntityKind.CLASS][1], status=TO_BE_DELETED),
            later[EntityKind.CLASS][0],
        ]
        later[EntityKind.ENROLLMENT] = [
            e
            for e in later[EntityKind.ENROLLMENT]
            if isinstance(e, Enrollment) and e.class_sourced_id == "cls-1"
        ]
        sync(conn, district, later, now=SECOND)
        assert by_sourced_id(conn, district, EntityKind.CLASS)["cls-2"].active is False

    def test_eligibility_changes_update_with_before_and_after(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        sync(conn, district, springfield(), now=FIRST)
        later = springfield()
        later[EntityKind.STUDENT] = [
            student(1, eligibility_value="BVI"),
            student(2, school="sch-2"),  # field absent: left as it is
            student(3, eligibility_value="no"),  # unchanged
        ]
        _, run_id = sync(conn, district, later, now=SECOND)
        sid = ids(conn, district, EntityKind.STUDENT)
        assert stored_eligibility(conn, district)[sid["stu-1"]] == Eligibility(
            status=EligibilityStatus.ELIGIBLE, category="BVI"
        )
        assert audit_of(conn, run_id) == {
            (
                "eligibility",
                "student",
                sid["stu-1"],
                json.dumps(
                    {
                        "after": {"category": "BVI", "status": "eligible"},
                        "before": {"category": "RD", "status": "eligible"},
                        "source": "metadata.eligibility",
                    },
                    sort_keys=True,
                ),
            )
        }
        row = conn.execute(
            select(eligibility).where(eligibility.c.student_id == sid["stu-1"])
        ).one()
        assert (row.changed_at, row.changed_by) == (SECOND, f"sync run {run_id}")

    def test_an_identical_resync_writes_nothing(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        sync(conn, district, springfield(), now=FIRST)
        plan, run_id = sync(conn, district, springfield(), now=SECOND)
        assert plan.change_count == 0
        assert audit_of(conn, run_id) == set()

    def test_audit_rows_carry_no_names_or_emails(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        sync(conn, district, springfield(), now=FIRST)
        later = springfield()
        later[EntityKind.STUDENT][0] = student(
            1, given_name="Adaline", email="adaline@x.example", eligibility_value="RD"
        )
        sync(conn, district, later, now=SECOND)
        dumped = json.dumps([list(r) for r in conn.execute(select(audit_log.c.changes))])
        for personal in ("Ada", "Reader", "Grace", "@springfield.example", "adaline"):
            assert personal not in dumped


class TestReferences:
    """References the plan cannot resolve are looked up in bulk, never per record."""

    def test_a_kind_absent_from_the_plan_is_resolved_from_the_database(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        sync(conn, district, springfield(), now=FIRST)
        new = enrollment("enr-9", "stu-2", "cls-1")
        # Only enrollments arrive: classes and students must come from the store.
        sync(
            conn,
            district,
            {EntityKind.ENROLLMENT: [*springfield()[EntityKind.ENROLLMENT], new]},
            now=SECOND,
        )
        row = by_sourced_id(conn, district, EntityKind.ENROLLMENT)["enr-9"]
        assert row.class_id == ids(conn, district, EntityKind.CLASS)["cls-1"]
        assert row.student_id == ids(conn, district, EntityKind.STUDENT)["stu-2"]

    def test_a_reference_missing_from_the_plans_ids_is_looked_up(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        sync(conn, district, springfield(), now=FIRST)
        run_id = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
        write = PlannedWrite(
            id=str(uuid.uuid4()),
            record=enrollment("enr-9", "tch-1", "cls-2", role="teacher"),
            content_hash="h",
        )
        # The plan has (empty) entity plans for classes and educators, as a partial pull would.
        plan = SyncPlan(
            entities={
                EntityKind.CLASS: EntityPlan(kind=EntityKind.CLASS),
                EntityKind.EDUCATOR: EntityPlan(kind=EntityKind.EDUCATOR),
                EntityKind.ENROLLMENT: EntityPlan(kind=EntityKind.ENROLLMENT, creates=[write]),
            }
        )
        apply_plan(conn, district_id=district.id, run_id=run_id, plan=plan, actor="u-1", now=SECOND)
        row = conn.execute(select(enrollments).where(enrollments.c.id == write.id)).one()
        assert row.class_id == ids(conn, district, EntityKind.CLASS)["cls-2"]
        assert (row.educator_id, row.student_id) == (
            ids(conn, district, EntityKind.EDUCATOR)["tch-1"],
            None,
        )

    def test_an_enrollment_in_an_unknown_class_fails_the_apply(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        run_id = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
        write = PlannedWrite(id="e", record=enrollment("enr-x", "stu-x", "cls-x"), content_hash="h")
        plan = SyncPlan(
            entities={
                EntityKind.ENROLLMENT: EntityPlan(kind=EntityKind.ENROLLMENT, creates=[write])
            }
        )
        with pytest.raises(RosterSyncError, match="names a class the portal does not hold"):
            apply_plan(
                conn, district_id=district.id, run_id=run_id, plan=plan, actor="u", now=FIRST
            )

    def test_the_same_sourced_ids_in_two_districts_stay_apart(
        self, conn: Connection, district: DistrictRecord, make_district: Any
    ) -> None:
        other = make_district(slug="shelbyville")
        sync(conn, district, springfield(), now=FIRST)
        sync(conn, other, springfield(), now=FIRST)
        mine, theirs = ids(conn, district, EntityKind.CLASS), ids(conn, other, EntityKind.CLASS)
        assert mine.keys() == theirs.keys() and not set(mine.values()) & set(theirs.values())
        row = conn.execute(select(classes).where(classes.c.id == theirs["cls-1"])).one()
        assert row.school_id == ids(conn, other, EntityKind.ORG)["sch-1"]


class TestLoadIndex:
    """The planning index holds sourced accounts only and knows which were rostered by hand."""

    def test_hand_made_accounts(self, conn: Connection, district: DistrictRecord) -> None:
        sync(conn, district, springfield(), now=FIRST)
        base = {
            "district_id": district.id,
            "username": "m",
            "given_name": "M",
            "family_name": "M",
            "school_sourced_ids": [],
            "created_at": FIRST,
            "updated_at": FIRST,
        }
        conn.execute(
            insert(students),
            [
                {**base, "id": "manual-1", "sourced_id": None, "manually_rostered": True},
                {**base, "id": "manual-2", "sourced_id": "stu-m", "manually_rostered": True},
            ],
        )
        index = load_index(conn, district.id, EntityKind.STUDENT)
        assert set(index) == {"stu-1", "stu-2", "stu-3", "stu-m"}
        assert index["stu-m"] == StoredRecord(
            id="manual-2", sourced_id="stu-m", content_hash="", active=True, manually_rostered=True
        )
        assert not any(s.manually_rostered for sid, s in index.items() if sid != "stu-m")

    def test_lookups_by_id_list_read_the_same_as_the_whole_index(
        self,
        conn: Connection,
        district: DistrictRecord,
        make_district: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Chunks of two, so the three students and the unknown ids span several queries.
        monkeypatch.setattr(roster_store, "LOOKUP_CHUNK", 2)
        sync(conn, district, springfield(), now=FIRST)
        other = make_district(slug="shelbyville")
        sync(conn, other, springfield(), now=FIRST)
        for kind in (EntityKind.STUDENT, EntityKind.ENROLLMENT):
            whole = load_index(conn, district.id, kind)
            wanted = [*whole, "nobody", 'it\'s "quoted"']
            # Nothing here was rostered by hand, the one thing a lookup does not read.
            assert lookup_index(conn, district.id, kind, wanted) == whole
        current = stored_eligibility(conn, district)
        assert len(current) == 3
        asked = [*current, "no-such-student"]
        assert lookup_eligibility(conn, district.id, asked) == current
        # Another district's ids are never found through this one.
        theirs = stored_eligibility(conn, other)
        assert lookup_eligibility(conn, district.id, list(theirs)) == {}
