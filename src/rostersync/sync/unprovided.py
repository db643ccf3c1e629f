"""Which kinds a source did not provide (decision 0021), asked of any source.

A bundle whose manifest marks a file `absent` says nothing about that kind, and reports it
(`BundleSource.unprovided_kinds`); REST and proxy sources provide every kind and do not have the
method. Validation turns an unresolved reference into such a kind into a warning, not a hold.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rostersync.domain.records import EntityKind

__all__ = ["ReportsUnprovided", "kinds_of"]


@runtime_checkable
class ReportsUnprovided(Protocol):
    """A source that can say which kinds its data set does not include."""

    def unprovided_kinds(self) -> set[EntityKind]: ...


def kinds_of(source: object) -> frozenset[EntityKind]:
    """The kinds `source` did not provide (asked after its records were read); none for a
    source that provides every kind."""
    if isinstance(source, ReportsUnprovided):
        return frozenset(source.unprovided_kinds())
    return frozenset()
