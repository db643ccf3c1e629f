"""A 1.1 user of the usual JSON shape is mapped by a short cut: it must equal the general way."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rostersync.oneroster.mapping import to_person

_text = st.one_of(st.none(), st.sampled_from(["", " ", "Ann", " u-1 ", "Zoë", "=1+1"]))
_odd = st.one_of(st.integers(-2, 99), st.booleans(), st.just({"x": 1}), st.just(["a"]))
_value = st.one_of(_text, _odd)
_sid = st.one_of(_text, st.integers(0, 9), st.just(True))
_org = st.one_of(
    st.builds(lambda sid: {"sourcedId": sid, "href": "h", "type": "org"}, _sid),
    st.just({}),
    _text,
)
_user_id = st.one_of(
    st.builds(lambda t, i: {"type": t, "identifier": i}, _value, _value),
    _text,
)
_user = st.fixed_dictionaries(
    {},
    optional={
        "sourcedId": _sid,
        "status": st.one_of(st.none(), st.sampled_from(["active", " Active", "tobedeleted", "x"])),
        "dateLastModified": _text,
        "role": st.one_of(_text, st.sampled_from(["student", "teacher"])),
        "username": _value,
        "givenName": _value,
        "familyName": _text,
        "middleName": _text,
        "identifier": _value,
        "email": _text,
        "enabledUser": st.one_of(_value, st.sampled_from(["true", "FALSE", " no "])),
        "orgs": st.one_of(st.none(), st.lists(_org, max_size=3), _text),
        "grades": st.one_of(
            st.none(), st.lists(st.one_of(_text, st.integers(1, 12)), max_size=3), _text
        ),
        "userIds": st.one_of(st.none(), st.lists(_user_id, max_size=3), _text),
        "metadata": st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(["eligibility", "a.b"]), _text, max_size=2),
            st.just({"classlink": {"eligibility": "RD"}}),
            st.just({"n": 3}),
        ),
    },
)


@settings(max_examples=400, deadline=None)
@given(_user)
def test_the_short_cut_equals_the_general_mapping(raw: dict[str, Any]) -> None:
    # A `roles` key (here null, which means no 1.2 roles) sends a user the general way.
    general = to_person({**raw, "roles": None})
    mapped = to_person(raw)
    assert mapped == general
    assert mapped.content_hash() == general.content_hash()


def test_a_usual_user_is_mapped_whole() -> None:
    person = to_person(
        {
            "sourcedId": " stu-1 ",
            "status": "active",
            "dateLastModified": "2026-09-01T00:00:00Z",
            "role": "student",
            "username": "ann",
            "givenName": "Ann",
            "familyName": "Lee",
            "enabledUser": "true",
            "orgs": [{"sourcedId": " sch-1 "}, {"sourcedId": ""}],
            "grades": ["05"],
            "userIds": [{"type": "LDAP", "identifier": "12"}],
            "metadata": {"eligibility": "RD"},
        }
    )
    assert person.sourced_id == "stu-1" and person.org_sourced_ids == ("sch-1",)
    assert person.grades == ("05",) and person.user_ids == (("LDAP", "12"),)
    assert person.metadata == {"eligibility": "RD"} and person.enabled is True
