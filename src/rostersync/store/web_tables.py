"""Tables for the web feature; they share the one `metadata` of `rostersync.store.tables`.

`web_sessions` holds signed-in browsers server-side: the cookie carries a random token and the
table keeps only its SHA-256, so a copy of the database cannot be replayed as a cookie.
`login_states` keeps each login we started (state, nonce, PKCE verifier, chosen district) until its
callback consumes it, once. `used_codes` remembers every authorization code we exchanged, so a
code is never exchanged twice. `staff_accounts` holds vendor staff's local accounts (argon2 hashes).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    true,
)

from rostersync.store.tables import ID, UtcDateTime, metadata

HASH = 64  # a SHA-256 in hex

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(HASH), primary_key=True),
    Column("district_id", String(ID), ForeignKey("districts.id"), nullable=True),
    Column("person_kind", String(16), nullable=False),
    Column("person_id", String(ID), nullable=False),
    # Sent back in every form; compared with the submitted one on each POST.
    Column("csrf_token", String(HASH), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    CheckConstraint("person_kind IN ('student', 'educator', 'staff')", name="person_kind"),
    Index(None, "person_id"),
    Index(None, "expires_at"),
    # Ending every session of a district (offboarding) must not scan the table.
    Index(None, "district_id"),
)

login_states = Table(
    "login_states",
    metadata,
    Column("state_hash", String(HASH), primary_key=True),
    # NULL for a login restarted from a LaunchPad launch: the token's tenant picks the district.
    Column("district_id", String(ID), ForeignKey("districts.id"), nullable=True),
    # Hash of the browser's login-binding cookie: a state only completes in the browser that
    # started it (login CSRF).
    Column("binding_hash", String(HASH), nullable=False),
    Column("issuer", String(255), nullable=False),
    Column("nonce", String(128), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("next_path", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(None, "expires_at"),
    Index(None, "district_id"),
)

used_codes = Table(
    "used_codes",
    metadata,
    Column("code_hash", String(HASH), primary_key=True),
    Column("used_at", UtcDateTime, nullable=False),
    Index(None, "used_at"),
)

staff_accounts = Table(
    "staff_accounts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(255), nullable=False),
    Column("password_hash", Text, nullable=False),
    # Fernet token (store/secrets.py) of the TOTP seed, when the person turned TOTP on.
    Column("totp_secret_ciphertext", Text, nullable=True),
    Column("role", String(16), nullable=False),
    # A data manager's one district; NULL for vendor staff, who see every district.
    Column("district_id", String(ID), ForeignKey("districts.id"), nullable=True),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("role IN ('vendor_staff', 'data_manager')", name="role"),
    Index(None, "district_id"),
)

__all__ = ["login_states", "metadata", "staff_accounts", "used_codes", "web_sessions"]
