"""Clever: districts that share their roster with the vendor's Clever app (Secure Sync).

The district gives only its Clever district id (stored as the key, sealed like any key). The app's
client id and secret are the vendor's settings, never a district's (decision 0018):
`ROSTERSYNC_CLEVER_CLIENT_ID` and `ROSTERSYNC_CLEVER_CLIENT_SECRET`, with Clever's addresses in
`ROSTERSYNC_CLEVER_API_URL` and `ROSTERSYNC_CLEVER_OAUTH_URL`. A sync lists the app's
district-app tokens, takes the district's, and reads the Data API v3.1 with it
(`rostersync.clever`). Because it reads with the vendor's app secret, only vendor staff point a
district at it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from rostersync.clever.client import MAX_PAGE_SIZE, CleverApp, CleverClient
from rostersync.clever.source import CleverSource
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
from rostersync.sync.sources import RosterSource

KIND = "clever"

CLIENT_ID = VendorSetting(
    name="clever_client_id",
    env="ROSTERSYNC_CLEVER_CLIENT_ID",
    label="Clever app client id",
    missing=(
        "this district is read from Clever, but the vendor's Clever app is not set up: set "
        "ROSTERSYNC_CLEVER_CLIENT_ID and ROSTERSYNC_CLEVER_CLIENT_SECRET (from the Clever app "
        "dashboard)"
    ),
)
CLIENT_SECRET = VendorSetting(
    name="clever_client_secret",
    env="ROSTERSYNC_CLEVER_CLIENT_SECRET",
    label="Clever app client secret",
    missing=(
        "this district is read from Clever, but the vendor's Clever app secret is not set: set "
        "ROSTERSYNC_CLEVER_CLIENT_SECRET (from the Clever app dashboard)"
    ),
)
API_URL = VendorSetting(
    name="clever_api_url",
    env="ROSTERSYNC_CLEVER_API_URL",
    label="Clever API URL",
)
OAUTH_URL = VendorSetting(
    name="clever_oauth_url",
    env="ROSTERSYNC_CLEVER_OAUTH_URL",
    label="Clever OAuth URL",
)


class Clever(Provider):
    """A district read from Clever, found among the app's district-app tokens by its id."""

    def check(self, setup: SourceAnswers) -> None:
        if setup.secret:
            raise ConfigError(
                "the Clever app's secret is the vendor's, never a district's: set "
                "ROSTERSYNC_CLEVER_CLIENT_SECRET in the vendor's settings and give the district "
                "only its Clever district id as the key"
            )
        if not setup.key:
            raise ConfigError("a district read from Clever needs its Clever district id as the key")

    def open(
        self,
        integration: SourceConfig,
        key: str,
        secret: str,
        settings: Settings,
        options: ClientOptions,
    ) -> RosterSource:
        return self._source(key, settings, options)

    def _source(self, district_id: str, settings: Settings, options: ClientOptions) -> CleverSource:
        district_id = district_id.strip()
        timeout, retries = options["timeout"], options["max_retries"]
        transport = options["transport"]
        app = CleverApp(
            OAUTH_URL.value(settings),
            CLIENT_ID.value(settings),
            CLIENT_SECRET.value(settings),
            timeout=timeout,
            max_retries=retries,
            transport=transport,
        )
        read = False

        def token() -> str:
            # The district's token, from the app's token list: read at the first request (so
            # building the source sends nothing), read again when Clever refuses it, since a
            # re-shared district gets a new token and one that stopped sharing is named.
            nonlocal read
            found = app.token_for(district_id, refresh=read)
            read = True
            return found.token

        try:
            client = CleverClient(
                API_URL.value(settings),
                "",
                renew=token,
                page_size=min(options["page_size"], MAX_PAGE_SIZE),
                timeout=timeout,
                max_retries=retries,
                transport=transport,
            )
        except BaseException:
            app.close()
            raise
        return CleverSource(client, app)

    def address(self, integration: SourceConfig, settings: Settings) -> str:
        return urlsplit(API_URL.value(settings)).netloc

    def test_connection(
        self, integration: SourceConfig, key: str, secret: str, settings: Settings
    ) -> str:
        """List the app's tokens, find the district's, and read the district with it.

        Nothing is written; no retries and a short timeout. Returns what was reached.

        Raises:
            ConfigError: The vendor's Clever settings are missing or unusable.
            SourceAuthError: The app's secret was refused, or the district has not shared.
            SourceError: Clever could not be reached or answered something unusable.
        """
        quick = settings.model_copy(
            update={
                "page_size": 1,
                "http_max_retries": 0,
                "http_timeout_seconds": min(settings.http_timeout_seconds, 10.0),
            }
        )
        source = self.build_source(integration, key, secret, quick)
        assert isinstance(source, CleverSource)
        try:
            name = str(source.district().get("name") or "")
        finally:
            source.close()
        host = self.address(integration, settings)
        return (
            f"Connected to Clever ({host}): the district {name or key.strip()} shares its roster "
            "with the app."
        )


PROVIDER = Clever(
    kind=KIND,
    label="Clever (Secure Sync; the district's Clever district id; vendor staff only)",
    fields=(
        CredentialField(
            name="key",
            label="Clever district id",
            hint="The district's id in Clever (24 hexadecimal characters); the app's client id "
            "and secret are the vendor's.",
            missing="Enter the district's Clever district id.",
        ),
    ),
    vendor_settings=(CLIENT_ID, CLIENT_SECRET, API_URL, OAUTH_URL),
    vendor_only=(
        "Only the vendor connects a district through Clever, because it reads with the vendor's "
        "Clever app: ask your vendor contact, or choose your district's own OneRoster server."
    ),
    pulls=True,
    in_wizard=True,
    new_key_needed="enter the district's Clever district id as the key",
    source_name="Clever",
)
