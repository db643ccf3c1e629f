"""`rostersync delta <district> [--json]`, driven as a person would, against the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.cli_world import cli_environment
from typer.testing import CliRunner

from rostersync.cli.main import app
from rostersync.simulator import SimulatorServer, Tenant, generate_district, mutations

KEY, SECRET = "cli-key", "cli-secret-71x"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with cli_environment(tmp_path, monkeypatch, chdir=True):
        yield


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    data = generate_district(students=80, seed=5)
    with SimulatorServer([Tenant(name="springfield", data=data, key=KEY, secret=SECRET)]) as srv:
        yield srv


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


class TestDeltaCommand:
    """The command refuses before a full sync, then applies only the change, as JSON."""

    def test_refused_first_then_applies_the_added_students(
        self, env: None, server: SimulatorServer
    ) -> None:
        assert invoke("db", "init")[0] == 0
        code, out = invoke(
            "district", "add", "springfield",
            "--name", "Springfield Unified School District",
            "--display-name", "Springfield USD – Springfield, IL",
            "--city", "Springfield", "--state", "IL",
            "--source-url", server.base_url("springfield"),
            "--key", KEY, "--secret", SECRET,
            "--data-manager", "dm@springfield.example",
        )  # fmt: skip
        assert code == 0, out

        code, out = invoke("delta", "springfield", "--json")
        assert code == 2
        assert "run a full sync first" in out

        assert invoke("sync", "springfield", "--json")[0] == 0
        tenant = server.tenant("springfield")
        tenant.data = mutations.add_students(tenant.data, 3, at="2026-09-01T12:00:00Z").data

        code, out = invoke("delta", "springfield", "--json")
        assert code == 0, out
        report = json.loads(out)
        assert report["status"] == "succeeded"
        assert report["counts"]["student"]["created"] == 3
        assert report["counts"]["student"]["updated"] == 0
