"""Where pushed bundles live on disk, sealed, and how long (docs/decisions/0022-bundles-at-rest.md).

A district's accepted bundles are kept under `data_dir/pushed/<district id>/` (0700) as
`<bundle id>.zip.sealed` (0600, encrypted by `store.bundle_vault` with the service's key ring).
A bundle accepted before bundles were sealed (`<bundle id>.zip`) is still read, and is sealed by
the next retention sweep. After `pushed_bundle_retention_days` a finished bundle's file is
deleted (its row stays: id, checksum, size and outcome hold no personal data), each deletion is
written to the audit log, and a district whose newest bundle is gone is told to push again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from rostersync.store import push as store_push
from rostersync.store import workflow as store_workflow
from rostersync.store.bundle_vault import SEALED_SUFFIX, Unsealed, seal, sweep_folder
from rostersync.store.private_files import private_dir
from rostersync.store.secrets import SecretBox

__all__ = ["Expired", "district_folder", "expire", "has_bundle", "keep", "stored"]

ACTOR = "retention"


def district_folder(data_dir: Path, district_id: str) -> Path:
    """A district's push folder (made on first use, owner-only)."""
    return private_dir(data_dir / "pushed" / district_id)


def keep(box: SecretBox, upload: Path, folder: Path, bundle_id: str) -> Path:
    """Seal a checked upload into place as bundle `bundle_id`, and delete the clear upload.

    Returns:
        The sealed file's path.
    """
    sealed = folder / f"{bundle_id}{SEALED_SUFFIX}"
    try:
        seal(upload, sealed, box, label=bundle_id)
    finally:
        upload.unlink(missing_ok=True)
    return sealed


def has_bundle(folder: Path, bundle_id: str) -> bool:
    """Whether bundle `bundle_id`'s file is still kept (sealed, or clear from before sealing)."""
    return (folder / f"{bundle_id}{SEALED_SUFFIX}").is_file() or (
        folder / f"{bundle_id}.zip"
    ).is_file()


def stored(box: SecretBox, folder: Path, bundle_id: str) -> Unsealed | Path:
    """Bundle `bundle_id` to read: an `Unsealed` that decrypts it on first use, or the clear
    file of a bundle accepted before bundles were sealed."""
    sealed = folder / f"{bundle_id}{SEALED_SUFFIX}"
    legacy = folder / f"{bundle_id}.zip"
    if not sealed.is_file() and legacy.is_file():
        return legacy
    return Unsealed(sealed, box, label=bundle_id)


@dataclass(slots=True)
class Expired:
    """What one retention sweep did."""

    deleted: dict[str, list[str]] = field(default_factory=dict)  # district id → bundle ids
    sealed: int = 0  # clear bundles from before sealing, sealed now
    leftovers: int = 0  # working files left by a crash

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.deleted.values())


def expire(
    engine: Engine, box: SecretBox, data_dir: Path, *, retention_days: int, now: datetime
) -> Expired:
    """Delete the files of finished bundles older than `retention_days`, seal clear ones that
    are younger, and remove working files a crash left behind.

    A bundle still queued or running is never touched, however old.
    """
    done = Expired()
    root = data_dir / "pushed"
    if not root.is_dir():
        return done
    with engine.connect() as conn:
        old = store_push.bundles_received_before(conn, now - timedelta(days=retention_days))
        waiting = store_push.unfinished_ids(conn)
    by_district: dict[str, set[str]] = {}
    for bundle in old:
        by_district.setdefault(bundle.district_id, set()).add(bundle.id)
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        expired = by_district.get(folder.name, set())
        swept = sweep_folder(folder, expired=expired, keep=waiting, now=now)
        done.leftovers += swept.leftovers
        if swept.bundles:
            done.deleted[folder.name] = list(swept.bundles)
        for legacy in sorted(folder.glob("*.zip")):
            bundle_id = legacy.name.removesuffix(".zip")
            if bundle_id in waiting or legacy.name.startswith("."):
                continue
            keep(box, legacy, folder, bundle_id)
            done.sealed += 1
    if done.deleted:
        with engine.begin() as conn:
            for district_id, ids in done.deleted.items():
                for bundle_id in ids:
                    store_workflow.audit(
                        conn,
                        district_id=district_id,
                        run_id=None,
                        actor=ACTOR,
                        action="bundle_expired",
                        entity_type="pushed_bundle",
                        entity_id=bundle_id,
                        changes={"retention_days": retention_days},
                        now=now,
                    )
    return done
