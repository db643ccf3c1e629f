"""Where a record's page is, and how an audit entry reads (`web/record_links.py`)."""

from __future__ import annotations

import pytest

from rostersync.web.record_links import change_words, eligibility_words, record_url


@pytest.mark.parametrize(
    ("kind", "page"),
    [("student", "people"), ("educator", "people"), ("class", "classes"), ("org", "schools")],
)
def test_each_kind_with_a_page_links_to_it(kind: str, page: str) -> None:
    assert record_url("springfield", kind, "x-1") == f"/admin/districts/springfield/{page}/x-1"


def test_an_id_of_any_character_stays_one_path_segment() -> None:
    url = record_url("springfield", "student", 'a/b?c#d "e"')
    assert url == "/admin/districts/springfield/people/a%2Fb%3Fc%23d%20%22e%22"


@pytest.mark.parametrize(("kind", "sourced_id"), [("enrollment", "e-1"), ("course", "c-1")])
def test_a_kind_without_a_page_or_a_record_without_an_id_has_no_link(
    kind: str, sourced_id: str
) -> None:
    assert record_url("springfield", kind, sourced_id) == ""
    assert record_url("springfield", "student", None) == ""


def test_an_update_names_the_fields_it_changed_never_their_values() -> None:
    words = change_words("update", {"fields": ["family_name", "grade"]})
    assert words == "changed family name, grade"


def test_an_eligibility_change_says_before_and_after() -> None:
    changes = {
        "before": {"status": "unconfirmed", "category": None},
        "after": {"status": "eligible", "category": "free"},
        "source": "portal",
    }
    assert change_words("eligibility", changes) == (
        "eligibility changed from unconfirmed to eligible (free)"
    )
    first = {"before": None, "after": {"status": "not_eligible"}, "source": "metadata.lunch"}
    assert change_words("eligibility", first) == "eligibility set to not eligible from ClassLink"


def test_how_an_account_came_to_be() -> None:
    assert change_words("create", {"via": "spreadsheet"}) == "created from spreadsheet"
    assert change_words("create", {"via": "by hand"}) == "created by hand"
    assert change_words("create", None) == "created"
    assert change_words("match", {"key": "student_id"}).endswith("by student ID")
    assert change_words("some_new_action", None) == "some new action"


def test_eligibility_in_words() -> None:
    assert eligibility_words(None) == "not set"
    assert eligibility_words("not_eligible") == "not eligible"
