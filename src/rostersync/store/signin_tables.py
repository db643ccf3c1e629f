"""Tables for data-manager sign-in; they share the one `metadata` of `rostersync.store.tables`.

`staff_invitations`   one-time links that let a district's data manager set a password. Only the
                      SHA-256 of the link's token is kept, so a copy of the database cannot accept
                      an invitation; a link is good once and for 7 days.
`staff_session_grants` a ClassLink session (an educator's) that also carries data-manager rights
                      for that educator's district: the session's token hash and the staff account
                      whose rights it has. The rights end with the session.
`staff_totp`          per staff account: the TOTP secret being enrolled (not yet confirmed) and
                      the last time step used, so a code is accepted once (RFC 6238 §5.2).
`staff_sign_in_codes` a sign-in halfway through: the password was right and the account asks for
                      a TOTP code; the browser holds the random token whose hash is kept here.
`staff_audit`         every change to a staff account (invited, accepted, TOTP turned on, reset,
                      ClassLink rights granted), including vendor staff, who have no district and
                      so cannot appear in a district's `audit_log`.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table

from rostersync.store.tables import ID, UtcDateTime, metadata

HASH = 64  # a SHA-256 in hex

staff_invitations = Table(
    "staff_invitations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("token_hash", String(HASH), nullable=False, unique=True),
    Column("district_id", String(ID), ForeignKey("districts.id"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("invited_by", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # Set once, when the link is used: a used link is refused from then on.
    Column("accepted_at", UtcDateTime, nullable=True),
    Column("staff_id", String(ID), ForeignKey("staff_accounts.id"), nullable=True),
    Index(None, "district_id"),
)

staff_session_grants = Table(
    "staff_session_grants",
    metadata,
    Column(
        "token_hash",
        String(HASH),
        ForeignKey("web_sessions.token_hash", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("staff_id", String(ID), ForeignKey("staff_accounts.id"), nullable=False),
    Column("district_id", String(ID), ForeignKey("districts.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "staff_id"),
    Index(None, "district_id"),
)

staff_totp = Table(
    "staff_totp",
    metadata,
    Column("staff_id", String(ID), ForeignKey("staff_accounts.id"), primary_key=True),
    # Fernet token (store/secrets.py) of a secret shown but not yet confirmed with a code.
    Column("pending_ciphertext", String(512), nullable=True),
    # The newest 30-second step whose code was accepted; older or equal steps are refused.
    Column("last_step", BigInteger().with_variant(Integer(), "sqlite"), nullable=True),
)

staff_sign_in_codes = Table(
    "staff_sign_in_codes",
    metadata,
    Column("token_hash", String(HASH), primary_key=True),
    Column("staff_id", String(ID), ForeignKey("staff_accounts.id"), nullable=False),
    Column("next_path", String(2000), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(None, "staff_id"),
)

staff_audit = Table(
    "staff_audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("staff_id", String(ID), nullable=False),
    # NULL for vendor staff, who have no district.
    Column("district_id", String(ID), ForeignKey("districts.id"), nullable=True),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    # What changed, by field name; never a password, secret, token or email.
    Column("changes", JSON, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "staff_id"),
    Index(None, "district_id"),
)

__all__ = [
    "metadata",
    "staff_audit",
    "staff_invitations",
    "staff_session_grants",
    "staff_sign_in_codes",
    "staff_totp",
]
