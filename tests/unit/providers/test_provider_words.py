"""A pulled district's fixes and messages name its own source: ClassLink, or Clever."""

from __future__ import annotations

from rostersync.domain.issue_groups import (
    PUSHED_SOURCE_KIND,
    Audience,
    audience_for,
    problem_fix,
    source_message,
)
from rostersync.providers import PROVIDERS

STORED = "Class 'c1' points at course 'k1', which is not in the roster ClassLink shared."


def test_a_classlink_district_is_told_classlink_and_a_clever_one_clever() -> None:
    classlink, clever = PROVIDERS.audience("oneroster-1.1"), PROVIDERS.audience("clever")
    assert classlink is Audience.CLASSLINK and not clever.files
    assert (classlink.id_label, clever.id_label) == ("ClassLink id", "Clever id")
    assert "in ClassLink" in problem_fix("unknown_course", ["class"], classlink)
    fix = problem_fix("unknown_course", ["class"], clever)
    assert fix.startswith("Share the course with this application in Clever")
    assert "ClassLink" not in fix
    assert source_message(STORED, classlink) == STORED
    assert source_message(STORED, clever).endswith("not in the roster Clever shared.")


def test_the_proxy_is_classlink_and_a_pushing_district_is_told_its_files() -> None:
    assert PROVIDERS.audience("classlink-proxy") is Audience.CLASSLINK
    assert PROVIDERS.audience(PUSHED_SOURCE_KIND) is Audience.FILES
    assert audience_for(PUSHED_SOURCE_KIND, "Clever") is Audience.FILES
    assert source_message(STORED, Audience.FILES).endswith("the files the district pushed.")


def test_a_stored_fix_of_a_problem_the_domain_does_not_know_is_named_for_the_source() -> None:
    stored = "Ask ClassLink support."
    assert problem_fix("unheard_of", ["student"], PROVIDERS.audience("clever"), stored) == (
        "Ask Clever support."
    )
    assert problem_fix("unheard_of", ["student"], Audience.FILES, stored) == stored
