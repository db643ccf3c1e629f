"""Personal API tokens over a real SQLite database: shown once and kept only as a hash, scoped to
their account as it is now, revocable, their last use written at most once a minute, audited."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from cryptography.fernet import Fernet
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from rostersync.config import Settings
from rostersync.errors import ConfigError, NotFoundError
from rostersync.staff.accounts import StaffAuth
from rostersync.staff.api_tokens import MAX_ACTIVE, ApiTokenRefused, ApiTokens
from rostersync.staff.models import StaffViewer
from rostersync.store.api_tokens_tables import staff_api_tokens
from rostersync.store.signin_tables import staff_audit
from rostersync.store.web_tables import staff_accounts

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class Clock:
    """The time the tokens go by; a test moves it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(engine: Engine, clock: Clock) -> ApiTokens:
    return ApiTokens(engine, clock=clock)


def add_vendor(engine: Engine, tmp_path: Path, email: str) -> StaffViewer:
    settings = Settings(
        data_dir=tmp_path, database_url="sqlite://", secret_keys=Fernet.generate_key().decode()
    )
    staff_id = StaffAuth(engine, settings, CHEAP).add_staff(
        email=email, display_name="Pat Vendor", role="vendor_staff", password="x" * 16
    )
    return StaffViewer(
        id=staff_id,
        email=email,
        display_name="Pat Vendor",
        role="vendor_staff",
        district_id=None,
        csrf_token="session-csrf",
    )


@pytest.fixture
def vendor(engine: Engine, tmp_path: Path) -> StaffViewer:
    return add_vendor(engine, tmp_path, "vendor@portal.example")


def stored_rows(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(staff_api_tokens))]


class TestMakingATokenShowsItOnce:
    def test_the_secret_is_returned_once_and_only_its_hash_is_kept(
        self, engine: Engine, tokens: ApiTokens, vendor: StaffViewer
    ) -> None:
        made = tokens.create(vendor, "  nightly   export ")
        assert re.fullmatch(r"rs_[A-Za-z0-9_-]{43}", made.secret)
        assert made.token.label == "nightly export"
        assert made.token.prefix == made.secret[:11]
        assert made.secret not in repr(made)
        (row,) = stored_rows(engine)
        assert row["token_hash"] == hashlib.sha256(made.secret.encode()).hexdigest()
        assert not any(made.secret in str(value) for value in row.values())
        assert [t.id for t in tokens.list_tokens(vendor)] == [made.token.id]

    def test_two_tokens_differ(self, tokens: ApiTokens, vendor: StaffViewer) -> None:
        first, second = tokens.create(vendor, "a"), tokens.create(vendor, "b")
        assert first.secret != second.secret

    @pytest.mark.parametrize("label", ["", "   ", "x" * 101])
    def test_a_label_is_needed_and_short(
        self, engine: Engine, tokens: ApiTokens, vendor: StaffViewer, label: str
    ) -> None:
        with pytest.raises(ConfigError, match="label"):
            tokens.create(vendor, label)
        assert stored_rows(engine) == []

    def test_rights_from_a_classlink_sign_in_make_no_token(
        self, engine: Engine, tokens: ApiTokens, vendor: StaffViewer
    ) -> None:
        through_classlink = StaffViewer(
            id=vendor.id,
            email=vendor.email,
            display_name=vendor.display_name,
            role="data_manager",
            district_id=None,
            csrf_token="c",
            through_classlink=True,
        )
        with pytest.raises(ConfigError, match="ClassLink"):
            tokens.create(through_classlink, "script")
        assert stored_rows(engine) == []

    def test_at_most_a_few_live_tokens_each(self, tokens: ApiTokens, vendor: StaffViewer) -> None:
        made = [tokens.create(vendor, f"script {i}") for i in range(MAX_ACTIVE)]
        with pytest.raises(ConfigError, match="revoke one"):
            tokens.create(vendor, "one too many")
        tokens.revoke(vendor, made[0].token.id)
        assert tokens.create(vendor, "in its place").token.active

    def test_making_and_revoking_are_audited_without_the_token(
        self, engine: Engine, tokens: ApiTokens, vendor: StaffViewer
    ) -> None:
        made = tokens.create(vendor, "script")
        tokens.revoke(vendor, made.token.id)
        with engine.connect() as conn:
            rows = conn.execute(
                select(staff_audit.c.action, staff_audit.c.actor, staff_audit.c.changes)
                .where(staff_audit.c.staff_id == vendor.id)
                .order_by(staff_audit.c.id)
            ).all()
        assert [(r.action, r.actor) for r in rows] == [
            ("api_token_created", vendor.actor),
            ("api_token_revoked", vendor.actor),
        ]
        assert all(r.changes["token"] == made.token.id for r in rows)
        assert made.secret not in repr(rows) and made.token.prefix not in repr(rows)


