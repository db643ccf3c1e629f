"""The provider registry: every source kind declared once, and every pulling one guarded."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rostersync.config import Settings
from rostersync.domain import staff_import
from rostersync.errors import ConfigError
from rostersync.jobs.scheduler import UNSCHEDULED_SOURCE_KINDS
from rostersync.oneroster.outbound import OutboundRefused
from rostersync.providers import (
    BUILTIN,
    PROVIDERS,
    ClientOptions,
    CredentialField,
    Provider,
    Registry,
    SourceConfig,
    build_source,
    classlink_proxy,
    none,
    oneroster_v1p1,
)
from rostersync.sync.sources import ClientSource, OneRosterRestSource, RosterSource

LOOPBACK_URLS = {
    "oneroster-1.1": "https://127.0.0.1:9/ims/oneroster/v1p1",
    "oneroster-1.2": "https://127.0.0.1:9/ims/oneroster/rostering/v1p2",
    "classlink-proxy": "",
    "clever": "",
}


@dataclass(frozen=True)
class Integration:
    source_kind: str
    source_url: str = ""


@dataclass
class Answers:
    source_kind: str
    source_url: str = ""
    key: str = ""
    secret: str = ""


def strict(**overrides: object) -> Settings:
    """Settings whose outbound policy refuses loopback, as in production."""
    values: dict[str, object] = {
        "outbound_allow_private": False,
        "outbound_require_https": True,
        "http_max_retries": 0,
        "http_timeout_seconds": 2.0,
        "classlink_partner_key": "partner-key",
        "classlink_proxy_url": "https://127.0.0.1:9",
        "clever_client_id": "clever-app",
        "clever_client_secret": "clever-secret",
        "clever_oauth_url": "https://127.0.0.1:9",
        "clever_api_url": "https://127.0.0.1:9",
    }
    return Settings.model_validate({**values, **overrides})


def test_every_kind_is_registered_once_in_the_order_of_the_messages() -> None:
    assert PROVIDERS.kinds() == (
        "oneroster-1.1",
        "oneroster-1.2",
        "classlink-proxy",
        "clever",
        "none",
        "oneroster-push",
        "pending",
    )
    assert PROVIDERS.pulling_kinds() == (
        "oneroster-1.1",
        "oneroster-1.2",
        "classlink-proxy",
        "clever",
    )
    assert tuple(PROVIDERS) == BUILTIN


def test_the_scheduler_skips_exactly_the_kinds_the_registry_calls_unscheduled() -> None:
    assert set(PROVIDERS.unscheduled_kinds()) == set(UNSCHEDULED_SOURCE_KINDS)


def test_the_domain_calls_not_rostered_the_kind_the_none_provider_registers() -> None:
    # The pure domain may not import the registry, so its one kind name is checked here.
    assert staff_import.NOT_ROSTERED == none.KIND
    assert not PROVIDERS.get(staff_import.NOT_ROSTERED).pulls


def test_the_wizard_offers_the_rest_doors_the_proxy_clever_and_push_under_their_values() -> None:
    values = [value for value, _label in PROVIDERS.wizard_choices()]
    assert values == ["oneroster-1.1", "oneroster-1.2", "classlink-proxy", "clever", "push"]
    assert PROVIDERS.by_choice("push") is PROVIDERS.get("oneroster-push")
    assert PROVIDERS.by_choice("pending") is None and PROVIDERS.by_choice("none") is None


def test_only_the_proxy_and_clever_are_vendor_only_and_the_proxy_asks_only_a_tenant_id() -> None:
    assert [p.kind for p in PROVIDERS if p.vendor_only] == ["classlink-proxy", "clever"]
    proxy = PROVIDERS.get("classlink-proxy")
    assert [f.name for f in proxy.fields] == ["key"]
    assert not proxy.needs_url and not proxy.asks_secret
    assert [s.name for s in proxy.vendor_settings] == [
        "classlink_proxy_url",
        "classlink_partner_key",
    ]
    rest = PROVIDERS.get("oneroster-1.2")
    assert [f.name for f in rest.fields] == ["source_url", "key", "secret"]


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"'schoology' is not one of oneroster-1\.1, .*pending"):
        PROVIDERS.get("schoology")
    with pytest.raises(ConfigError, match=r"'pending' is not one of .*integration settings"):
        PROVIDERS.pulling("pending")


def test_a_kind_or_a_wizard_value_cannot_be_registered_twice() -> None:
    registry = Registry()
    registry.register(oneroster_v1p1.PROVIDER)
    with pytest.raises(ValueError, match="registered already"):
        registry.register(oneroster_v1p1.PROVIDER)
    twin = Provider(kind="other", label="Other", in_wizard=True, wizard_value="oneroster-1.1")
    with pytest.raises(ValueError, match=r"wizard value 'oneroster-1\.1' is taken"):
        registry.register(twin)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (Answers("oneroster-1.1", "https://x.example", "k", ""), "needs its source URL, key"),
        (Answers("oneroster-1.2", "", "k", "s"), "needs its source URL, key"),
        (Answers("classlink-proxy", "", "", ""), "needs its ClassLink tenant id"),
        (Answers("classlink-proxy", "", "1004", "s"), "partner key is the vendor's"),
    ],
)
def test_each_provider_checks_its_own_answers(answers: Answers, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PROVIDERS.get(answers.source_kind).check(answers)


def test_kinds_that_are_not_pulled_ask_for_nothing() -> None:
    for kind in ("none", "oneroster-push", "pending"):
        PROVIDERS.get(kind).check(Answers(kind))
        with pytest.raises(ConfigError):
            build_source(Integration(kind), "", "", strict())


def test_a_missing_vendor_setting_is_named_before_anything_is_sent() -> None:
    with pytest.raises(ConfigError, match="ROSTERSYNC_CLASSLINK_PARTNER_KEY"):
        build_source(
            Integration(classlink_proxy.KIND), "1004", "", strict(classlink_partner_key="")
        )


@pytest.mark.parametrize("kind", PROVIDERS.pulling_kinds())
def test_every_pulling_provider_connects_only_through_the_outbound_guard(kind: str) -> None:
    # A loopback address under the strict policy: the guard refuses it before a byte leaves,
    # whichever provider built the source (the proxy's directory looks the tenant up at once).
    with pytest.raises(OutboundRefused):
        source = build_source(Integration(kind, LOOPBACK_URLS[kind]), "k", "s", strict())
        next(iter(source.records()))


class EchoProvider(Provider):
    """A provider of this test's own: OneRoster 1.1 under another name."""

    def open(
        self,
        integration: SourceConfig,
        key: str,
        secret: str,
        settings: Settings,
        options: ClientOptions,
    ) -> RosterSource:
        return OneRosterRestSource(integration.source_url, key, secret, **options)


