"""Data protection on SQLite and PostgreSQL: an append-only audit log, one student's export, and
the contract-end purge that removes one district and nothing else (security.md §5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from rostersync.errors import ConfigError, NotFoundError
from rostersync.services import Questionnaire, Services
from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.store import privacy
from rostersync.store.tables import audit_log, districts, enrollments, students

SECRET = "privacy-secret-7Qw"


@pytest.fixture
def two_districts(portal: Services) -> Iterator[Services]:
    tenants = [
        Tenant(
            name=slug,
            data=generate_district(students=40, seed=seed, tenant=slug),
            key=f"{slug}-key",
            secret=SECRET,
        )
        for slug, seed in (("springfield", 5), ("shelbyville", 6))
    ]
    with SimulatorServer(tenants) as server:
        for tenant in tenants:
            portal.districts.add(
                Questionnaire(
                    slug=tenant.name,
                    name=f"{tenant.name.title()} USD",
                    display_name=f"{tenant.name.title()} USD – {tenant.name.title()}, IL",
                    city=tenant.name.title(),
                    state="IL",
                    source_url=server.base_url(tenant.name),
                    key=tenant.key,
                    secret=SECRET,
                )
            )
            assert portal.runs.sync(tenant.name).status == "succeeded"
        yield portal


def district_rows(portal: Services, district_id: str) -> dict[str, int]:
    """Rows of the district in every district-scoped table (the schema says which)."""
    with portal.engine.connect() as conn:
        counts = {
            name: conn.execute(
                select(func.count()).select_from(table).where(scope(district_id))
            ).scalar_one()
            for name, (table, scope) in privacy.district_scopes().items()
        }
        counts["districts"] = conn.execute(
            select(func.count()).select_from(districts).where(districts.c.id == district_id)
        ).scalar_one()
    return counts


class TestAppendOnlyAudit:
    def test_no_audit_row_can_be_changed_or_deleted(self, two_districts: Services) -> None:
        with two_districts.engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        assert before > 0
        for statement in (update(audit_log).values(actor="someone else"), delete(audit_log)):
            with pytest.raises(DBAPIError, match="append-only"), two_districts.engine.begin() as c:
                c.execute(statement)
        with two_districts.engine.connect() as conn:
            after = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
            changed = conn.execute(
                select(func.count())
                .select_from(audit_log)
                .where(audit_log.c.actor == "someone else")
            ).scalar_one()
        assert after == before
        assert changed == 0


class TestStudentExport:
    def test_the_export_covers_every_table_that_refers_to_the_student(
        self, two_districts: Services
    ) -> None:
        with two_districts.engine.connect() as conn:
            student_id, sourced_id = conn.execute(
                select(students.c.id, students.c.sourced_id)
                .join(enrollments, enrollments.c.student_id == students.c.id)
                .join(districts, districts.c.id == students.c.district_id)
                .where(districts.c.slug == "springfield")
                .limit(1)
            ).one()
        export = two_districts.privacy.export_student(
            "springfield", sourced_id, actor="staff:privacy"
        )
        tables = export["tables"]
        assert export["student_id"] == student_id
        # Every table with a reference to a student is in the export, by the schema's own account:
        # a foreign key to a student, or a (person_kind, person_id) pair.
        assert referring_to_students() <= set(tables)
        assert [row["id"] for row in tables["students"]] == [student_id]
        assert tables["enrollments"], "an enrolled student's enrollments are exported"
        assert all(row["student_id"] == student_id for row in tables["enrollments"])
        assert any(row["action"] == "create" for row in tables["audit_log"])
        # The export is itself audited; a second export shows the first.
        again = two_districts.privacy.export_student(
            "springfield", student_id, actor="staff:privacy"
        )
        assert any(
            row["action"] == "export" and row["actor"] == "staff:privacy"
            for row in again["tables"]["audit_log"]
        )

    def test_a_student_of_another_district_is_not_found(self, two_districts: Services) -> None:
        with two_districts.engine.connect() as conn:
            # sourcedIds repeat across districts; the portal id never does.
            other = conn.execute(
                select(students.c.id)
                .join(districts, districts.c.id == students.c.district_id)
                .where(districts.c.slug == "shelbyville")
                .limit(1)
            ).scalar_one()
        with pytest.raises(NotFoundError, match="no student"):
            two_districts.privacy.export_student("springfield", other, actor="staff:privacy")


class TestPurge:
    def test_a_purge_removes_one_district_everywhere_and_keeps_the_other(
        self, two_districts: Services
    ) -> None:
        portal = two_districts
        gone = portal.districts.get("springfield")[0].id
        kept = portal.districts.get("shelbyville")[0].id
        kept_before = district_rows(portal, kept)
        # A data manager of the district goes with it; one of the other district stays.
        for slug in ("springfield", "shelbyville"):
            portal.staff.add_staff(
                email=f"dm@{slug}.example",
                display_name="Dana Manager",
                role="data_manager",
                password="a long passphrase for tests",
                district=slug,
            )
        kept_before = district_rows(portal, kept)
        gone_before = district_rows(portal, gone)
        assert gone_before["staff_accounts"] == 1
        assert gone_before["students"] > 0
        pushed = portal.settings.data_dir / "pushed" / gone
        pushed.mkdir(parents=True)
        (pushed / "bundle.zip").write_bytes(b"PK")

        disposal = portal.privacy.purge_district(
            "springfield", confirm="springfield", actor="staff:1", reason="contract ended"
        )

        assert set(district_rows(portal, gone).values()) == {0}
        assert district_rows(portal, kept) == kept_before
        assert not pushed.exists()
        # The disposal record counts exactly what was there, and the purge's own sync lock.
        assert disposal.rows == {name: n for name, n in gone_before.items() if n} | {
            "sync_locks": 1
        }
        assert disposal.rows["audit_log"] > 0
        assert disposal.files == {"pushed bundles": 1}
        [recorded] = portal.privacy.disposals()
        assert (recorded.district_slug, recorded.actor, recorded.reason) == (
            "springfield",
            "staff:1",
            "contract ended",
        )
        assert recorded.rows == disposal.rows
        with pytest.raises(NotFoundError):
            portal.districts.get("springfield")
        # The permit went with the purge: the kept district's audit rows are still protected.
        with pytest.raises(DBAPIError, match="append-only"), portal.engine.begin() as conn:
            conn.execute(delete(audit_log).where(audit_log.c.district_id == kept))

    def test_a_wrong_confirmation_removes_nothing(self, two_districts: Services) -> None:
        district_id = two_districts.districts.get("springfield")[0].id
        before = district_rows(two_districts, district_id)
        with pytest.raises(ConfigError, match="confirm with its slug 'springfield'"):
            two_districts.privacy.purge_district(
                "springfield", confirm="shelbyville", actor="staff:1", reason="typo"
            )
        assert district_rows(two_districts, district_id) == before
        assert two_districts.privacy.disposals() == []


def referring_to_students() -> set[str]:
    """The name of every table of the schema (but `students`) that can refer to a student."""
    from rostersync.store import schema

    return {
        table.name
        for table in schema.metadata.sorted_tables
        if table is not students
        and (
            any(fk.column is students.c.id for fk in table.foreign_keys)
            or {"person_kind", "person_id"} <= set(table.c.keys())
        )
    }


def test_every_table_that_names_a_district_is_in_the_purge_scope() -> None:
    """A feature's new table with a district_id column cannot be forgotten by the purge."""
    from rostersync.store import schema

    scoped = set(privacy.district_scopes())
    named: set[Any] = {t.name for t in schema.metadata.sorted_tables if "district_id" in t.c} - {
        "disposals",
        "audit_purge_permits",
    }
    assert named <= scoped
    assert {"enrollments", "eligibility", "audit_log", "validation_issues"} <= scoped
