"""Privacy: everything held about one student, and a district's purge at contract end."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from typing import TypedDict

import structlog

from rostersync.errors import ConfigError
from rostersync.services.context import ServiceContext
from rostersync.store import districts as store_districts
from rostersync.store import locks, privacy
from rostersync.store import workflow as store_workflow

_log = structlog.get_logger(__name__)


class StudentExport(TypedDict):
    """One student's data: the district, the student's portal id, and every row by table."""

    district: str
    student_id: str
    tables: dict[str, list[dict[str, object]]]


class Privacy:
    """What a district or a family may ask of the data we hold."""

    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._engine = context.engine

    def export_student(self, slug_or_id: str, student: str, *, actor: str) -> StudentExport:
        """Everything held about one student (portal id or sourcedId), for an access request.

        The export itself is audited (who exported whom, never what).

        Raises:
            NotFoundError: No such district, or no such student in it.
        """
        with self._engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            export = privacy.export_student(conn, district_id=district.id, student=student)
            store_workflow.audit(
                conn,
                district_id=district.id,
                run_id=None,
                actor=actor,
                action="export",
                entity_type="student",
                entity_id=export["student_id"],
                changes=None,
                now=datetime.now(UTC),
            )
        return StudentExport(
            district=district.slug, student_id=export["student_id"], tables=export["tables"]
        )

    def purge_district(
        self, slug_or_id: str, *, confirm: str, actor: str, reason: str
    ) -> privacy.Disposal:
        """Remove every trace of a district (contract end, or its written request), in one
        transaction, and keep a disposal record (`store.privacy.Disposal`) of what went.

        Args:
            slug_or_id: The district.
            confirm: The district's slug again, typed by the person: a guard against the wrong
                district.
            actor: Who asked.
            reason: Why (kept in the disposal record).

        Raises:
            ConfigError: `confirm` is not the district's slug; nothing is removed.
            SyncInProgress: A sync of the district is running; purge when it has finished.
        """
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            if confirm != district.slug:
                raise ConfigError(
                    f"to purge {district.display_name}, confirm with its slug {district.slug!r}; "
                    "nothing was removed"
                )
            # Holding the district's sync lock keeps a sync from writing while its rows go; a
            # dead sync's lock is taken over (store.locks).
            locks.take_for_transaction(
                conn,
                district_id=district.id,
                run_id=f"purge-{now:%Y%m%dT%H%M%S}",
                holder=f"purge by {actor}",
                now=now,
                ttl=timedelta(hours=1),
            )
            folders = [self._context.settings.data_dir / "pushed" / district.id]
            files = {
                str(folder.name): sum(1 for f in folder.rglob("*") if f.is_file())
                for folder in folders
                if folder.exists()
            }
            disposal = privacy.purge_district(
                conn,
                district_id=district.id,
                actor=actor,
                reason=reason,
                now=now,
                files={"pushed bundles": sum(files.values())},
            )
        # After the commit: a failed purge never loses files whose rows are still there.
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        _log.info("district.purged", district_id=district.id, rows=disposal.total_rows)
        return disposal

    def disposals(self) -> list[privacy.Disposal]:
        """Every district purge ever made, newest first (`store.privacy.Disposal`)."""
        with self._engine.connect() as conn:
            return privacy.list_disposals(conn)
