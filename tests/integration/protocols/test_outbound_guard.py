"""Roster requests go only where the outbound policy allows, over real sockets on loopback.

A listener stands for an internal service: under the production policy nothing reaches it,
whether it is named by address, by a name that resolves to it, or by a redirect; the connection
goes to exactly the address that was checked; and a district's sync or Test connection through
`build_source` is refused before a byte leaves, with one generic sentence for the person.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from tests.integration.listener import Listener, free_port, listening, redirect_to

from rostersync.config import Settings
from rostersync.errors import RetriableSourceError
from rostersync.oneroster.outbound import (
    OutboundPolicy,
    OutboundRefused,
    checked_addresses,
    guarded_transport,
)
from rostersync.services import Questionnaire, Services
from rostersync.web.onboarding import UNREACHABLE, explain_source_failure

PRODUCTION = OutboundPolicy(allow_private=False, require_https=True)
NO_PRIVATE = OutboundPolicy(allow_private=False, require_https=False)
OPEN = OutboundPolicy(allow_private=True, require_https=False)


def client(
    policy: OutboundPolicy, resolver: Callable[[str, int], list[str]] | None = None
) -> httpx.Client:
    transport = (
        guarded_transport(policy) if resolver is None else guarded_transport(policy, resolver)
    )
    return httpx.Client(transport=transport, follow_redirects=False, timeout=5)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
        "0.0.0.0",  # noqa: S104 - an address under test, not a bind
        "224.0.0.1", "255.255.255.255", "100.64.0.1", "::1", "::", "fe80::1",
        "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    ],
)  # fmt: skip
def test_internal_addresses_are_refused(address: str) -> None:
    assert not NO_PRIVATE.allows(ipaddress.ip_address(address))
    assert OPEN.allows(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.1.1", "2001:4860:4860::8888"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert NO_PRIVATE.allows(ipaddress.ip_address(address))


def test_a_name_with_any_internal_address_is_refused_whole() -> None:
    def mixed(host: str, port: int) -> list[str]:
        return ["8.8.8.8", "127.0.0.1"]

    with pytest.raises(OutboundRefused):
        checked_addresses("roster.example", 443, NO_PRIVATE, mixed)
    assert checked_addresses("roster.example", 443, OPEN, mixed) == ["8.8.8.8", "127.0.0.1"]


class TestOverRealSockets:
    def test_a_loopback_address_is_refused_and_hears_nothing(self) -> None:
        with listening() as listener, client(NO_PRIVATE) as http, pytest.raises(OutboundRefused):
            http.get(f"{listener.url}/ims/oneroster/v1p1/orgs")
        assert listener.requests == []

    def test_a_name_resolving_to_loopback_is_refused_and_hears_nothing(self) -> None:
        with listening() as listener, client(NO_PRIVATE) as http, pytest.raises(OutboundRefused):
            http.get(f"http://localhost:{listener.port}/ims/oneroster/v1p1/orgs")
        assert listener.requests == []

    def test_the_connection_goes_to_exactly_the_address_that_was_checked(self) -> None:
        # `.test` names never resolve in the system's DNS: the request can reach the listener
        # only through the address the guard resolved and checked.
        asked: list[str] = []

        def pinned(host: str, port: int) -> list[str]:
            asked.append(host)
            return ["127.0.0.1"]

        with listening() as listener:
            with client(OPEN, pinned) as http:
                assert http.get(f"http://roster.rebind.test:{listener.port}/x").status_code == 401
            assert listener.heard("Host: roster.rebind.test")
            with client(NO_PRIVATE, pinned) as http, pytest.raises(OutboundRefused):
                http.get(f"http://roster.rebind.test:{listener.port}/x")
        assert asked == ["roster.rebind.test", "roster.rebind.test"]
        assert len(listener.requests) == 1

    def test_plain_http_is_refused_before_connecting_when_https_is_required(self) -> None:
        strict = client(OutboundPolicy(allow_private=True, require_https=True))
        with listening() as listener, strict as http, pytest.raises(OutboundRefused, match="https"):
            http.get(f"{listener.url}/x")
        assert listener.requests == []

    def test_a_redirect_to_another_host_is_not_followed(self) -> None:
        with (
            listening() as inside,
            listening(redirect_to(f"{inside.url}/steal")) as outside,
            client(OPEN) as http,
        ):
            assert http.get(f"{outside.url}/orgs").status_code == 302
        assert len(outside.requests) == 1 and inside.requests == []


@pytest.fixture
def strict_portal(tmp_path: Path, fresh_db_url: Callable[[], str]) -> Services:
    settings = Settings(
        data_dir=tmp_path,
        database_url=fresh_db_url(),
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
        outbound_allow_private=False,
        http_max_retries=0,
    )
    portal = Services(settings)
    portal.init_db()
    return portal


def onboard(portal: Services, url: str, kind: str = "oneroster-1.2") -> None:
    portal.districts.add(
        Questionnaire(
            slug="inside",
            name="Inside District",
            display_name="Inside District – Nowhere, IL",
            city="Nowhere",
            state="IL",
            source_kind=kind,
            source_url=url,
            key="district-key",
            secret="district-secret-4Rt",
        )
    )


@pytest.mark.parametrize("kind", ["oneroster-1.1", "oneroster-1.2"])
def test_a_district_source_on_an_internal_address_gets_nothing(
    strict_portal: Services, kind: str
) -> None:
    with listening() as listener:
        path = "/ims/oneroster/v1p1" if kind == "oneroster-1.1" else "/ims/oneroster/rostering/v1p2"
        onboard(strict_portal, f"{listener.url}{path}", kind)
        with pytest.raises(OutboundRefused):
            strict_portal.onboarding.test_source("inside")
        report = strict_portal.runs.sync("inside")
        assert report.status == "failed"
        assert "connects only to public roster servers" in (report.error or "")
    assert listener.requests == []
    strict_portal.close()


def test_the_person_gets_one_sentence_whether_refused_or_unreachable() -> None:
    refused = OutboundRefused("10.0.0.5 is a private … address")
    unreachable = RetriableSourceError(f"127.0.0.1:{free_port()} did not answer (ConnectError)")
    timed_out = RetriableSourceError("roster.example did not answer GET /orgs (ReadTimeout)")
    answers = {explain_source_failure(exc) for exc in (refused, unreachable, timed_out)}
    assert answers == {("source_url", UNREACHABLE)}


def test_listener_helper_hears(tmp_path: Path) -> None:
    # The harness itself: a request reaches the listener and is recorded.
    with listening() as listener, httpx.Client() as http:
        assert http.get(f"{listener.url}/ping").status_code == 401
    assert isinstance(listener, Listener) and listener.heard("GET /ping")
