"""Push keys on SQLite and PostgreSQL: issued once, shown once, kept encrypted, rotated at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.integration.cli_world import cli_environment
from typer.testing import CliRunner

from rostersync.cli.main import app
from rostersync.config import get_settings
from rostersync.errors import ConfigError, NotFoundError
from rostersync.services import PUSH_SOURCE_KIND, Questionnaire, Services
from rostersync.store.push_tables import push_credentials
from rostersync.store.tables import audit_log


def push_district(portal: Services, slug: str) -> str:
    return portal.districts.add(
        Questionnaire(
            slug=slug,
            name=f"{slug.title()} School District",
            display_name=f"{slug.title()} SD",
            city=slug.title(),
            state="IL",
            source_kind=PUSH_SOURCE_KIND,
        )
    ).id


class TestIssue:
    """A district gets one key and a high-entropy secret; a second issue is refused."""

    def test_issue_returns_a_public_key_id_and_a_secret(self, portal: Services) -> None:
        push_district(portal, "ogden")
        key_id, secret = portal.push.issue_credentials("ogden", "ops@vendor.example")
        assert key_id.startswith("rsk_") and len(key_id) >= 24
        assert secret.startswith("rss_") and len(secret) >= 40
        assert portal.push.check_credentials("ogden", key_id, secret) is not None
        assert portal.push.key("ogden").key_id == key_id

    def test_a_second_issue_says_to_rotate(self, portal: Services) -> None:
        push_district(portal, "ogden")
        portal.push.issue_credentials("ogden", "ops@vendor.example")
        with pytest.raises(ConfigError, match="push-key rotate ogden"):
            portal.push.issue_credentials("ogden", "ops@vendor.example")

    def test_an_unknown_district_is_not_found(self, portal: Services) -> None:
        with pytest.raises(NotFoundError):
            portal.push.issue_credentials("nowhere", "ops@vendor.example")


class TestCheck:
    """Only the district's own current key and secret pass; every failure looks the same."""

    def test_wrong_secret_other_district_and_unknown_slug_fail(self, portal: Services) -> None:
        push_district(portal, "ogden")
        push_district(portal, "provo")
        key, secret = portal.push.issue_credentials("ogden", "ops")
        other_key, other_secret = portal.push.issue_credentials("provo", "ops")
        assert portal.push.check_credentials("ogden", key, secret + "x") is None
        assert portal.push.check_credentials("ogden", key, other_secret) is None
        assert portal.push.check_credentials("ogden", other_key, other_secret) is None
        assert portal.push.check_credentials("nowhere", key, secret) is None
        assert portal.push.check_credentials("ogden", "rsk_unknown", secret) is None
        assert portal.push.check_credentials("provo", other_key, other_secret) is not None


class TestRotate:
    """Rotation replaces key and secret; the old pair stops working at once."""

    def test_the_old_secret_stops_working(self, portal: Services) -> None:
        push_district(portal, "ogden")
        old_key, old_secret = portal.push.issue_credentials("ogden", "ops")
        new_key, new_secret = portal.push.rotate_credentials("ogden", "ops")
        assert (new_key, new_secret) != (old_key, old_secret)
        assert portal.push.check_credentials("ogden", old_key, old_secret) is None
        assert portal.push.check_credentials("ogden", new_key, old_secret) is None
        assert portal.push.check_credentials("ogden", new_key, new_secret) is not None
        assert portal.push.key("ogden").rotated_at is not None

    def test_rotating_before_issuing_says_to_issue(self, portal: Services) -> None:
        push_district(portal, "ogden")
        with pytest.raises(NotFoundError, match="push-key issue ogden"):
            portal.push.rotate_credentials("ogden", "ops")


class TestAtRest:
    """The secret is stored only encrypted, and the audit log names the key, never the secret."""

    def test_no_clear_secret_in_the_database(self, portal: Services) -> None:
        district_id = push_district(portal, "ogden")
        key, first = portal.push.issue_credentials("ogden", "ops@vendor.example")
        key2, second = portal.push.rotate_credentials("ogden", "ops@vendor.example")
        with portal.engine.connect() as conn:
            stored = [tuple(r) for r in conn.execute(select(push_credentials))]
            audits = conn.execute(
                select(audit_log.c.action, audit_log.c.actor, audit_log.c.changes).where(
                    audit_log.c.district_id == district_id
                )
            ).all()
        dump = repr(stored) + repr(audits)
        assert first not in dump and second not in dump
        assert first[4:] not in dump and second[4:] not in dump
        assert [(a.action, a.changes) for a in audits] == [
            ("push_key_issued", {"key_id": key}),
            ("push_key_rotated", {"key_id": key2}),
        ]
        assert {a.actor for a in audits} == {"ops@vendor.example"}


@pytest.fixture
def cli_portal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    with cli_environment(tmp_path, monkeypatch, chdir=False):
        svc = Services(get_settings())
        svc.init_db()
        yield svc
        svc.close()


class TestCli:
    """`rostersync push-key issue|rotate` prints the secret once, with a warning to store it."""

    def test_issue_then_rotate(self, cli_portal: Services) -> None:
        push_district(cli_portal, "ogden")
        issued = CliRunner().invoke(app, ["push-key", "issue", "ogden", "--json"])
        assert issued.exit_code == 0, issued.output
        # The JSON document follows the (JSON) log line of the issue.
        first = json.loads(issued.output[issued.output.index("{\n") :])
        assert cli_portal.push.check_credentials("ogden", first["key"], first["secret"])
        rotated = CliRunner().invoke(app, ["push-key", "rotate", "ogden"])
        assert rotated.exit_code == 0, rotated.output
        assert "shown only this once" in rotated.output
        assert "no longer work" in rotated.output
        assert first["secret"] not in rotated.output
        assert cli_portal.push.check_credentials("ogden", first["key"], first["secret"]) is None
        again = CliRunner().invoke(app, ["push-key", "issue", "ogden"])
        assert again.exit_code == 2 and "rotate" in again.output