class TestAuthenticate:
    def test_a_token_is_its_owner_now_without_a_csrf_token(
        self, tokens: ApiTokens, vendor: StaffViewer
    ) -> None:
        made = tokens.create(vendor, "script")
        viewer = tokens.authenticate(made.secret)
        assert (viewer.id, viewer.role, viewer.district_id) == (vendor.id, "vendor_staff", None)
        assert viewer.csrf_token == ""  # so no CSRF check can ever pass on it by accident
        assert not viewer.through_classlink

    @pytest.mark.parametrize(
        "secret",
        ["", "rs_", "rs_short", "Bearer rs_" + "a" * 43, "xx_" + "a" * 43, "rs_" + "a" * 44],
    )
    def test_malformed_tokens_are_refused(self, tokens: ApiTokens, secret: str) -> None:
        with pytest.raises(ApiTokenRefused) as refused:
            tokens.authenticate(secret)
        assert refused.value.reason == "api_token_unknown"

    def test_an_altered_token_is_refused_like_an_unknown_one(
        self, tokens: ApiTokens, vendor: StaffViewer
    ) -> None:
        made = tokens.create(vendor, "script")
        altered = made.secret[:-1] + ("A" if made.secret[-1] != "A" else "B")
        with pytest.raises(ApiTokenRefused) as refused:
            tokens.authenticate(altered)
        assert refused.value.reason == "api_token_unknown"
        assert (refused.value.district_id, refused.value.subject) == (None, None)

    def test_a_revoked_token_is_refused_from_then_on(
        self, tokens: ApiTokens, vendor: StaffViewer
    ) -> None:
        made = tokens.create(vendor, "script")
        tokens.authenticate(made.secret)
        revoked = tokens.revoke(vendor, made.token.id)
        assert not revoked.active
        with pytest.raises(ApiTokenRefused) as first:
            tokens.authenticate(made.secret)
        with pytest.raises(ApiTokenRefused) as second:
            tokens.authenticate(made.secret)
        assert first.value.reason == "api_token_revoked"
        assert first.value.subject == vendor.id
        # One message for every cause, each refusal with a reference of its own.
        unknown = ApiTokenRefused("api_token_unknown")
        assert str(first.value).split(" (reference")[0] == str(unknown).split(" (reference")[0]
        references = {first.value.reference, second.value.reference, unknown.reference}
        assert len(references) == 3
        assert all(re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", r) for r in references)
        assert first.value.reference in str(first.value)
        listed = {t.id: t for t in tokens.list_tokens(vendor)}
        assert not listed[made.token.id].active

    def test_only_the_owner_revokes_and_only_once(
        self, engine: Engine, tmp_path: Path, tokens: ApiTokens, vendor: StaffViewer
    ) -> None:
        other = add_vendor(engine, tmp_path, "other@portal.example")
        made = tokens.create(vendor, "script")
        with pytest.raises(NotFoundError):
            tokens.revoke(other, made.token.id)
        assert tokens.authenticate(made.secret).id == vendor.id
        assert tokens.list_tokens(other) == []
        tokens.revoke(vendor, made.token.id)
        with pytest.raises(NotFoundError):
            tokens.revoke(vendor, made.token.id)

    def test_an_account_turned_off_stops_its_tokens(
        self, engine: Engine, tokens: ApiTokens, vendor: StaffViewer
    ) -> None:
        made = tokens.create(vendor, "script")
        with engine.begin() as conn:
            conn.execute(
                update(staff_accounts).where(staff_accounts.c.id == vendor.id).values(active=False)
            )
        with pytest.raises(ApiTokenRefused) as refused:
            tokens.authenticate(made.secret)
        assert refused.value.reason == "api_token_account_off"


class TestLastUse:
    def test_the_last_use_is_written_at_most_once_a_minute(
        self, tokens: ApiTokens, vendor: StaffViewer, clock: Clock
    ) -> None:
        made = tokens.create(vendor, "script")
        assert tokens.list_tokens(vendor)[0].last_used_at is None
        tokens.authenticate(made.secret)
        assert tokens.list_tokens(vendor)[0].last_used_at == START
        clock.now = START + timedelta(seconds=59)
        tokens.authenticate(made.secret)
        assert tokens.list_tokens(vendor)[0].last_used_at == START
        clock.now = START + timedelta(seconds=61)
        tokens.authenticate(made.secret)
        assert tokens.list_tokens(vendor)[0].last_used_at == clock.now
