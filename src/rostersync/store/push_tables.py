"""Tables for the push feature; they share the one `metadata` of `rostersync.store.tables`.

`push_credentials` holds one row per district that pushes OneRoster CSV bundles to us: the public
key id we issued and the secret, encrypted with the service's `SecretBox` (never in clear). A
rotation replaces the row's secret in place, so the old secret stops working at once.

`pushed_bundles` records every bundle a district pushed: where it is in its life (queued,
running, succeeded, failed, held) and the sync run that read it. The zip itself lives on disk
under `data_dir/pushed/<district id>/<bundle id>.zip`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, Text, text

from rostersync.store.tables import ID, UtcDateTime, metadata

KEY_ID = 64

push_credentials = Table(
    "push_credentials",
    metadata,
    Column("district_id", String(ID), ForeignKey("districts.id"), primary_key=True),
    # Public: sent as the HTTP Basic user name, shown in the admin pages and the audit log.
    Column("key_id", String(KEY_ID), nullable=False, unique=True),
    # Fernet token of the secret; compared in constant time after decryption.
    Column("secret_ciphertext", Text, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("rotated_at", UtcDateTime, nullable=True),
)

pushed_bundles = Table(
    "pushed_bundles",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("district_id", String(ID), ForeignKey("districts.id"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    # queued, running, succeeded, failed, held or (a held one, by a person) discarded.
    Column("status", String(16), nullable=False),
    Column("run_id", String(ID), ForeignKey("sync_runs.id"), nullable=True),
    # Why a bundle's sync failed, without personal data (the run's own error, or the queue's).
    Column("error", Text, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Index(None, "district_id", "received_at"),
    # At most one bundle per district waits (queued or running), enforced by the database so
    # two pushes at the same instant cannot both be accepted.
    Index(
        "ix_pushed_bundles_one_waiting",
        "district_id",
        unique=True,
        sqlite_where=text("status IN ('queued', 'running')"),
        postgresql_where=text("status IN ('queued', 'running')"),
    ),
)

__all__ = ["metadata", "push_credentials", "pushed_bundles"]
