"""The bundle tests' portal: a fresh database of each backend with Springfield onboarded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.bundle.helpers import make_portal

from rostersync.services import Services


@pytest.fixture
def portal(fresh_db_url: Callable[[], str], tmp_path: Path) -> Iterator[Services]:
    service = make_portal(fresh_db_url(), tmp_path)
    yield service
    service.close()
