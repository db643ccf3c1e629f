"""Pushed bundles: the district sends us OneRoster CSV bundles with the key and secret we issue.

Nothing is pulled and nothing is scheduled: a sync runs when a bundle arrives, from the newest
stored bundle. The wizard's form posts "push" for it.
"""

from __future__ import annotations

from rostersync.domain.issue_groups import PUSHED_SOURCE_KIND
from rostersync.providers.registry import Provider

KIND = PUSHED_SOURCE_KIND

PROVIDER = Provider(
    kind=KIND,
    label="The district pushes OneRoster files to us (we issue it a key and secret)",
    scheduled=False,
    in_wizard=True,
    wizard_value="push",
    not_pulled="{district} pushes OneRoster files; a sync reads the newest bundle it pushed",
)
