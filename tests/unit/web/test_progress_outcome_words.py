"""A finished run's progress sentence reads as English for every status ("the run succeeded",
never "the run is succeeded"), says when a sync that succeeded found errors, and a run that is
starting names no source (a district that pushes files is not connecting to ClassLink)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from rostersync.web.uploads import describe_progress, run_outcome_words


@dataclass
class Run:
    status: str
    counts: Any = None
    mode: str = "apply"


@dataclass
class Progress:
    phase: str = "done"
    collection: str | None = None
    records: dict[str, int] | None = None
    total: int = 1200
    updated_at: datetime = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("succeeded", "Finished after pulling 1,200 records: the run succeeded."),
        ("held", "Finished after pulling 1,200 records: the run is held for review."),
        ("failed", "Finished after pulling 1,200 records: the run failed."),
        ("previewed", "Finished after pulling 1,200 records: the preview is ready for review."),
        ("discarded", "Finished after pulling 1,200 records: the run was discarded."),
    ],
)
def test_each_status_reads_as_a_sentence(status: str, words: str) -> None:
    assert describe_progress(Run(status), Progress()) == words


def test_a_sync_that_found_errors_succeeded_with_issues() -> None:
    counts = {"issues": {"errors": 3, "warnings": 9}}
    assert run_outcome_words("succeeded", counts) == "the run succeeded with issues (3 errors)"
    assert run_outcome_words("succeeded", {"issues": {"errors": 1}}).endswith("(1 error)")
    assert run_outcome_words("succeeded", {"issues": {"errors": 0}}) == "the run succeeded"
    assert describe_progress(Run("succeeded", counts), None) == (
        "Finished: the run succeeded with issues (3 errors)."
    )


def test_a_status_no_one_words_yet_still_reads() -> None:
    assert run_outcome_words("timed_out") == "the run is timed out"


def test_a_starting_run_names_no_source() -> None:
    for words in (
        describe_progress(Run("running"), None),
        describe_progress(Run("running"), Progress(phase="pulling", total=0)),
    ):
        assert "ClassLink" not in words and "roster source" in words
