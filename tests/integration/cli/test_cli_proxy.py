# `env` is test_cli's fixture, imported by name.
# ruff: noqa: F811
"""A district read through the ClassLink proxy, onboarded from the command line with its tenant id
only: the proxy's address and partner key are the vendor's settings, never asked or stored."""

from __future__ import annotations

import json

import pytest
from tests.integration.cli.test_cli import KEY, SECRET, env, invoke  # noqa: F401

from rostersync.config import get_settings
from rostersync.simulator import SimulatorServer, Tenant, generate_district

TENANT_ID = "4242"


@pytest.fixture
def proxied(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> SimulatorServer:
    data = generate_district(students=60, seed=9)
    with SimulatorServer([Tenant(name="springfield", data=data, key=KEY, secret=SECRET)]) as srv:
        srv.proxy.share("springfield", tenant_id=TENANT_ID)
        monkeypatch.setenv("ROSTERSYNC_CLASSLINK_PROXY_URL", srv.url)
        monkeypatch.setenv("ROSTERSYNC_CLASSLINK_PARTNER_KEY", srv.proxy.partner_key)
        get_settings.cache_clear()
        assert invoke("db", "init")[0] == 0
        yield srv  # type: ignore[misc]


def add(*extra: str) -> tuple[int, str]:
    return invoke(
        "district", "add", "springfield",
        "--name", "Springfield Unified School District",
        "--display-name", "Springfield USD – Springfield, IL",
        "--city", "Springfield", "--state", "IL",
        "--source-kind", "classlink-proxy", "--key", TENANT_ID, *extra,
    )  # fmt: skip


def test_the_tenant_id_is_all_a_proxy_district_needs(proxied: SimulatorServer) -> None:
    # No secret is asked for (CliRunner gives no input: a prompt would fail the command).
    code, out = add()
    assert code == 0, out
    code, out = invoke("sync", "springfield", "--json")
    assert code == 0, out
    assert json.loads(out)["status"] == "succeeded"


def test_a_partner_key_given_for_a_district_is_refused(proxied: SimulatorServer) -> None:
    code, out = add("--secret", "a-partner-key", "--json")
    assert code != 0
    assert "ROSTERSYNC_CLASSLINK_PARTNER_KEY" in out
    assert "a-partner-key" not in out
