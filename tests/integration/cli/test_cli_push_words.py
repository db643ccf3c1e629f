"""The CLI words a pushing district's problems for its files, as the portal does: a sync from a
bundle and `open-issues` never tell it to share anything in ClassLink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.cli_world import cli_environment
from typer.testing import CliRunner

from rostersync.cli.main import app
from rostersync.providers.push import KIND as PUSHED
from rostersync.simulator import generate_district
from rostersync.simulator.bundle_writer import write_bundle


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with cli_environment(tmp_path, monkeypatch, chdir=True):
        yield tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def test_a_pushing_districts_issues_speak_of_its_files(env: Path) -> None:
    bundle = env / "ogden.zip"
    write_bundle(generate_district(students=40, seed=21, bad_records=True, tenant="ogden"), bundle)
    assert invoke("db", "init")[0] == 0
    code, out = invoke(
        "district", "add", "ogden",
        "--name", "Ogden School District", "--display-name", "Ogden SD – Ogden, UT",
        "--city", "Ogden", "--state", "UT", "--source-kind", PUSHED,
    )  # fmt: skip
    assert code == 0, out
    code, synced = invoke("sync", "ogden", "--from", str(bundle), "--no-email")
    assert code == 0, synced
    code, listed = invoke("open-issues", "ogden", "--all")
    assert code == 0, listed
    for said in (synced, listed):
        assert "How to fix" in said
        assert "ClassLink" not in said.replace("ClassLink id", "")
        assert "push" in said
