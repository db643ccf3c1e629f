"""The simulator's 1.1 query language: filter grammar, sorting, field selection, paging, links."""

from __future__ import annotations

from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rostersync.simulator.endpoints import FIELDS
from rostersync.simulator.query import (
    Filter,
    Paging,
    Predicate,
    QueryError,
    Selection,
    link_header,
    parse_fields,
    parse_filter,
    parse_paging,
    parse_selection,
    project,
)

USER_FIELDS = FIELDS["users"]
ANN = {
    "sourcedId": "stu-1",
    "givenName": "Mary Ann",
    "familyName": "O'Brien",
    "role": "student",
    "grades": ["05"],
    "orgs": [{"href": "h", "sourcedId": "org-101", "type": "org"}],
    "enabledUser": "true",
    "metadata": {"eligibility": "RD"},
    "dateLastModified": "2026-07-01T10:00:00Z",
}


class TestFilterGrammar:
    """`<field><op>'<value>'`, at most two predicates joined by one AND or OR."""

    @pytest.mark.parametrize("op", ["=", "!=", ">", ">=", "<", "<=", "~"])
    def test_every_operator_parses(self, op: str) -> None:
        parsed = parse_filter(f"familyName{op}'Smith'", USER_FIELDS)
        assert parsed.predicates == (Predicate("familyName", op, "Smith"),)

    def test_two_predicates_joined_by_or(self) -> None:
        parsed = parse_filter("role='teacher' OR role='student'", USER_FIELDS)
        assert parsed.joiner == "OR"
        assert [p.value for p in parsed.predicates] == ["teacher", "student"]

    def test_joiner_inside_a_quoted_value_is_part_of_the_value(self) -> None:
        parsed = parse_filter("givenName='Jo AND Ann'", USER_FIELDS)
        assert parsed.predicates == (Predicate("givenName", "=", "Jo AND Ann"),)

    def test_doubled_quote_is_a_quote_inside_the_value(self) -> None:
        parsed = parse_filter("familyName='O''Brien'", USER_FIELDS)
        assert parsed.predicates[0].value == "O'Brien"

    def test_dotted_path_into_a_reference_is_accepted(self) -> None:
        parsed = parse_filter("orgs.sourcedId='org-101'", USER_FIELDS)
        assert parsed.matches(ANN)

    @pytest.mark.parametrize(
        "text",
        [
            "role='a' AND role='b' OR role='c'",  # three predicates
            "role='a' AND role='b' AND role='c'",
            "role=teacher",  # unquoted value
            "role='teacher",  # unterminated
            "role=='teacher'",
            "role='a' and role='b'",  # joiners are upper-case
            "role='a'AND role='b'",
            "(role='a')",
            "='a'",
        ],
    )
    def test_malformed_filters_are_refused_as_invalid_filter_field(self, text: str) -> None:
        with pytest.raises(QueryError) as raised:
            parse_filter(text, USER_FIELDS)
        assert raised.value.code_minor == "invalid_filter_field"
        assert "malformed filter" in raised.value.description

    def test_unknown_field_is_refused_and_named(self) -> None:
        with pytest.raises(QueryError, match="unknown filter field 'shoeSize'") as raised:
            parse_filter("shoeSize='9'", USER_FIELDS)
        assert raised.value.code_minor == "invalid_filter_field"

    @given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
    def test_any_value_round_trips_through_quote_doubling(self, value: str) -> None:
        escaped = value.replace("'", "''")
        parsed = parse_filter(f"familyName='{escaped}'", USER_FIELDS)
        assert parsed.predicates == (Predicate("familyName", "=", value),)


