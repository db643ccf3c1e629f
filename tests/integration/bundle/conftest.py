"""The bundle tests' portal: a fresh database of each backend with Springfield onboarded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.bundle.helpers import make_portal

from rostersync.service import RosterSync


@pytest.fixture
def portal(fresh_db_url: Callable[[], str], tmp_path: Path) -> Iterator[RosterSync]:
    service = make_portal(fresh_db_url(), tmp_path)
    yield service
    service.close()
