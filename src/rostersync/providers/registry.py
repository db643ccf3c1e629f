"""The provider registry: every source kind behind one door.

A *provider* is one kind of roster source a district can have (`integrations.source_kind`). It
declares, in one object, everything the rest of rostersync asks about that kind:

- what the wizard calls it (`label`), whether it is offered there and to whom (`vendor_only`);
- the credential fields a district gives for it (`fields`: the source URL, key and secret slots,
  each with its label, hint and the message when it is missing);
- the vendor-wide settings it reads (`vendor_settings`, e.g. the ClassLink proxy's partner key,
  never a district's; decision 0018);
- whether rostersync pulls from it (`pulls`) and schedules it (`scheduled`);
- what a district's people call it in fixes and notes (`source_name`, "ClassLink" unless
  set; `Registry.audience` hands it to the domain's wording);
- how it builds its `RosterSource` (`build_source`), tests a connection (`test_connection`) and
  checks a district's answers (`check`).

A REST door read at the district's own source URL with its key and secret is a `RestProvider`
given the function that opens it (`connect`); it needs no class of its own.

Every pulling provider gets its HTTP options from `client_options`, which always carries the
outbound guard (`guarded_transport(settings.outbound_policy)`, decision 0019): a provider opens
its source in `open` with the options it is handed and never builds a transport of its own.

Adding a provider is one module that defines a `Provider` (usually a subclass overriding `open`)
plus one line in `rostersync.providers.BUILTIN`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict
from urllib.parse import urlsplit

import httpx

from rostersync.config import Settings
from rostersync.domain.issue_groups import Audience, audience_for
from rostersync.errors import ConfigError
from rostersync.oneroster.budget import RosterBudget, shared_budget
from rostersync.oneroster.outbound import guarded_transport
from rostersync.oneroster.transport import BudgetTransport
from rostersync.sync.sources import RosterSource, first_record

__all__ = [
    "PROVIDERS",
    "ClientOptions",
    "CredentialField",
    "Provider",
    "Registry",
    "RestConnect",
    "RestProvider",
    "SourceAnswers",
    "SourceConfig",
    "VendorSetting",
    "build_source",
    "client_options",
    "roster_budget",
]

FieldName = Literal["source_url", "key", "secret"]


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One thing a district gives for its source, stored in the slot `name`.

    The key and secret slots are stored encrypted and sealed to the source (decision 0018);
    the source URL is stored as typed.
    """

    name: FieldName
    label: str
    hint: str = ""
    # The wizard's message when the field is left empty and nothing usable is stored.
    missing: str = ""


@dataclass(frozen=True, slots=True)
class VendorSetting:
    """A setting of the vendor's (one for every district), read from `Settings`."""

    name: str  # the `Settings` attribute, e.g. "classlink_partner_key"
    env: str  # the environment variable that sets it
    label: str
    required: bool = True
    # Why a source cannot be built while the setting is empty, and how to set it.
    missing: str = ""

    def value(self, settings: Settings) -> str:
        """The setting's value ("" when unset)."""
        value = getattr(settings, self.name)
        return value if isinstance(value, str) else str(value)


class SourceConfig(Protocol):
    """What a provider reads of a district's stored integration (an `IntegrationRecord`)."""

    @property
    def source_kind(self) -> str: ...

    @property
    def source_url(self) -> str: ...


