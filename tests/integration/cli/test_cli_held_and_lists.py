"""A held sync says why and what to run next, and exits 3; a manual sync emails the district's
data managers unless told not to; a list says what it left out.

Driven as a person would, against the simulator and SQLite (`tests/integration/cli/test_cli.py`
has the same world).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.cli_world import cli_environment
from tests.integration.workflow.conftest import without_users
from typer.testing import CliRunner

from rostersync.cli.failures import EXIT_HELD
from rostersync.cli.main import app
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district

KEY, SECRET = "cli-key", "cli-secret-71x"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with cli_environment(tmp_path, monkeypatch, chdir=True):
        yield


@pytest.fixture
def data() -> DistrictData:
    return generate_district(students=120, seed=5, bad_records=True)


@pytest.fixture
def server(data: DistrictData) -> Iterator[SimulatorServer]:
    with SimulatorServer([Tenant(name="springfield", data=data, key=KEY, secret=SECRET)]) as srv:
        yield srv


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def onboard_and_sync(server: SimulatorServer, *options: str) -> None:
    assert invoke("db", "init")[0] == 0
    code, out = invoke(
        "district", "add", "springfield",
        "--name", "Springfield Unified School District",
        "--display-name", "Springfield USD – Springfield, IL",
        "--city", "Springfield", "--state", "IL",
        "--source-url", server.base_url("springfield"),
        "--key", KEY, "--secret", SECRET, *options,
    )  # fmt: skip
    assert code == 0, out
    code, out = invoke("sync", "springfield")
    assert code == 0, out


def forty_percent_leave(server: SimulatorServer, data: DistrictData) -> None:
    students = [u["sourcedId"] for u in data.users if u["role"] == "student"]
    server.tenant("springfield").data = without_users(data, set(students[: len(students) * 2 // 5]))


def newest_run(status: str) -> str:
    code, out = invoke("runs", "springfield", "--json")
    assert code == 0, out
    newest = json.loads(out)[0]
    assert newest["status"] == status
    return str(newest["id"])


class TestHeldSync:
    def test_a_held_sync_prints_the_reason_and_the_next_commands_and_exits_3(
        self, env: None, server: SimulatorServer, data: DistrictData
    ) -> None:
        onboard_and_sync(server)
        forty_percent_leave(server, data)

        code, out = invoke("sync", "springfield")
        assert code == EXIT_HELD == 3, out
        run_id = newest_run("held")
        lines = out.splitlines()
        (reason,) = [line for line in lines if line.startswith("Held: ")]
        assert reason.startswith("Held: students: ") and "deactivations is" in reason
        assert lines[-3:] == [
            "Nothing was written. Review the changes above, then either",
            f"  rostersync approve {run_id}    to write them, or",
            f"  rostersync discard {run_id}    to drop them and fix the source.",
        ]

        code, out = invoke("discard", run_id)
        assert code == 0, out
        code, out = invoke("sync", "springfield", "--json")
        assert code == EXIT_HELD, out
        assert json.loads(out)["status"] == "held"
        code, out = invoke("approve", newest_run("held"))
        assert code == 0, out
        assert "rostersync approve" not in out

    def test_a_failed_sync_still_exits_1(self, env: None, server: SimulatorServer) -> None:
        onboard_and_sync(server)
        server.stop()
        code, out = invoke("sync", "springfield")
        assert code == 1, out
        assert "Sync failed" in out


class TestManualSyncEmails:
    def test_a_manual_sync_emails_the_data_managers_unless_told_not_to(
        self, env: None, server: SimulatorServer, data: DistrictData, tmp_path: Path
    ) -> None:
        outbox = tmp_path / "outbox"
        onboard_and_sync(server, "--data-manager", "dm@springfield.example")
        (summary,) = outbox.glob("*.eml")
        assert "To: dm@springfield.example" in summary.read_text()

        code, out = invoke("sync", "springfield", "--no-email")
        assert code == 0 and "Emailed" not in out
        assert len(list(outbox.glob("*.eml"))) == 1

        forty_percent_leave(server, data)
        code, out = invoke("sync", "springfield")
        assert code == EXIT_HELD, out
        assert "Emailed the district's data managers: held." in out.splitlines()
        assert len(list(outbox.glob("*.eml"))) == 2

    def test_without_a_data_manager_the_sync_says_no_email_was_sent(
        self, env: None, server: SimulatorServer
    ) -> None:
        onboard_and_sync(server)
        code, out = invoke("sync", "springfield")
        assert code == 0, out
        assert out.splitlines()[-1].startswith("No email sent: the district has no data manager")


class TestListsSayWhatTheyLeftOut:
    def test_runs_say_how_many_they_show_and_all_shows_every_one(
        self, env: None, server: SimulatorServer
    ) -> None:
        onboard_and_sync(server)
        for _ in range(2):
            assert invoke("sync", "springfield")[0] == 0

        code, out = invoke("runs", "springfield", "--limit", "2")
        assert code == 0, out
        assert out.splitlines()[-1] == "showing 2 of 3 (--limit, --all)"
        code, out = invoke("runs", "springfield", "--all")
        assert code == 0 and "showing" not in out
        code, out = invoke("runs", "springfield", "--all", "--json")
        assert len(json.loads(out)) == 3
        code, out = invoke("runs", "springfield", "--limit", "3")
        assert code == 0 and "showing" not in out

    def test_people_issues_and_open_issues_say_how_many_they_show(
        self, env: None, server: SimulatorServer
    ) -> None:
        onboard_and_sync(server)
        students = len(json.loads(invoke("people", "springfield", "--all", "--json")[1]))
        assert students > 50

        code, out = invoke("people", "springfield")
        assert code == 0, out
        assert out.splitlines()[-1] == f"showing 50 of {students} (--limit, --all)"
        code, out = invoke("people", "springfield", "--offset", "50", "--limit", "10")
        assert out.splitlines()[-1] == f"showing 51–60 of {students} (--limit, --offset, --all)"
        code, out = invoke("people", "springfield", "--all")
        assert code == 0 and "showing" not in out

        open_issues = json.loads(invoke("open-issues", "springfield", "--json")[1])
        assert len(open_issues) > 1
        code, out = invoke("open-issues", "springfield", "--limit", "1")
        assert code == 0, out
        assert out.splitlines()[-1] == f"showing 1 of {len(open_issues)} (--limit, --all)"
        # Four columns (record, field, problem, fix) that fit a terminal of 80 columns.
        assert max(len(line) for line in out.splitlines()) <= 80
        assert "Record" in out and "How to fix" in out
        assert "showing" not in invoke("open-issues", "springfield", "--all")[1]

        run_id = newest_run("succeeded")
        run_issues = json.loads(invoke("issues", run_id, "--json", "--limit", "1")[1])
        assert len(run_issues) > 1, "--json answers with every issue, as before"
        code, out = invoke("issues", run_id, "--limit", "1")
        assert out.splitlines()[-1] == f"showing 1 of {len(run_issues)} (--limit, --all)"

        code, out = invoke("district", "list", "--limit", "1")
        assert code == 0 and "showing" not in out
