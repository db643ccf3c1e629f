# The wizard's world and signed-in browsers are test_onboarding's fixtures, imported by name.
# ruff: noqa: F811
"""A stored ClassLink secret is only ever sent to the exact source it was entered for.

Over real HTTP, with a stranger's listener on a real socket: a data manager or vendor staff who
changes the source (kind, scheme, host, port or path) and leaves the secret blank is asked to type
it again, and nothing reaches the new address; a secret typed in the same request goes there and
only it. The store refuses to hand a sealed secret to any other source, whatever changed the row.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from sqlalchemy import update
from tests.integration.listener import Listener, listening
from tests.integration.web.test_onboarding import (  # noqa: F401
    accounts,
    create,
    data_manager,
    field_error,
    service_of,
    source,
    vendor,
    world,
)

from rostersync.demo.sandbox import Sandbox
from rostersync.errors import CredentialNotForSource
from rostersync.store.tables import integrations


@pytest.fixture
def listener() -> Listener:
    with listening() as running:
        yield running  # type: ignore[misc]


def stored_source(world: Sandbox, slug: str) -> tuple[str, str]:
    integration = service_of(world).districts.get(slug)[1]
    return integration.source_kind, integration.source_url


def v1p2(world: Sandbox, slug: str) -> str:
    """The simulator's 1.2 base for Capital City's roster, under a district onboarded as `slug`."""
    del slug
    return str(world.roster.v1p2_base_url("capital"))


class TestAChangedSourceNeedsTheSecretAgain:
    def test_a_data_manager_pointing_the_source_at_a_listener_sends_it_nothing(
        self, data_manager: httpx.Client, world: Sandbox, listener: Listener
    ) -> None:
        before = stored_source(world, "springfield")
        response = source(
            data_manager,
            world,
            "springfield",
            source_url=f"{listener.url}/ims/oneroster/v1p1",
            key="",
            secret="",
        )
        assert response.status_code == 400
        assert "type its secret again" in field_error(response.text, "secret")
        assert listener.requests == []
        assert stored_source(world, "springfield") == before

    def test_the_stored_1_2_secret_never_reaches_a_listener_as_basic_auth(
        self, vendor: httpx.Client, world: Sandbox, listener: Listener
    ) -> None:
        create(vendor, "cap-seal-basic")
        stored = source(
            vendor,
            world,
            "cap-seal-basic",
            source_kind="oneroster-1.2",
            source_url=v1p2(world, "cap-seal-basic"),
        )
        assert "the credentials work" in stored.text
        response = source(
            vendor,
            world,
            "cap-seal-basic",
            source_kind="oneroster-1.2",
            source_url=f"{listener.url}/ims/oneroster/rostering/v1p2",
            key="",
            secret="",
        )
        assert response.status_code == 400
        assert "type its secret again" in field_error(response.text, "secret")
        assert listener.requests == []

    @pytest.mark.parametrize(
        ("what", "kind", "change"),
        [
            ("kind", "oneroster-1.2", lambda url: url),
            ("scheme", "oneroster-1.1", lambda url: url.replace("http://", "https://")),
            ("host", "oneroster-1.1", lambda url: url.replace("127.0.0.1", "localhost")),
            ("port", "oneroster-1.1", lambda url: url.replace("127.0.0.1:", "127.0.0.1:1")),
            ("path", "oneroster-1.1", lambda url: url.replace("/ims/", "/other/ims/")),
        ],
    )
    def test_any_part_of_the_source_changing_needs_the_secret_again(
        self, vendor: httpx.Client, world: Sandbox, what: str, kind: str, change: object
    ) -> None:
        slug = f"cap-seal-{what}"
        create(vendor, slug)
        assert source(vendor, world, slug, action="save").status_code == 303
        before = stored_source(world, slug)
        new_url = change(before[1])  # type: ignore[operator]
        response = source(
            vendor, world, slug, source_kind=kind, source_url=new_url, key="", secret=""
        )
        assert response.status_code == 400, what
        assert "type its secret again" in field_error(response.text, "secret")
        assert stored_source(world, slug) == before

    def test_the_same_source_written_differently_keeps_the_stored_secret(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-seal-same")
        assert source(vendor, world, "cap-seal-same", action="save").status_code == 303
        url = stored_source(world, "cap-seal-same")[1]
        same = url.replace("http://127.0.0.1", "HTTP://127.0.0.1") + "/"
        response = source(vendor, world, "cap-seal-same", source_url=same, key="", secret="")
        assert response.status_code == 200 and "the credentials work" in response.text

    def test_a_secret_typed_again_goes_to_the_new_source_and_the_old_one_does_not(
        self, vendor: httpx.Client, world: Sandbox, listener: Listener
    ) -> None:
        create(vendor, "cap-seal-retyped")
        source(
            vendor,
            world,
            "cap-seal-retyped",
            source_kind="oneroster-1.2",
            source_url=v1p2(world, "cap-seal-retyped"),
        )
        _url, key, old_secret = world.roster_credentials["capital"]
        response = source(
            vendor,
            world,
            "cap-seal-retyped",
            source_kind="oneroster-1.2",
            source_url=f"{listener.url}/ims/oneroster/rostering/v1p2",
            key="new-client-id",
            secret="typed-for-the-new-source",
        )
        assert response.status_code == 400  # the listener refuses it: 401
        typed = base64.b64encode(b"new-client-id:typed-for-the-new-source").decode()
        assert listener.heard(typed)
        assert not listener.heard(base64.b64encode(f"{key}:{old_secret}".encode()).decode())
        assert not listener.heard(old_secret)


class TestTheStoreIsTheGate:
    def test_a_source_changed_behind_the_forms_back_gets_no_secret(
        self, vendor: httpx.Client, world: Sandbox, listener: Listener
    ) -> None:
        create(vendor, "cap-seal-row")
        source(
            vendor,
            world,
            "cap-seal-row",
            source_kind="oneroster-1.2",
            source_url=v1p2(world, "cap-seal-row"),
        )
        service = service_of(world)
        district_id = service.districts.get("cap-seal-row")[0].id
        with service.engine.begin() as conn:
            conn.execute(
                update(integrations)
                .where(integrations.c.district_id == district_id)
                .values(source_url=f"{listener.url}/ims/oneroster/rostering/v1p2")
            )
        with pytest.raises(CredentialNotForSource, match="type the key and secret again"):
            service.onboarding.test_source("cap-seal-row")
        with pytest.raises(CredentialNotForSource):
            service.runs.configured_source("cap-seal-row")
        assert listener.requests == []


class TestTheProxyIsTheVendors:
    def test_a_data_manager_cannot_point_their_district_at_a_proxy_tenant(
        self, data_manager: httpx.Client, world: Sandbox
    ) -> None:
        before = stored_source(world, "springfield")
        response = source(
            data_manager,
            world,
            "springfield",
            source_kind="classlink-proxy",
            source_url="",
            key="1004",
            secret="",
        )
        assert response.status_code == 400
        assert "Only the vendor" in field_error(response.text, "source_kind")
        assert stored_source(world, "springfield") == before

    def test_vendor_staff_give_only_the_tenant_id_and_no_partner_key_is_stored(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-proxy")
        response = source(
            vendor,
            world,
            "cap-proxy",
            action="save",
            source_kind="classlink-proxy",
            source_url="https://somewhere.example/ignored",
            key="1004",
            secret="a-partner-key-typed-by-mistake",
        )
        assert response.status_code == 303
        service = service_of(world)
        assert stored_source(world, "cap-proxy") == ("classlink-proxy", "")
        from rostersync.store.districts import get_credentials

        with service.engine.connect() as conn:
            district_id = service.districts.get("cap-proxy")[0].id
            assert get_credentials(conn, service.box, district_id) == ("1004", "")
