"""`rostersync staff add` creates a local account that can then sign in (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.cli_world import cli_environment
from typer.testing import CliRunner

from rostersync.cli.main import app
from rostersync.config import get_settings
from rostersync.services import Services
from rostersync.staff.errors import StaffSignInRefused

PASSWORD = "a sufficiently long passphrase"


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    with cli_environment(tmp_path, monkeypatch, chdir=False):
        svc = Services(get_settings())
        svc.init_db()
        yield svc
        svc.close()


def add(*args: str, password: str = PASSWORD, again: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["staff", "add", *args], input=f"{password}\n{again or password}\n"
    )
    return result.exit_code, result.output


class TestStaffAdd:
    """The password is asked twice and only its hash is kept; bad combinations are refused."""

    def test_the_new_account_signs_in(self, service: Services) -> None:
        code, out = add("ops@portal.example", "--name", "Ops Person", "--role", "vendor_staff")
        assert code == 0, out
        assert PASSWORD not in out
        signed_in = service.staff.sign_in("OPS@portal.example", PASSWORD, previous_session=None)
        assert signed_in.viewer.is_vendor_staff
        with pytest.raises(StaffSignInRefused):
            service.staff.sign_in("ops@portal.example", "wrong" + PASSWORD, previous_session=None)

    def test_a_data_manager_without_a_district_is_refused(self, service: Services) -> None:
        code, out = add("dm@district.example", "--name", "Dee Em", "--role", "data_manager")
        assert code == 2 and "--district" in out

    def test_mismatched_passwords_are_asked_again(self, service: Services) -> None:
        code, out = add(
            "ops@portal.example", "--name", "Ops", "--role", "vendor_staff", again="different one"
        )
        assert code != 0 and "do not match" in out.lower()
