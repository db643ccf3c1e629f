"""`rostersync serve --workers N`: which settings let several workers serve, and the private
directory their Prometheus counters go to (decision 0034)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rostersync.config import Settings
from rostersync.web.server import MULTIPROC_ENV, metrics_directory, shared_limits_or_refusal


def settings(**values: object) -> Settings:
    return Settings(data_dir=Path("var-unused"), **values)


class TestSharedLimits:
    def test_one_worker_may_keep_its_limits_in_memory(self) -> None:
        assert shared_limits_or_refusal(settings(), 1) is None

    def test_several_workers_with_limits_in_memory_are_refused_naming_the_setting(self) -> None:
        refusal = shared_limits_or_refusal(settings(), 2)
        assert refusal is not None
        assert "ROSTERSYNC_RATE_LIMIT_STORAGE_URL" in refusal and "--workers 2" in refusal

    def test_an_explicit_memory_storage_is_refused_too(self) -> None:
        assert shared_limits_or_refusal(settings(rate_limit_storage_url="memory://"), 3)

    @pytest.mark.parametrize(
        "values",
        [
            {"rate_limit_storage_url": "redis://127.0.0.1:6379/0"},
            {"queue_backend": "redis"},  # the limits follow the queue to Redis
        ],
    )
    def test_limits_in_redis_let_several_workers_serve(self, values: dict[str, object]) -> None:
        assert shared_limits_or_refusal(settings(**values), 4) is None


class TestMetricsDirectory:
    def test_one_worker_counts_in_memory(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(MULTIPROC_ENV, raising=False)
        with metrics_directory(1) as directory:
            assert directory is None and MULTIPROC_ENV not in os.environ

    def test_several_workers_count_in_a_private_directory_removed_afterwards(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(MULTIPROC_ENV, "/somewhere/else")
        with metrics_directory(2) as directory:
            assert directory is not None and os.environ[MULTIPROC_ENV] == directory
            assert Path(directory).stat().st_mode & 0o777 == 0o700
            (Path(directory) / "counter_1.db").write_bytes(b"x")  # as a worker leaves it
        assert not Path(directory).exists()
        assert os.environ[MULTIPROC_ENV] == "/somewhere/else"  # what was there before
