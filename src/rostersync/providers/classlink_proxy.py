"""The ClassLink OneRoster proxy: one vendor-wide door to every district that shares with us.

The district gives only its ClassLink tenant id (stored as the key, sealed like any key). The
proxy's address and the partner key are the vendor's settings, never a district's (decision
0018): `ROSTERSYNC_CLASSLINK_PROXY_URL` and `ROSTERSYNC_CLASSLINK_PARTNER_KEY`. Because it reads
with the vendor's partner key, only vendor staff point a district at it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from rostersync.config import Settings
from rostersync.errors import ConfigError
from rostersync.providers.registry import (
    ClientOptions,
    CredentialField,
    Provider,
    SourceAnswers,
    SourceConfig,
    VendorSetting,
)
from rostersync.sync.rest_sources import proxy_source
from rostersync.sync.sources import RosterSource

KIND = "classlink-proxy"

PROXY_URL = VendorSetting(
    name="classlink_proxy_url",
    env="ROSTERSYNC_CLASSLINK_PROXY_URL",
    label="ClassLink proxy URL",
)
PARTNER_KEY = VendorSetting(
    name="classlink_partner_key",
    env="ROSTERSYNC_CLASSLINK_PARTNER_KEY",
    label="ClassLink partner key",
    missing=(
        "this district is read through the ClassLink proxy, but the vendor's partner key is not "
        "set: set ROSTERSYNC_CLASSLINK_PARTNER_KEY (from ClassLink's developer console)"
    ),
)


class ClassLinkProxy(Provider):
    """A district read through the ClassLink proxy, found by its tenant id."""

    def check(self, setup: SourceAnswers) -> None:
        if setup.secret:
            raise ConfigError(
                "the ClassLink partner key is the vendor's, never a district's: set "
                "ROSTERSYNC_CLASSLINK_PARTNER_KEY in the vendor's settings and give the "
                "district only its ClassLink tenant id as the key"
            )
        if not setup.key:
            raise ConfigError(
                "a district read through the ClassLink proxy needs its ClassLink tenant id as "
                "the key"
            )

    def open(
        self,
        integration: SourceConfig,
        key: str,
        secret: str,
        settings: Settings,
        options: ClientOptions,
    ) -> RosterSource:
        return proxy_source(PROXY_URL.value(settings), PARTNER_KEY.value(settings), key, **options)

    def address(self, integration: SourceConfig, settings: Settings) -> str:
        return urlsplit(PROXY_URL.value(settings)).netloc


PROVIDER = ClassLinkProxy(
    kind=KIND,
    label="ClassLink OneRoster proxy (the district's tenant id; vendor staff only)",
    fields=(
        CredentialField(
            name="key",
            label="ClassLink tenant id",
            hint="The district's ClassLink tenant id; the proxy's address and partner key are "
            "the vendor's.",
            missing="Enter the district's ClassLink tenant id.",
        ),
    ),
    vendor_settings=(PROXY_URL, PARTNER_KEY),
    vendor_only=(
        "Only the vendor connects a district through the ClassLink proxy, because it reads with "
        "the vendor's partner key: ask your vendor contact, or choose your district's own "
        "OneRoster server."
    ),
    pulls=True,
    in_wizard=True,
    new_key_needed="enter the district's ClassLink tenant id as the key for the proxy",
)