def test_a_new_provider_is_one_class_and_one_registration() -> None:
    echo = EchoProvider(
        kind="echo",
        label="Echo",
        fields=(CredentialField(name="source_url", label="URL"),),
        pulls=True,
        in_wizard=True,
    )
    PROVIDERS.register(echo)
    try:
        assert ("echo", "Echo") in PROVIDERS.wizard_choices()
        assert "echo" in PROVIDERS.pulling_kinds()
        source = build_source(Integration("echo", "https://127.0.0.1:9/x"), "k", "s", strict())
        assert isinstance(source, OneRosterRestSource)
        # The registry handed it the guarded options: it cannot reach loopback either.
        with pytest.raises(OutboundRefused):
            next(iter(source.records()))
    finally:
        PROVIDERS.unregister("echo")
    assert "echo" not in PROVIDERS


@pytest.mark.parametrize("kind", ["oneroster-1.1", "oneroster-1.2"])
def test_the_page_concurrency_setting_reaches_every_rest_client(kind: str) -> None:
    # Built, not pulled: nothing is sent, so the loopback address does no harm here.
    settings = strict(roster_page_concurrency=3)
    source = build_source(Integration(kind, LOOPBACK_URLS[kind]), "k", "s", settings)
    assert isinstance(source, ClientSource)
    assert source._client.page_concurrency == 3
