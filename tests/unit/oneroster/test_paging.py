"""The paginator picks the next offset from canned headers and refuses incomplete pulls."""

from __future__ import annotations

import pytest

from rostersync.errors import IncompleteSourceError
from rostersync.oneroster.paging import Paginator, next_link, total_count

BASE = "https://district.example/ims/oneroster/v1p1/users"


def page(start: int, count: int) -> list[dict[str, str]]:
    return [{"sourcedId": f"u{n:05d}"} for n in range(start, start + count)]


def paginator(limit: int = 100, **kw: int) -> Paginator:
    return Paginator("users", limit=limit, base_url=BASE, **kw)


class TestHeaderReading:
    """Totals and next links are read in any header case and any RFC 8288 shape."""

    @pytest.mark.parametrize("name", ["X-Total-Count", "x-total-count", "X-TOTAL-COUNT"])
    def test_total_in_any_case(self, name: str) -> None:
        assert total_count({name: " 1000 "}) == 1000

    @pytest.mark.parametrize("value", ["", "many", "-1"])
    def test_unreadable_total_is_no_total(self, value: str) -> None:
        assert total_count({"X-Total-Count": value}) is None

    def test_next_among_several_links(self) -> None:
        link = f'<{BASE}?offset=0&limit=2>; rel="first", <{BASE}?offset=2&limit=2>; rel="next"'
        assert next_link({"link": link}) == f"{BASE}?offset=2&limit=2"

    def test_unquoted_and_multi_valued_rel(self) -> None:
        assert next_link({"Link": "</users?offset=4>; rel=next"}) == "/users?offset=4"
        assert next_link({"Link": '</users?offset=4>; rel="last next"'}) == "/users?offset=4"

    def test_no_next_rel(self) -> None:
        assert next_link({"Link": f'<{BASE}?offset=8>; rel="last"'}) is None


class TestNextLink:
    """A same-host `next` link is followed; one on another host or looping back is not."""

    def test_follows_the_offset_the_link_names(self) -> None:
        p = paginator(limit=2)
        assert p.advance(page(0, 2), {"Link": f'<{BASE}?offset=7&limit=2>; rel="next"'}) == 7
        assert p.offset == 7

    def test_relative_link_is_resolved_against_the_request_url(self) -> None:
        p = paginator(limit=2)
        link = '</ims/oneroster/v1p1/users?limit=2&offset=2>; rel="next"'
        assert p.advance(page(0, 2), {"Link": link}) == 2

    def test_link_to_another_host_is_ignored_and_the_offset_computed(self) -> None:
        p = paginator(limit=2)
        link = '<https://elsewhere.example/users?offset=50>; rel="next"'
        assert p.advance(page(0, 2), {"Link": link}) == 2

    def test_link_pointing_back_at_a_requested_offset_is_ignored(self) -> None:
        p = paginator(limit=2)
        assert p.advance(page(0, 2), {}) == 2
        assert p.advance(page(2, 2), {"Link": f'<{BASE}?offset=0>; rel="next"'}) == 4

    def test_link_pointing_at_the_same_offset_does_not_loop(self) -> None:
        p = paginator(limit=2)
        assert p.advance(page(0, 1), {"Link": f'<{BASE}?offset=0>; rel="next"'}) is None


class TestCountRules:
    """Without a link, the total decides; without a total, a short or empty page ends the pull."""

    def test_stops_when_offset_plus_items_reaches_the_total(self) -> None:
        p = paginator(limit=2)
        assert p.advance(page(0, 2), {"X-Total-Count": "3"}) == 2
        assert p.advance(page(2, 1), {"X-Total-Count": "3"}) is None
        p.check_complete()

    def test_with_a_total_a_short_page_is_a_server_cap_not_the_end(self) -> None:
        p = paginator(limit=1000)
        assert p.advance(page(0, 500), {"x-total-count": "1200"}) == 500
        assert p.advance(page(500, 500), {"x-total-count": "1200"}) == 1000
        assert p.advance(page(1000, 200), {"x-total-count": "1200"}) is None
        p.check_complete()

    def test_without_a_total_a_short_page_ends(self) -> None:
        p = paginator(limit=2)
        assert p.advance(page(0, 2), {}) == 2
        assert p.advance(page(2, 1), {}) is None
        assert p.received == 3 and p.pages == 2

    def test_without_a_total_an_empty_page_ends(self) -> None:
        p = paginator(limit=2)
        assert p.advance(page(0, 2), {}) == 2
        assert p.advance([], {}) is None
        p.check_complete()


class TestGuards:
    """Runaway or repeating servers stop the pull as incomplete."""

    def test_a_page_identical_to_the_previous_one_means_offset_is_ignored(self) -> None:
        p = paginator(limit=2)
        p.advance(page(0, 2), {})
        with pytest.raises(IncompleteSourceError, match="same page of users again"):
            p.advance(page(0, 2), {})

    def test_page_cap_stops_a_server_that_never_ends(self) -> None:
        p = paginator(limit=2, max_pages=3)
        p.advance(page(0, 2), {})
        p.advance(page(2, 2), {})
        with pytest.raises(IncompleteSourceError, match="did not end after 3 pages"):
            p.advance(page(4, 2), {})

    def test_the_last_allowed_page_may_end_the_pull(self) -> None:
        p = paginator(limit=2, max_pages=2)
        p.advance(page(0, 2), {})
        assert p.advance(page(2, 1), {}) is None


class TestCompleteness:
    """A pull whose count differs from the reported total is refused with the numbers."""

    def test_fewer_records_than_the_total(self) -> None:
        p = paginator(limit=1000)
        assert p.advance(page(0, 980), {"X-Total-Count": "1000"}) == 980
        assert p.advance([], {"X-Total-Count": "1000"}) is None
        with pytest.raises(IncompleteSourceError) as caught:
            p.check_complete()
        assert "received 980 of 1000 users; nothing will be deactivated from this pull" in str(
            caught.value
        )
        assert caught.value.url == "/ims/oneroster/v1p1/users"

    def test_more_records_than_the_total(self) -> None:
        p = paginator(limit=2)
        p.advance(page(0, 2), {"X-Total-Count": "1", "Link": f'<{BASE}?offset=2>; rel="next"'})
        p.advance(page(2, 1), {"X-Total-Count": "1"})
        with pytest.raises(IncompleteSourceError, match="received 3 of 1 users"):
            p.check_complete()

    def test_no_total_reported_means_nothing_to_check(self) -> None:
        p = paginator(limit=2)
        p.advance(page(0, 1), {})
        p.check_complete()
