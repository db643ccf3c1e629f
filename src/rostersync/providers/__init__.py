"""Roster providers: every source kind a district can have, behind one registry.

`PROVIDERS` holds them by kind; the service, the onboarding wizard and the CLI ask it, never a
kind's string. Adding a provider is one module defining a `Provider` plus one entry in `BUILTIN`.
"""

from __future__ import annotations

from rostersync.providers import (
    classlink_proxy,
    clever,
    none,
    oneroster_v1p1,
    oneroster_v1p2,
    push,
)
from rostersync.providers.registry import (
    PROVIDERS,
    ClientOptions,
    CredentialField,
    Provider,
    Registry,
    RestConnect,
    RestProvider,
    SourceAnswers,
    SourceConfig,
    VendorSetting,
    build_source,
    client_options,
)

__all__ = [
    "BUILTIN",
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
]

# The one place providers are registered; the order is the wizard's and the messages'.
BUILTIN: tuple[Provider, ...] = (
    oneroster_v1p1.PROVIDER,
    oneroster_v1p2.PROVIDER,
    classlink_proxy.PROVIDER,
    clever.PROVIDER,
    none.PROVIDER,
    push.PROVIDER,
    none.PENDING,
)

for _provider in BUILTIN:
    PROVIDERS.register(_provider)
