"""The push store on SQLite and PostgreSQL: one waiting bundle per district, claims, newest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from tests.integration.conftest import DistrictMaker

from rostersync.store import push as store_push

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def add(conn: Connection, district_id: str, at: datetime) -> str:
    bundle_id = store_push.new_bundle_id()
    store_push.insert_bundle(
        conn, bundle_id=bundle_id, district_id=district_id, sha256="0" * 64, size=10, now=at
    )
    return bundle_id


class TestOneWaitingBundle:
    """The database refuses a second queued or running bundle for the same district."""

    def test_a_second_waiting_bundle_is_refused(
        self, conn: Connection, make_district: DistrictMaker
    ) -> None:
        ogden = make_district(slug="ogden").id
        provo = make_district(slug="provo").id
        first = add(conn, ogden, NOW)
        add(conn, provo, NOW)  # another district is independent
        savepoint = conn.begin_nested()
        with pytest.raises(IntegrityError):
            add(conn, ogden, NOW + timedelta(seconds=1))
        savepoint.rollback()
        assert store_push.claim(conn, first)
        savepoint = conn.begin_nested()
        with pytest.raises(IntegrityError):  # running still counts as waiting
            add(conn, ogden, NOW + timedelta(seconds=1))
        savepoint.rollback()
        store_push.set_status(conn, first, "succeeded", now=NOW, run_id=None)
        second = add(conn, ogden, NOW + timedelta(seconds=2))
        newest = store_push.newest_bundle(conn, ogden)
        assert newest is not None and newest.id == second
        assert store_push.unfinished_bundle(conn, ogden) == newest


class TestClaim:
    """A bundle is claimed once; a duplicate message finds it taken; a busy district puts it
    back."""

    def test_claim_release_and_finish(self, conn: Connection, make_district: DistrictMaker) -> None:
        ogden = make_district(slug="ogden").id
        bundle_id = add(conn, ogden, NOW)
        assert store_push.claim(conn, bundle_id)
        assert not store_push.claim(conn, bundle_id)
        store_push.release(conn, bundle_id)
        assert store_push.get_bundle(conn, bundle_id).status == "queued"
        assert store_push.claim(conn, bundle_id)
        store_push.set_status(conn, bundle_id, "failed", now=NOW, error="the sync stopped")
        found = store_push.get_bundle(conn, bundle_id, district_id=ogden)
        assert (found.status, found.error, found.finished_at) == ("failed", "the sync stopped", NOW)
        assert not store_push.claim(conn, bundle_id)
        with pytest.raises(ValueError, match="not one of"):
            store_push.set_status(conn, bundle_id, "lost", now=NOW)
