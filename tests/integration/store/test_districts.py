"""Districts, their integration answers, and credentials that are encrypted at rest."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from rostersync.domain.questionnaire import Questionnaire
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.errors import ConfigError, NotFoundError
from rostersync.store.db import create_engine_for, migrate
from rostersync.store.districts import (
    DistrictRecord,
    create_district,
    get_credentials,
    get_district,
    get_integration,
    list_districts,
    rules_for,
)
from rostersync.store.secrets import SecretBox
from rostersync.store.tables import integrations

KEY = "consumer-key-8f3a"
SECRET = "consumer-secret-Zq81-plaintext"


class TestCreateAndFind:
    """A district is created with its integration and found by slug or id."""

    def test_created_district_is_found_by_slug_and_by_id(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        assert district.slug == "springfield"
        assert district.display_name == "Springfield USD – Springfield, IL"
        assert district.status == "onboarding"
        assert district.go_live_date == date(2026, 8, 17)
        assert district.created_at.tzinfo is not None
        assert get_district(conn, "springfield") == district
        assert get_district(conn, district.id) == district
        assert list_districts(conn) == [district]

    def test_integration_keeps_the_questionnaire_answers(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        integration = get_integration(conn, district.id)
        assert integration.source_kind == "oneroster-1.1"
        assert integration.data_manager_emails == ("data.manager@springfield.example",)
        assert integration.eligibility_source == "metadata"
        assert integration.eligibility_field == "eligibility"
        assert integration.sync_frequency == "weekdays"
        assert integration.sync_time == "05:30"
        assert rules_for(integration) == DistrictRules(
            grades_provided=True,
            unique_emails=True,
            student_id_field="identifier",
            eligibility_source=EligibilitySource.METADATA,
            eligibility_field="eligibility",
        )

    def test_districts_are_listed_by_slug(self, conn: Connection, make_district: Any) -> None:
        make_district(slug="zenith")
        make_district(slug="auburn")
        assert [d.slug for d in list_districts(conn)] == ["auburn", "zenith"]

    def test_a_duplicate_slug_is_refused_with_a_fix(
        self, district: DistrictRecord, make_district: Any
    ) -> None:
        with pytest.raises(ConfigError, match="already exists; choose another slug"):
            make_district(name="Another Springfield")

    def test_an_unknown_district_names_the_command_that_lists_them(self, conn: Connection) -> None:
        with pytest.raises(NotFoundError, match="rostersync district list"):
            get_district(conn, "nowhere")
        with pytest.raises(NotFoundError, match="rostersync district list"):
            get_integration(conn, "no-such-id")

    def test_answers_that_cannot_make_rules_are_refused_at_onboarding(
        self, make_district: Any
    ) -> None:
        with pytest.raises(ConfigError, match="student ID field"):
            make_district(student_id_field="locker_number")

    def test_the_database_refuses_syncs_30_or_more_days_apart(
        self, conn: Connection, make_district: Any
    ) -> None:
        make_district(slug="ok", sync_frequency="every_n_days", sync_interval_days=29)
        with pytest.raises(IntegrityError), conn.begin_nested():
            make_district(slug="stale", sync_frequency="every_n_days", sync_interval_days=30)


class TestCredentials:
    """Source credentials are stored encrypted and only `get_credentials` decrypts them."""

    def test_credentials_decrypt_back(
        self, conn: Connection, box: SecretBox, district: DistrictRecord
    ) -> None:
        assert get_credentials(conn, box, district.id) == (KEY, SECRET)

    def test_the_stored_columns_hold_no_plaintext(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        row = conn.execute(
            select(integrations.c.key_ciphertext, integrations.c.secret_ciphertext)
        ).one()
        assert KEY not in row.key_ciphertext and SECRET not in row.secret_ciphertext
        assert row.key_ciphertext.startswith("gAAAA")  # a Fernet token

    def test_records_never_carry_the_credentials(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        shown = repr(district) + repr(get_integration(conn, district.id))
        assert KEY not in shown and SECRET not in shown and "ciphertext" not in shown

    def test_a_wrong_key_says_which_setting_to_fix(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        other = SecretBox([Fernet.generate_key().decode()])
        with pytest.raises(ConfigError, match="set ROSTERSYNC_SECRET_KEYS to the key"):
            get_credentials(conn, other, district.id)

    def test_credentials_survive_key_rotation(
        self, conn: Connection, secret_key: str, district: DistrictRecord
    ) -> None:
        rotated = SecretBox([Fernet.generate_key().decode(), secret_key])
        assert get_credentials(conn, rotated, district.id) == (KEY, SECRET)


def test_the_sqlite_file_never_contains_the_plaintext_secret(tmp_path: Path) -> None:
    """The bytes on disk (database and WAL) hold ciphertext only, after a real commit."""
    path = tmp_path / "portal.db"
    url = f"sqlite:///{path}"
    box = SecretBox([Fernet.generate_key().decode()])
    engine = create_engine_for(url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            create_district(conn, box, Questionnaire(**_answers()))
        on_disk = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"consumer-secret-Zq81" not in on_disk and b"consumer-key-8f3a" not in on_disk
        assert b"Springfield" in on_disk  # the scan does see committed data
        with engine.connect() as conn:
            district_id = get_district(conn, "springfield").id
            assert get_credentials(conn, box, district_id) == (KEY, SECRET)
    finally:
        engine.dispose()
    # Closing the last connection checkpoints the WAL into the main file.
    assert b"consumer-secret-Zq81" not in path.read_bytes()
    assert b"Springfield" in path.read_bytes()


def _answers() -> dict[str, Any]:
    return {
        "slug": "springfield",
        "name": "Springfield Unified School District",
        "display_name": "Springfield USD – Springfield, IL",
        "city": "Springfield",
        "state": "IL",
        "time_zone": "America/Chicago",
        "tenant_id": None,
        "source_kind": "oneroster-1.1",
        "source_url": "https://oneroster.example/springfield",
        "key": KEY,
        "secret": SECRET,
        "data_manager_emails": [],
        "grades_provided": True,
        "unique_emails_provided": True,
        "student_id_field": "identifier",
        "eligibility_source": "portal",
        "eligibility_field": None,
        "sync_frequency": "daily",
        "sync_days": [],
        "sync_interval_days": None,
        "sync_time": "05:00",
        "go_live_date": None,
    }
