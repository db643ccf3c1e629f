"""OneRoster 1.1 REST (a ClassLink Roster Server), signed with OAuth 1.0a.

source_url = the 1.1 base URL (…/ims/oneroster/v1p1); key, secret = the OAuth 1.0a consumer key
and secret from the district's OneRoster app in ClassLink's console.
"""

from __future__ import annotations

from rostersync.providers.registry import CredentialField, RestProvider
from rostersync.sync.sources import OneRosterRestSource

KIND = "oneroster-1.1"

# What every OneRoster REST door asks of a district (1.2 shares them, see oneroster_v1p2).
INCOMPLETE = (
    "a district rostered from ClassLink needs its source URL, key and secret; use source kind "
    "'none' for a district whose accounts are added by hand"
)
URL_HINT = "Example: https://springfield-il-v2.rosterserver.com/ims/oneroster/v1p1"


def rest_fields(key_label: str) -> tuple[CredentialField, ...]:
    """The source URL, key and secret of a OneRoster REST server."""
    return (
        CredentialField(name="source_url", label="Source URL", hint=URL_HINT),
        CredentialField(
            name="key",
            label="Key (client id)",
            missing=f"Enter the ClassLink {key_label} from the district's OneRoster app.",
        ),
        CredentialField(
            name="secret",
            label="Secret",
            missing="Enter the ClassLink secret from the district's OneRoster app.",
        ),
    )


# OneRoster 1.1 over REST with OAuth 1.0a.
PROVIDER = RestProvider(
    kind=KIND,
    label="ClassLink Roster Server, OneRoster 1.1 (OAuth 1.0a key and secret)",
    fields=rest_fields("key (client id)"),
    incomplete=INCOMPLETE,
    connect=OneRosterRestSource,
)
