"""The roster a pushing district sent: its bundles as sources of a run."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Connection

from rostersync.config import Settings
from rostersync.errors import ConfigError
from rostersync.services.context import ServiceContext
from rostersync.store import push as store_push
from rostersync.store import push_files
from rostersync.store.districts import DistrictRecord
from rostersync.sync.bundle_source import BundleSource, limits_for


def pushed_folder(settings: Settings, district_id: str) -> Path:
    """Where a district's pushed bundles are kept (made on first use, owner-only)."""
    return push_files.district_folder(settings.data_dir, district_id)


def newest_pushed_source(
    context: ServiceContext, conn: Connection, district: DistrictRecord
) -> BundleSource:
    """A push district's roster: the newest bundle it pushed.

    Raises:
        ConfigError: Nothing was pushed yet, or the newest bundle is past its retention.
    """
    newest = store_push.newest_bundle(conn, district.id)
    folder = context.settings.data_dir / "pushed" / district.id
    if newest is None or not push_files.has_bundle(folder, newest.id):
        raise ConfigError(
            f"{district.display_name} pushes its roster, and no bundle has been pushed yet "
            "(or its newest was deleted after the retention period); "
            f"push one to POST /api/v1/districts/{district.slug}/bundles"
        )
    stored = push_files.stored(context.box, folder, newest.id)
    return BundleSource(stored, limits=limits_for(context.settings))
