"""OneRoster 1.2 REST, read with OAuth 2 client credentials.

source_url = the 1.2 rostering base URL (…/ims/oneroster/rostering/v1p2); key, secret = the
OAuth 2 client id and secret; the token endpoint is `/token` beside the `/ims/…` root
(ClassLink's host-root `/token`).
"""

from __future__ import annotations

from dataclasses import replace

from rostersync.providers import oneroster_v1p1
from rostersync.sync.rest_sources import oneroster_v1p2_source

KIND = "oneroster-1.2"

# OneRoster 1.2 over REST with OAuth 2 client credentials: the 1.1 door's fields and messages.
PROVIDER = replace(
    oneroster_v1p1.PROVIDER,
    kind=KIND,
    label="OneRoster 1.2 (OAuth 2 client id and secret)",
    connect=oneroster_v1p2_source,
)