class TestFilterMatching:
    """Comparisons are on strings; lists match when any element does."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("givenName='Mary Ann'", True),
            ("familyName='O''Brien'", True),
            ("familyName~'brie'", True),
            ("familyName!='O''Brien'", False),
            ("dateLastModified>'2026-06-30T23:59:59Z'", True),
            ("dateLastModified>'2026-07-01T10:00:00Z'", False),
            ("dateLastModified>='2026-07-01T10:00:00Z'", True),
            ("dateLastModified<'2026-07-01'", False),
            ("grades='05'", True),
            ("grades!='05'", False),
            ("grades='06'", False),
            ("orgs='org-101'", True),
            ("metadata.eligibility='RD'", True),
            ("enabledUser='true'", True),
            ("role='teacher' OR grades='05'", True),
            ("role='teacher' AND grades='05'", False),
            ("middleName=''", True),
            ("middleName!='x'", True),
        ],
    )
    def test_predicate_semantics(self, text: str, expected: bool) -> None:
        assert parse_filter(text, USER_FIELDS).matches(ANN) is expected

    def test_json_boolean_compares_as_its_1_1_string_token(self) -> None:
        record = {**ANN, "enabledUser": True}
        assert Filter((Predicate("enabledUser", "=", "true"),)).matches(record)


class TestSelection:
    """Sorting is stable in both directions; unknown sort fields are ignored."""

    RECORDS: ClassVar[list[dict[str, str]]] = [
        {"sourcedId": "c", "familyName": "Lee"},
        {"sourcedId": "a", "familyName": "Chen"},
        {"sourcedId": "b", "familyName": "Lee"},
        {"sourcedId": "d"},
    ]

    def test_sort_descending_keeps_ties_in_original_order(self) -> None:
        selection = parse_selection({"sort": "familyName", "orderBy": "desc"}, USER_FIELDS)
        ordered = [r["sourcedId"] for r in selection.apply(self.RECORDS)]
        assert ordered == ["c", "b", "a", "d"]

    def test_sort_ascending_by_default(self) -> None:
        selection = parse_selection({"sort": "sourcedId"}, USER_FIELDS)
        assert [r["sourcedId"] for r in selection.apply(self.RECORDS)] == ["a", "b", "c", "d"]

    def test_unknown_or_misspelt_order_is_ascending_like_classlink(self) -> None:
        assert parse_selection({"sort": "sourcedId", "orderBy": "dsc"}, USER_FIELDS) == Selection(
            None, "sourcedId", False
        )

    def test_unknown_sort_field_is_ignored(self) -> None:
        selection = parse_selection({"sort": "shoeSize"}, USER_FIELDS)
        assert selection.apply(self.RECORDS) == self.RECORDS

    def test_blank_filter_is_no_filter(self) -> None:
        assert parse_selection({"filter": "  "}, USER_FIELDS).filter is None


class TestFields:
    """`fields=` keeps only the named known properties."""

    def test_named_fields_only(self) -> None:
        fields = parse_fields({"fields": "sourcedId, givenName"}, USER_FIELDS)
        assert project(ANN, fields) == {"sourcedId": "stu-1", "givenName": "Mary Ann"}

    def test_unknown_names_are_dropped_and_none_left_means_everything(self) -> None:
        assert parse_fields({"fields": "sourcedId,shoeSize"}, USER_FIELDS) == ("sourcedId",)
        assert parse_fields({"fields": "shoeSize"}, USER_FIELDS) is None
        assert project(ANN, None) is ANN


class TestPaging:
    """limit defaults to 100 and must be 1..10000; offset defaults to 0."""

    def test_defaults(self) -> None:
        assert parse_paging({}) == Paging(100, 0)

    @pytest.mark.parametrize("limit", ["0", "-1", "10001", "ten", "1.5", ""])
    def test_bad_limit_is_invalid_data(self, limit: str) -> None:
        with pytest.raises(QueryError) as raised:
            parse_paging({"limit": limit})
        assert raised.value.code_minor == "invaliddata"

    @pytest.mark.parametrize("offset", ["-1", "x", ""])
    def test_bad_offset_is_invalid_data(self, offset: str) -> None:
        with pytest.raises(QueryError, match="offset"):
            parse_paging({"offset": offset})

    def test_maximum_limit_is_accepted(self) -> None:
        assert parse_paging({"limit": "10000"}).limit == 10000


class TestLinkHeader:
    """RFC 8288 links for first, prev, next and last, keeping the other parameters."""

    BASE = "http://127.0.0.1:1/t/ims/oneroster/v1p1/users"

    def links(self, paging: Paging, total: int) -> dict[str, str]:
        params = [("filter", "givenName='Mary Ann'"), ("limit", "10"), ("sort", "sourcedId")]
        header = link_header(self.BASE, params, paging, total)
        parsed = {}
        for part in header.split(", <"):
            url, _, rel = part.strip("<").partition(">; rel=")
            parsed[rel.strip('"')] = url
        return parsed

    def test_middle_page_has_all_four(self) -> None:
        links = self.links(Paging(10, 20), 45)
        assert set(links) == {"first", "prev", "next", "last"}
        assert links["first"].endswith("limit=10&offset=0")
        assert links["prev"].endswith("limit=10&offset=10")
        assert links["next"].endswith("limit=10&offset=30")
        assert links["last"].endswith("limit=10&offset=40")

    def test_first_page_has_no_prev_and_last_page_no_next(self) -> None:
        assert set(self.links(Paging(10, 0), 45)) == {"first", "next", "last"}
        assert set(self.links(Paging(10, 40), 45)) == {"first", "prev", "last"}

    def test_empty_collection_links_to_offset_zero(self) -> None:
        assert set(self.links(Paging(10, 0), 0)) == {"first", "last"}

    def test_other_parameters_are_kept_with_rfc_5849_encoding(self) -> None:
        url = self.links(Paging(10, 0), 45)["next"]
        assert "filter=givenName%3D%27Mary%20Ann%27&sort=sourcedId&" in url
        assert url.count("limit=") == 1
