"""The `rostersync` command line, driven as a person would, against the simulator and SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.cli_world import cli_environment
from typer.testing import CliRunner

from rostersync.cli.main import app
from rostersync.simulator import SimulatorServer, Tenant, generate_district

KEY, SECRET = "cli-key", "cli-secret-71x"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with cli_environment(tmp_path, monkeypatch, chdir=True) as values:
        yield values


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    data = generate_district(students=120, seed=5, bad_records=True)
    with SimulatorServer([Tenant(name="springfield", data=data, key=KEY, secret=SECRET)]) as srv:
        yield srv


def invoke(*args: str) -> tuple[int, str]:
    """Exit code and standard output; logs go to standard error, as for a script piping JSON."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def add_district(server: SimulatorServer, secret: str = SECRET) -> None:
    code, out = invoke(
        "district", "add", "springfield",
        "--name", "Springfield Unified School District",
        "--display-name", "Springfield USD – Springfield, IL",
        "--city", "Springfield", "--state", "IL",
        "--source-url", server.base_url("springfield"),
        "--key", KEY, "--secret", secret,
        "--data-manager", "dm@springfield.example",
    )  # fmt: skip
    assert code == 0, out


class TestOnboardAndSync:
    """A support engineer onboards a district, syncs it and reads the results."""

    def test_sync_json_reports_counts_and_the_run_issues_are_listed(
        self, env: dict[str, str], server: SimulatorServer
    ) -> None:
        assert invoke("db", "init")[0] == 0
        add_district(server)
        code, out = invoke("district", "list", "--json")
        assert code == 0 and json.loads(out)[0]["slug"] == "springfield"
        assert SECRET not in invoke("district", "show", "springfield", "--json")[1]

        code, out = invoke("sync", "springfield", "--json")
        assert code == 0, out
        report = json.loads(out)
        assert report["status"] == "succeeded"
        assert report["counts"]["student"]["created"] > 100
        assert report["issues"], "the planted bad records are reported"

        code, out = invoke("issues", report["run_id"], "--json")
        assert code == 0
        assert {i["sourced_id"] for i in json.loads(out)} == {
            i["sourced_id"] for i in report["issues"]
        }
        code, out = invoke("people", "springfield", "--json", "--limit", "500")
        assert len(json.loads(out)) == report["counts"]["student"]["created"]

    def test_a_refused_secret_exits_non_zero_and_names_the_secret(
        self, env: dict[str, str], server: SimulatorServer
    ) -> None:
        invoke("db", "init")
        add_district(server, secret="not-the-secret")
        code, out = invoke("sync", "springfield")
        assert code == 1
        assert "secret" in out.lower()

    def test_preview_then_approve_applies_the_previewed_plan(
        self, env: dict[str, str], server: SimulatorServer
    ) -> None:
        invoke("db", "init")
        add_district(server)
        code, out = invoke("preview", "springfield", "--json")
        assert code == 0, out
        preview = json.loads(out)
        assert invoke("people", "springfield", "--json")[1].strip() == "[]"  # nothing written
        code, out = invoke("approve", preview["run_id"], "--json")
        assert code == 0, out
        assert (
            json.loads(out)["counts"]["student"]["created"]
            == (preview["counts"]["student"]["created"])
        )

    def test_an_unknown_district_is_a_clear_error(self, env: dict[str, str]) -> None:
        invoke("db", "init")
        code, out = invoke("sync", "nowhere")
        assert code == 2
        assert "nowhere" in out and "district list" in out


class TestDemo:
    """`rostersync demo` rosters a simulated district and checks itself."""

    def test_demo_exits_zero_with_every_check_held(self, env: dict[str, str]) -> None:
        code, out = invoke("demo", "--students", "150")
        assert code == 0, out
        assert "every check held" in out
        assert "nothing changed" in out
