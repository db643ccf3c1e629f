"""Districts with no roster source: not rostered at all, or onboarding not finished.

`none`: accounts are added by hand or by spreadsheet import. `pending`: rostered from ClassLink,
but the onboarding wizard has not yet been given the credentials.
"""

from __future__ import annotations

from rostersync.providers.registry import Provider

KIND = "none"
PENDING_KIND = "pending"

PROVIDER = Provider(
    kind=KIND,
    label="Not rostered (accounts added by hand or by spreadsheet)",
    not_pulled=(
        "{district} is not rostered from ClassLink, so there is nothing to sync; its accounts "
        "are added by hand or by spreadsheet import"
    ),
)

PENDING = Provider(
    kind=PENDING_KIND,
    label="Not set up yet (the wizard's source step is still to do)",
    scheduled=False,
    not_pulled=(
        "{district} has no ClassLink credentials yet; enter its key and secret in the onboarding "
        "wizard's credentials step, then sync"
    ),
)
