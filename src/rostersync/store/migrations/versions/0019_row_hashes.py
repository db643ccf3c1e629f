"""row hashes: the source row each class and person was last written from.

Revision ID: 0019_row_hashes
Revises: 0018_event_cursors

A resync knows a classes.csv or users.csv row unchanged from its hash when the portal's record
was written from a row with that hash and is still as written (docs/decisions/0046). Two
nullable columns on classes, students and educators; the previous release keeps working against
the upgraded schema (it never reads them, and a record it changes no longer matches the content
hash its row hash was stored with, so that row is read again).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_row_hashes"
down_revision = "0018_event_cursors"
branch_labels = None
depends_on = None

TABLES = ("classes", "students", "educators")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("row_hash", sa.String(16), nullable=True))
        op.add_column(table, sa.Column("row_hash_of", sa.String(32), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        # Not a batch (a copy of the table): SQLite cannot reflect the lower(email) index a copy
        # of students or educators would have to rebuild. Both databases drop a column in place.
        op.execute(f"ALTER TABLE {table} DROP COLUMN row_hash_of")
        op.execute(f"ALTER TABLE {table} DROP COLUMN row_hash")
