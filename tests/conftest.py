"""Fixtures every test shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Each test starts from structlog's defaults: logging set-up is process-global state."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
