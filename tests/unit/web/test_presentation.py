"""The run page's words: counts as a matrix, statuses and durations said plainly, actors named,
and one status badge per status with its own class and glyph."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from rostersync.web.presentation import (
    OUTCOMES,
    actor_words,
    admin_templates,
    count_facts,
    counts_matrix,
    duration_words,
    in_words,
    issue_counts,
    status_words,
)

RUN_STATUSES = ("running", "succeeded", "held", "previewed", "approved", "discarded", "skipped")
DISTRICT_STATUSES = ("onboarding", "live", "paused")
COUNTS = {
    "entities": {
        "org": {
            "created": 2,
            "updated": 0,
            "restored": 0,
            "deactivated": 0,
            "unchanged": 1,
            "held": 0,
            "matched": 0,
        },
        "student": {
            "created": 40,
            "updated": 3,
            "restored": 1,
            "deactivated": 2,
            "unchanged": 0,
            "held": 5,
            "matched": 7,
        },
    },
    "skipped": {"enrollment": 2},
    "eligibility_changes": 4,
    "issues": {"errors": 74, "warnings": 3},
    "records_pulled": {"orgs": 3, "users": 1200},
    "requests": 12,
    "retries": 0,
}


def badge(status: str, **run: object) -> str:
    env = admin_templates().env
    macros = env.get_template("_badges.html").module
    if run:
        return str(macros.run_badge(SimpleNamespace(status=status, **run)))  # type: ignore[attr-defined]
    return str(macros.status_badge(status))  # type: ignore[attr-defined]


class TestCountsMatrix:
    def test_kinds_are_rows_and_outcomes_columns_in_report_order(self) -> None:
        matrix = counts_matrix(COUNTS)
        assert matrix.columns == OUTCOMES
        assert [label for label, _ in matrix.rows] == ["schools & district", "students"]
        assert dict(matrix.rows)["students"] == (40, 3, 7, 1, 2, 5, 0)
        assert matrix.totals == (42, 3, 7, 1, 2, 5, 1)

    def test_unknown_outcomes_follow_the_known_ones(self) -> None:
        matrix = counts_matrix({"entities": {"student": {"created": 1, "moved": 2}}})
        assert matrix.columns == ("created", "moved")

    @pytest.mark.parametrize("counts", [None, {}, {"entities": None}, {"requests": 3}])
    def test_a_run_that_counted_no_records_has_an_empty_matrix(self, counts: object) -> None:
        assert counts_matrix(counts).rows == ()  # type: ignore[arg-type]


class TestWords:
    def test_the_other_counts_are_words_never_a_python_repr(self) -> None:
        facts = {fact.key: fact.words for fact in count_facts(COUNTS)}
        assert set(facts) == {
            "skipped",
            "eligibility_changes",
            "records_pulled",
            "requests",
            "retries",
        }
        assert facts["records_pulled"] == "orgs 3 · users 1,200"
        for words in facts.values():
            assert not re.search(r"[{}\[\]']", words), words

    def test_counted_mappings_are_items_for_a_list(self) -> None:
        facts = {fact.key: fact for fact in count_facts(COUNTS)}
        assert facts["records_pulled"].items == (("orgs", "3"), ("users", "1,200"))
        assert facts["requests"].items == ()
        assert facts["records_pulled"].label == "Records pulled"

    def test_nested_values_read_as_words(self) -> None:
        assert in_words({"a_b": [1, 2], "c": {}}) == "a b 1, 2 · c none"
        assert in_words(None) == "—" and in_words(True) == "yes"

    def test_issue_counts(self) -> None:
        assert issue_counts(COUNTS) == (74, 3)
        assert issue_counts(None) == (0, 0)

    def test_a_succeeded_run_with_errors_says_so(self) -> None:
        assert "finished with issues" in status_words("succeeded", 74)
        assert "74 errors" in status_words("succeeded", 74)
        assert "1 error." in status_words("succeeded", 1)
        assert status_words("succeeded") == "This sync finished and applied its changes."

    @pytest.mark.parametrize("status", [*RUN_STATUSES, "failed"])
    def test_every_status_has_a_sentence_of_its_own(self, status: str) -> None:
        assert status_words(status) != status_words("no such status")
        assert status_words("no such status") == "This run is no such status."

    def test_durations(self) -> None:
        start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        assert duration_words(start, None) == "still running"
        assert duration_words(start, start + timedelta(milliseconds=300)) == "under a second"
        assert duration_words(start, start + timedelta(seconds=125)) == "2 min 5 s"
        assert duration_words(start, start + timedelta(hours=1, seconds=4)) == "1 h 4 s"

    def test_actors_are_named_or_described_never_an_id(self) -> None:
        names = {"staff:42": "Pat Staff"}
        assert actor_words("staff:42", names) == "Pat Staff"
        assert actor_words("staff:43", names) == "a staff member"
        assert actor_words("staff:43") == "a staff member"
        assert actor_words("cli:ops") == "ops on the command line"
        assert actor_words("cli") == "someone on the command line"
        assert actor_words("scheduler") == "the sync schedule"
        assert actor_words("push:key-1") == "the district's file push"
        assert actor_words(None) == "nobody"


class TestBadges:
    def test_every_status_has_its_own_class_and_glyph(self) -> None:
        shown = [badge(s) for s in (*RUN_STATUSES, "failed", *DISTRICT_STATUSES)]
        shown.append(badge("succeeded", counts={"issues": {"errors": 2, "warnings": 0}}))
        classes = [re.search(r'class="badge status (status-[a-z-]+)"', b) for b in shown]
        glyphs = [
            re.search(r'<span class="badge-icon" aria-hidden="true">(.)</span>', b) for b in shown
        ]
        assert all(classes) and all(glyphs), shown
        assert len({c.group(1) for c in classes if c}) == len(shown)
        assert len({g.group(1) for g in glyphs if g}) == len(shown)

    def test_the_word_stays_in_the_text_and_the_id_is_on_it(self) -> None:
        env = admin_templates().env
        macros = env.get_template("_badges.html").module
        shown = str(macros.status_badge("held", id="run-status"))  # type: ignore[attr-defined]
        assert '<span id="run-status">held</span>' in shown

    def test_a_succeeded_run_with_errors_is_succeeded_with_issues(self) -> None:
        clean = badge("succeeded", counts={"issues": {"errors": 0, "warnings": 5}})
        messy = badge("succeeded", counts={"issues": {"errors": 3, "warnings": 0}})
        assert 'status-succeeded"' in clean and "with issues" not in clean
        assert "status-succeeded-with-issues" in messy and "</span> with issues</span>" in messy
        assert "status-failed" in badge("failed", counts=None)
