"""`make demo` (`rostersync demo`) rosters a ClassLink district and a Clever district side by side,
each from its simulator on loopback, into one SQLite portal, and every check holds for both."""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from tests.integration.cli_world import cli_environment
from typer.testing import CliRunner

from rostersync.cli.main import app
from rostersync.config import Settings
from rostersync.services import Services


def test_the_demo_rosters_springfield_from_classlink_and_shelbyville_from_clever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cli_environment(tmp_path, monkeypatch, chdir=True):
        result = CliRunner().invoke(app, ["demo", "--students", "120"], catch_exceptions=False)
    said = " ".join(result.stdout.split())  # the terminal's line breaks do not matter
    assert result.exit_code == 0, result.stdout
    assert "ClassLink simulator serving OneRoster 1.1 at http://127.0.0.1:" in said
    assert "Clever simulator serving the Data API v3.1 at http://127.0.0.1:" in said
    assert "First sync of Springfield USD – Springfield, IL (from ClassLink)" in said
    assert "First sync of Shelbyville SD – Shelbyville, IL (from Clever)" in said
    assert said.count("Reconciliation with the generated district") == 2
    assert "✗" not in said
    assert said.count("✓ nothing changed") == 2
    assert "every check held" in said

    demo = tmp_path / "var" / "demo"
    portal = Services(Settings(data_dir=demo, database_url=f"sqlite:///{demo / 'rostersync.db'}"))
    try:
        kinds = {
            d.slug: portal.districts.get(d.slug)[1].source_kind for d in portal.districts.list_all()
        }
        students = portal.districts.people("shelbyville", kind="students", limit=1000)
    finally:
        portal.close()
    assert kinds == {"springfield": "oneroster-1.1", "shelbyville": "clever"}
    assert len(students) == 120 // 2  # Shelbyville is half Springfield's size, all valid
    summaries = [
        email.message_from_bytes(path.read_bytes()) for path in sorted(demo.glob("outbox/*.eml"))
    ]
    assert sorted(str(m["To"]) for m in summaries) == [
        "data.manager@shelbyville.example",
        "data.manager@springfield.example",
    ]
