# The wizard's world and signed-in browsers are test_onboarding's fixtures, imported by name.
# ruff: noqa: F811
"""Adding a provider is one module plus one registration: the wizard, the service and a pull
take it from the registry, with no other change.

The provider here is this test's own (OneRoster 1.1 under another kind, as a gateway in front of
the ClassLink simulator would be), registered for the test and removed after it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.integration.web.test_onboarding import (  # noqa: F401
    accounts,
    create,
    field_error,
    service_of,
    source,
    vendor,
    world,
)

from rostersync.config import Settings
from rostersync.demo.sandbox import Sandbox
from rostersync.providers import (
    PROVIDERS,
    ClientOptions,
    CredentialField,
    Provider,
    SourceConfig,
    build_source,
)
from rostersync.store.districts import get_credentials
from rostersync.sync.sources import OneRosterRestSource, RosterSource

KIND = "test-gateway"
LABEL = "Test gateway in front of a OneRoster 1.1 server"


class GatewayProvider(Provider):
    """The one module a new provider is: its fields, and how it opens its source."""

    def open(
        self,
        integration: SourceConfig,
        key: str,
        secret: str,
        settings: Settings,
        options: ClientOptions,
    ) -> RosterSource:
        return OneRosterRestSource(integration.source_url, key, secret, **options)


GATEWAY = GatewayProvider(
    kind=KIND,
    label=LABEL,
    fields=(
        CredentialField(name="source_url", label="Gateway URL"),
        CredentialField(name="key", label="Gateway id", missing="Enter the gateway id."),
        CredentialField(name="secret", label="Gateway secret", missing="Enter the secret."),
    ),
    pulls=True,
    in_wizard=True,
    incomplete="the gateway needs its URL, id and secret",
)


@pytest.fixture
def gateway() -> Iterator[Provider]:
    """The one registration."""
    PROVIDERS.register(GATEWAY)
    try:
        yield GATEWAY
    finally:
        PROVIDERS.unregister(KIND)


def test_a_registered_provider_is_offered_checked_tested_and_pulled(
    gateway: Provider, vendor: httpx.Client, world: Sandbox
) -> None:
    create(vendor, "cap-gateway")
    page = vendor.get("/admin/onboarding/cap-gateway/source").text
    assert f'value="{KIND}"' in page and LABEL in page

    # Its own fields' messages, when they are left empty.
    missing = source(vendor, world, "cap-gateway", source_kind=KIND, key="", secret="")
    assert missing.status_code == 400
    assert field_error(missing.text, "key").endswith("Enter the gateway id.")
    assert field_error(missing.text, "secret").endswith("Enter the secret.")

    tested = source(vendor, world, "cap-gateway", source_kind=KIND)
    assert tested.status_code == 200, tested.text
    assert "Connected to 127.0.0.1" in tested.text and "the credentials work" in tested.text

    service = service_of(world)
    district, integration = service.districts.get("cap-gateway")
    assert integration.source_kind == KIND
    with service.engine.connect() as conn:
        key, secret = get_credentials(conn, service.box, district.id)
    pulled = build_source(integration, key, secret, service.settings)
    assert sum(1 for _ in pulled.records()) > 0


def test_without_its_registration_the_wizard_does_not_offer_or_accept_it(
    vendor: httpx.Client, world: Sandbox
) -> None:
    create(vendor, "cap-no-gateway")
    assert f'value="{KIND}"' not in vendor.get("/admin/onboarding/cap-no-gateway/source").text
    response = source(vendor, world, "cap-no-gateway", source_kind=KIND)
    assert response.status_code == 400
    assert "Choose where" in field_error(response.text, "source_kind")


def test_the_source_step_lists_what_each_offered_provider_needs(
    gateway: Provider, vendor: httpx.Client, world: Sandbox
) -> None:
    create(vendor, "cap-needs")
    page = vendor.get("/admin/onboarding/cap-needs/source").text
    needs = page[page.index('id="source-needs"') :].split("</ul>")[0]
    assert f"{LABEL}: Gateway URL, Gateway id, Gateway secret." in needs
    assert "ClassLink tenant id (the ClassLink proxy URL and ClassLink partner key" in needs
