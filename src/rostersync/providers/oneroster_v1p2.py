"""OneRoster 1.2 REST, read with OAuth 2 client credentials.

source_url = the 1.2 rostering base URL (…/ims/oneroster/rostering/v1p2); key, secret = the
OAuth 2 client id and secret; the token endpoint is `/token` beside the `/ims/…` root
(ClassLink's host-root `/token`).
"""

from __future__ import annotations

from rostersync.providers.oneroster_v1p1 import INCOMPLETE, rest_fields
from rostersync.providers.registry import RestProvider
from rostersync.sync.rest_sources import oneroster_v1p2_source

KIND = "oneroster-1.2"

# OneRoster 1.2 over REST with OAuth 2 client credentials.
PROVIDER = RestProvider(
    kind=KIND,
    label="OneRoster 1.2 (OAuth 2 client id and secret)",
    fields=rest_fields("key (client id)"),
    incomplete=INCOMPLETE,
    connect=oneroster_v1p2_source,
)
