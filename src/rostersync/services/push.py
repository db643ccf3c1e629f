"""Pushed OneRoster bundles: a district's push key, taking a bundle, syncing it, retention.

Push credentials are ours to issue: the district sends them as HTTP Basic to
`POST /api/v1/districts/<slug>/bundles` (rostersync.web.push); see rostersync.store.push.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import structlog
from sqlalchemy.exc import IntegrityError

from rostersync.errors import BundlePushRefused, ConfigError, NotFoundError, SyncInProgress
from rostersync.oneroster.bundle import Bundle
from rostersync.services.context import ServiceContext
from rostersync.services.pushed_sources import pushed_folder
from rostersync.services.runs import Runs
from rostersync.store import districts as store_districts
from rostersync.store import push as store_push
from rostersync.store import push_files
from rostersync.store import workflow as store_workflow
from rostersync.sync.bundle_source import BundleSource, limits_for

_log = structlog.get_logger(__name__)


class BundleQueue(Protocol):
    """Where an accepted bundle's sync is sent (the job queue, `rostersync.jobs.queue`)."""

    def enqueue_bundle(self, bundle_id: str) -> None: ...


class Pushes:
    """Districts that push their roster to us as OneRoster bundles."""

    def __init__(self, context: ServiceContext, runs: Runs) -> None:
        self._context = context
        self._engine = context.engine
        self._runs = runs
        self._queue: BundleQueue | None = None
        self._queue_factory: Callable[[], BundleQueue] | None = None

    # Push keys ---------------------------------------------------------------------------------
    def issue_credentials(self, slug: str, actor: str) -> tuple[str, str]:
        """Issue the key and secret a district pushes OneRoster bundles with.

        The secret is returned once and stored only encrypted; show it to the person now.

        Returns:
            (key id, secret).

        Raises:
            NotFoundError: No such district.
            ConfigError: The district already has a push key (rotate it instead).
        """
        return self._change_key(slug, actor, rotate=False)

    def rotate_credentials(self, slug: str, actor: str) -> tuple[str, str]:
        """Replace a district's push key and secret; the old ones stop working at once.

        Returns:
            (new key id, new secret), shown once.

        Raises:
            NotFoundError: No such district, or it has no push key yet (issue one first).
        """
        return self._change_key(slug, actor, rotate=True)

    def check_credentials(
        self, slug: str, key_id: str, secret: str
    ) -> store_districts.DistrictRecord | None:
        """The district named `slug`, if `key_id` and `secret` are its current push key; else
        None, whatever was wrong (unknown district, unknown key, another district's key, an old
        or wrong secret), so a caller learns nothing about which part failed."""
        with self._engine.connect() as conn:
            owner = store_push.district_for(conn, self._context.box, key_id, secret)
            if owner is None:
                return None
            try:
                district = store_districts.get_district(conn, slug)
            except NotFoundError:
                return None
        return district if district.id == owner else None

    def key(self, slug_or_id: str) -> store_push.PushKey | None:
        """The district's push key id and dates, or None; never the secret."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_push.get_key(conn, district.id)

    def _change_key(self, slug: str, actor: str, *, rotate: bool) -> tuple[str, str]:
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            district = store_districts.get_district(conn, slug)
            change = store_push.rotate if rotate else store_push.issue
            key_id, secret = change(
                conn, self._context.box, district.id, slug=district.slug, now=now
            )
            # The key id is public; the secret never reaches the audit log or a log line.
            store_workflow.audit(
                conn,
                district_id=district.id,
                run_id=None,
                actor=actor,
                action="push_key_rotated" if rotate else "push_key_issued",
                entity_type="push_credentials",
                entity_id=district.id,
                changes={"key_id": key_id},
                now=now,
            )
        _log.info("push_key.rotated" if rotate else "push_key.issued", district_id=district.id)
        return key_id, secret

    # The queue the bundles' syncs go to --------------------------------------------------------
    def use_queue(self, queue: BundleQueue) -> None:
        """Send pushed bundles to this queue (tests and the demo pass one in immediate mode)
        instead of one built on first use by `build_queue_with`."""
        self._queue = queue

    def build_queue_with(self, factory: Callable[[], BundleQueue]) -> None:
        """Build the queue for pushed bundles with `factory` on first use. The composition
        point passes one (`cli.common.service`, the demo), so no service imports the job
        queue itself."""
        self._queue_factory = factory

    def _jobs(self) -> BundleQueue:
        if self._queue is None:
            if self._queue_factory is None:
                raise ConfigError(
                    "this process has no job queue for pushed bundles: serve the portal with "
                    "`rostersync serve`, which connects the queue the settings name"
                )
            self._queue = self._queue_factory()
        return self._queue

    # Bundles -----------------------------------------------------------------------------------
    def accept(
        self, slug_or_id: str, upload: Path, *, sha256: str, actor: str
    ) -> store_push.PushedBundle:
        """Take a bundle a district pushed: check it whole, keep it, and queue its sync.

        The file at `upload` (written by the caller in the district's push folder) is read
        through once: manifest, required files, headers, encodings and row widths. A refused
        bundle is deleted and nothing is recorded; an accepted one is kept sealed
        (`data_dir/pushed/<district id>/`, decision 0022), recorded as queued, and sent to the
        job queue after the commit.

        Only one bundle per district waits at a time: while one is queued or running, another
        push is refused (`BundlePushRefused`), so a retrying client cannot pile up syncs of
        stale files; the district pushes again once the status URL says it finished.

        Args:
            slug_or_id: The district (already authenticated by the caller).
            upload: The received zip, inside `bundle_dir(district)`.
            sha256: Its SHA-256, hex, computed while it was received.
            actor: Who pushed (the push key id), for the audit log.

        Returns:
            The recorded bundle, as it is after queueing (in immediate mode, after its sync).

        Raises:
            BundleError: The bundle is refused; `.file` and `.line` say where.
            BundlePushRefused: A bundle of the district is still queued or running, or the job
                queue cannot be reached.
        """
        try:
            with self._engine.connect() as conn:
                district = store_districts.get_district(conn, slug_or_id)
                waiting = store_push.unfinished_bundle(conn, district.id)
            if waiting is not None:
                raise BundlePushRefused(
                    f"bundle {waiting.id} of this district is still {waiting.status}; wait until "
                    f"GET /api/v1/districts/{district.slug}/bundles/{waiting.id} says it "
                    "finished, then push again",
                    bundle_id=waiting.id,
                    busy=True,
                )
            limits = limits_for(self._context.settings)
            with Bundle(upload, limits=limits, name="the bundle") as bundle:
                for _record in bundle.records():
                    pass
            bundle_id = store_push.new_bundle_id()
            size = upload.stat().st_size
            # Kept encrypted with the key ring (store.push_files, decision 0022).
            folder = self.bundle_dir(district.id)
            final = push_files.keep(self._context.box, upload, folder, bundle_id)
        finally:
            upload.unlink(missing_ok=True)
        now = datetime.now(UTC)
        try:
            with self._engine.begin() as conn:
                store_push.insert_bundle(
                    conn,
                    bundle_id=bundle_id,
                    district_id=district.id,
                    sha256=sha256,
                    size=size,
                    now=now,
                )
                store_workflow.audit(
                    conn,
                    district_id=district.id,
                    run_id=None,
                    actor=actor,
                    action="bundle_pushed",
                    entity_type="pushed_bundle",
                    entity_id=bundle_id,
                    changes={"sha256": sha256, "size": size},
                    now=now,
                )
        except IntegrityError:
            # Another push of this district was accepted meanwhile (one waiting bundle each).
            final.unlink(missing_ok=True)
            with self._engine.connect() as conn:
                other = store_push.unfinished_bundle(conn, district.id)
            raise BundlePushRefused(
                "another bundle of this district was pushed at the same moment and is queued; "
                "wait until it finished, then push again",
                bundle_id=other.id if other is not None else bundle_id,
                busy=True,
            ) from None
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        _log.info("push.accepted", district_id=district.id, bundle_id=bundle_id, size=size)
        try:
            self._jobs().enqueue_bundle(bundle_id)
        except Exception as exc:
            with self._engine.begin() as conn:
                store_push.set_status(
                    conn,
                    bundle_id,
                    "failed",
                    now=datetime.now(UTC),
                    error="the job queue could not be reached; push the bundle again",
                )
            _log.error("push.not_queued", bundle_id=bundle_id, error_type=type(exc).__name__)
            raise BundlePushRefused(
                "the bundle was received but could not be queued (the job queue is "
                "unreachable); push it again in a few minutes",
                bundle_id=bundle_id,
                busy=False,
            ) from None
        return self.bundle(district.id, bundle_id)

    def bundle(self, slug_or_id: str, bundle_id: str) -> store_push.PushedBundle:
        """A bundle the district pushed.

        Raises:
            NotFoundError: No such district, or no such bundle of that district.
        """
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_push.get_bundle(conn, bundle_id, district_id=district.id)

    def bundle_dir(self, district_id: str) -> Path:
        """Where a district's pushed bundles are kept (made on first use, owner-only)."""
        return pushed_folder(self._context.settings, district_id)

    def sync_bundle(self, bundle_id: str) -> store_push.PushedBundle:
        """Sync a district from a bundle it pushed (the queue's task); at most once per bundle.

        A bundle that is no longer queued (a duplicate queue message) is left alone. The run's
        outcome becomes the bundle's: succeeded, held or failed.

        Returns:
            The bundle afterwards.

        Raises:
            SyncInProgress: Another sync of the district is running; the bundle stays queued
                for the caller to retry.
        """
        with self._engine.begin() as conn:
            bundle = store_push.get_bundle(conn, bundle_id)
            if not store_push.claim(conn, bundle_id):
                return bundle
        folder = self.bundle_dir(bundle.district_id)
        stored = push_files.stored(self._context.box, folder, bundle.id)
        source = BundleSource(stored, limits=limits_for(self._context.settings))
        try:
            report = self._runs.sync(bundle.district_id, trigger="push", source=source)
        except SyncInProgress:
            with self._engine.begin() as conn:
                store_push.release(conn, bundle_id)
            raise
        except Exception as exc:
            with self._engine.begin() as conn:
                store_push.set_status(
                    conn,
                    bundle_id,
                    "failed",
                    now=datetime.now(UTC),
                    error=f"the sync stopped unexpectedly ({type(exc).__name__})",
                )
            raise
        finally:
            source.close()  # the clear copy of the sealed bundle goes as soon as the run ends
        status = report.status if report.status in ("succeeded", "held") else "failed"
        with self._engine.begin() as conn:
            store_push.set_status(
                conn,
                bundle_id,
                status,
                now=datetime.now(UTC),
                run_id=report.run_id,
                error=(report.error or report.reason) if status == "failed" else None,
            )
            return store_push.get_bundle(conn, bundle_id)

    def expire(self, *, now: datetime | None = None) -> push_files.Expired:
        """Delete pushed bundles past `pushed_bundle_retention_days`."""
        return push_files.expire(
            self._context.engine,
            self._context.box,
            self._context.settings.data_dir,
            retention_days=self._context.settings.pushed_bundle_retention_days,
            now=now or datetime.now(UTC),
        )