class SourceAnswers(Protocol):
    """A district's source answers as a person gave them (a `Questionnaire`)."""

    @property
    def source_kind(self) -> str: ...

    @property
    def source_url(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def secret(self) -> str: ...


class ClientOptions(TypedDict):
    """What every pulling provider's HTTP client is opened with."""

    page_size: int
    page_concurrency: int
    timeout: float
    max_retries: int
    transport: httpx.BaseTransport


def roster_budget(settings: Settings) -> RosterBudget:
    """The request budget every roster transport of this deployment shares (decision 0029):
    in Redis when the queue is on Redis (or at `rate_limit_storage_url`), else in this process,
    one per queue (its name and data directory)."""
    url = settings.rate_limit_storage_url or (
        settings.redis_url if settings.queue_backend == "redis" else "memory://"
    )
    prefix = settings.queue_name
    if url.startswith("memory"):
        prefix = f"{settings.data_dir.resolve()}:{prefix}"
    domains = tuple(
        d.strip() for d in settings.roster_budget_shared_domains.split(",") if d.strip()
    )
    return shared_budget(
        url,
        prefix,
        settings.roster_requests_per_second,
        settings.roster_budget_max_wait_seconds,
        domains,
    )


def client_options(settings: Settings, district: str = "") -> ClientOptions:
    """Page size, timeout, retries and the outbound guard within the shared request budget."""
    return {
        "page_size": settings.page_size,
        "page_concurrency": settings.roster_page_concurrency,
        "timeout": settings.http_timeout_seconds,
        "max_retries": settings.http_max_retries,
        # A district's source URL is typed by a person: connect only where the policy allows.
        "transport": BudgetTransport(
            guarded_transport(settings.outbound_policy), roster_budget(settings), district
        ),
    }


@dataclass(frozen=True, kw_only=True)
class Provider:
    """A source kind and everything rostersync asks about it.

    The base class is a provider that is never pulled from (a district rostered by hand, one
    that pushes files, one not set up yet). A pulling provider sets `pulls=True` and overrides
    `open`; it may override `check` and `address`.
    """

    kind: str
    label: str
    fields: tuple[CredentialField, ...] = ()
    vendor_settings: tuple[VendorSetting, ...] = ()
    # Why only vendor staff may choose it in the wizard ("" = anyone who may edit the district).
    vendor_only: str = ""
    pulls: bool = False
    scheduled: bool = True
    in_wizard: bool = False
    # The value the wizard's form posts for it ("" = the kind).
    wizard_value: str = ""
    # For a provider that is not pulled: why a sync has nothing to read ("{district}" is the
    # district's display name).
    not_pulled: str = "{district} has no roster source to pull from"
    # For a pulling provider: the message when its URL, key or secret is missing.
    incomplete: str = ""
    # For a provider without a secret: the message when a district switches to it without
    # typing its key (a key stored for another kind means nothing here).
    new_key_needed: str = "enter the district's key for this source"
    # What the district's data managers call where the roster comes from, in every fix and
    # note ("share it in ClassLink"), and what a record's id there is called.
    source_name: str = "ClassLink"

    @property
    def id_label(self) -> str:
        """What a record's id at the source is called on the pages: "ClassLink id"."""
        return f"{self.source_name} id"

    @property
    def choice(self) -> str:
        """The value the wizard posts for this provider."""
        return self.wizard_value or self.kind

    @property
    def needs_url(self) -> bool:
        """Whether a district gives a source URL (else it is stored empty)."""
        return self.field("source_url") is not None

    @property
    def asks_secret(self) -> bool:
        """Whether a district gives a secret (else it is stored empty)."""
        return self.field("secret") is not None

    def field(self, name: FieldName) -> CredentialField | None:
        """The credential field stored in slot `name`, if this provider asks for one."""
        return next((f for f in self.fields if f.name == name), None)

    def check(self, setup: SourceAnswers) -> None:
        """Refuse source answers that cannot work, with what to change.

        The default: every field the provider asks for is given.

        Raises:
            ConfigError: A field is missing.
        """
        if any(not getattr(setup, f.name) for f in self.fields):
            raise ConfigError(self.incomplete or f"{self.label} needs every field filled in")

    def build_source(
        self, integration: SourceConfig, key: str, secret: str, settings: Settings
    ) -> RosterSource:
        """The roster source for a district's stored integration and decrypted credentials.

        Raises:
            ConfigError: The provider is not pulled from, a vendor setting it needs is empty,
                or the URL is unusable.
            SourceAuthError: The source refused the credentials while the source was opened.
        """
        if not self.pulls:
            raise ConfigError(f"source kind {self.kind!r} is not pulled from")
        for setting in self.vendor_settings:
            if setting.required and not setting.value(settings):
                raise ConfigError(
                    setting.missing
                    or f"{self.label} needs the vendor setting {setting.env}; set it first"
                )
        district = str(getattr(integration, "district_id", ""))
        return self.open(integration, key, secret, settings, client_options(settings, district))

    def open(
        self,
        integration: SourceConfig,
        key: str,
        secret: str,
        settings: Settings,
        options: ClientOptions,
    ) -> RosterSource:
        """Open the source with `options` (which carry the outbound guard); pulling providers."""
        raise ConfigError(f"source kind {self.kind!r} is not pulled from")

    def address(self, integration: SourceConfig, settings: Settings) -> str:
        """The host a connection test reports reaching."""
        return urlsplit(integration.source_url).netloc

    def test_connection(
        self, integration: SourceConfig, key: str, secret: str, settings: Settings
    ) -> str:
        """Authenticate and read one page of orgs: one request, no retries, a short timeout.

        Nothing is written. Returns what was reached, in a sentence.

        Raises:
            ConfigError: The provider is not pulled from, or its URL or settings are unusable.
            SourceAuthError: The source refused the credentials (`.credential` says which).
            SourceError: The source could not be reached or answered something unusable.
        """
        quick = settings.model_copy(
            update={
                "page_size": 1,
                "http_max_retries": 0,
                "http_timeout_seconds": min(settings.http_timeout_seconds, 10.0),
            }
        )
        first = first_record(self.build_source(integration, key, secret, quick))
        host = self.address(integration, settings)
        if first is None:
            return (
                f"Connected to {host}: the credentials work, but the district shares no records "
                "yet."
            )
        name = getattr(first, "name", "") or getattr(first, "title", "")
        return f"Connected to {host}: the credentials work and the first organisation is {name}."


class RestConnect(Protocol):
    """Opens a REST roster source at a base URL with a key and secret, and the client options."""

    def __call__(
        self,
        base_url: str,
        key: str,
        secret: str,
        /,
        *,
        page_size: int,
        page_concurrency: int,
        timeout: float,
        max_retries: int,
        transport: httpx.BaseTransport,
    ) -> RosterSource: ...


@dataclass(frozen=True, kw_only=True)
class RestProvider(Provider):
    """A REST door read at the district's own source URL with its key and secret."""

    connect: RestConnect
    pulls: bool = True
    in_wizard: bool = True

    def open(
        self,
        integration: SourceConfig,
        key: str,
        secret: str,
        settings: Settings,
        options: ClientOptions,
    ) -> RosterSource:
        return self.connect(integration.source_url, key, secret, **options)


class Registry:
    """The providers by kind, in the order they were registered."""

    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}

    def register(self, provider: Provider) -> Provider:
        """Add a provider.

        Raises:
            ValueError: Its kind or wizard value is taken already.
        """
        if provider.kind in self._providers:
            raise ValueError(f"a provider of kind {provider.kind!r} is registered already")
        if provider.in_wizard and any(
            p.in_wizard and p.choice == provider.choice for p in self._providers.values()
        ):
            raise ValueError(f"the wizard value {provider.choice!r} is taken already")
        self._providers[provider.kind] = provider
        return provider

    def unregister(self, kind: str) -> None:
        """Remove the provider of `kind` (a test's own provider, when the test ends)."""
        self._providers.pop(kind, None)

    def __iter__(self) -> Iterator[Provider]:
        return iter(tuple(self._providers.values()))

    def __contains__(self, kind: object) -> bool:
        return kind in self._providers

    def kinds(self) -> tuple[str, ...]:
        """Every registered kind."""
        return tuple(self._providers)

    def pulling_kinds(self) -> tuple[str, ...]:
        """The kinds rostersync pulls from (buildable and testable)."""
        return tuple(p.kind for p in self if p.pulls)

    def unscheduled_kinds(self) -> tuple[str, ...]:
        """The kinds the scheduler never starts a sync for."""
        return tuple(p.kind for p in self if not p.scheduled)

    def get(self, kind: str) -> Provider:
        """The provider of `kind`.

        Raises:
            ConfigError: No provider has that kind.
        """
        try:
            return self._providers[kind]
        except KeyError:
            raise ConfigError(
                f"source kind {kind!r} is not one of {', '.join(self.kinds())}"
            ) from None

    def pulling(self, kind: str) -> Provider:
        """The pulling provider of `kind`.

        Raises:
            ConfigError: No pulling provider has that kind.
        """
        provider = self._providers.get(kind)
        if provider is None or not provider.pulls:
            raise ConfigError(
                f"source kind {kind!r} is not one of {', '.join(self.pulling_kinds())}; fix the "
                "district's integration settings"
            )
        return provider

    def audience(self, kind: str) -> Audience:
        """How a district of source kind `kind` is told to fix a record: in its files, or in its
        SIS and the source its provider names (`source_name`); an unknown kind as ClassLink."""
        provider = self._providers.get(kind)
        return audience_for(kind, provider.source_name if provider else Audience.CLASSLINK.source)

    def wizard_choices(self) -> tuple[tuple[str, str], ...]:
        """(value, label) of the providers the wizard offers, in registration order.

        A vendor-only provider is listed for everyone (its label says so); choosing it is
        refused for anyone but vendor staff, with its `vendor_only` reason.
        """
        return tuple((p.choice, p.label) for p in self if p.in_wizard)

    def by_choice(self, value: str) -> Provider | None:
        """The provider the wizard's posted value names, if it offers one."""
        return next((p for p in self if p.in_wizard and p.choice == value), None)


PROVIDERS = Registry()


def build_source(
    integration: SourceConfig, key: str, secret: str, settings: Settings
) -> RosterSource:
    """The roster source a district's integration names by `source_kind`.

    Args:
        integration: The district's `IntegrationRecord` (`source_kind`, `source_url`).
        key: The decrypted key: consumer key, client id, or (proxy) the ClassLink tenant id.
        secret: The decrypted secret ("" for a provider that asks none).
        settings: Page size, timeout, retries, the outbound policy and vendor settings.

    Raises:
        ConfigError: The source kind is not pulled from, or its URL or settings are unusable.
        SourceAuthError: The source refused the credentials while it was opened.
    """
    return PROVIDERS.pulling(integration.source_kind).build_source(
        integration, key, secret, settings
    )
