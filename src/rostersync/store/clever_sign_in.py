"""The districts a Clever sign-in may land in: those whose roster comes from Clever.

A Clever district keeps its Clever district id sealed as its source key (decision 0018), so it
cannot be looked up by that id in SQL: the sign-in reads the few Clever districts and opens each
one's key through `districts.get_credentials`, the one way a key leaves the database. Every
function takes a `Connection` whose transaction the caller owns.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from rostersync.errors import ConfigError, NotFoundError
from rostersync.store.districts import get_credentials
from rostersync.store.secrets import SecretBox
from rostersync.store.tables import districts, integrations
from rostersync.store.web import SignInDistrict

_DISTRICTS_OF_KIND = (
    select(
        districts.c.id,
        districts.c.display_name,
        districts.c.status,
        districts.c.classlink_tenant_id,
    )
    .join(integrations, integrations.c.district_id == districts.c.id)
    .where(integrations.c.source_kind == bindparam("kind"))
    .order_by(districts.c.display_name)
)


def districts_of_kind(conn: Connection, kind: str) -> list[SignInDistrict]:
    """Every district whose integration reads from `kind`, whatever its status."""
    rows = conn.execute(_DISTRICTS_OF_KIND, {"kind": kind})
    return [SignInDistrict(**r._mapping) for r in rows]


def provider_district_id(conn: Connection, box: SecretBox, district_id: str) -> str | None:
    """The district's id at its provider (its source key, opened), or None when unreadable."""
    try:
        key, _ = get_credentials(conn, box, district_id)
    except (ConfigError, NotFoundError):  # CredentialNotForSource is a ConfigError
        return None
    return key.strip() or None


__all__ = ["districts_of_kind", "provider_district_id"]
