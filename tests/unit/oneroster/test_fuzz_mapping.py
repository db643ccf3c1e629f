"""Fuzzing the OneRoster JSON mapping in CI: every 1.1 and 1.2 mapper turns any JSON object into
a record and refuses anything else with a `FatalSourceError` (`bench.fuzz.targets`; the long run
is `python -m bench.fuzz`)."""

from __future__ import annotations

from bench.fuzz.targets import check_mapping, mapper_inputs
from hypothesis import HealthCheck, given, settings


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mapper_inputs())
def test_any_json_maps_to_a_record_or_a_clear_refusal(case: tuple[str, str, object]) -> None:
    version, collection, raw = case
    check_mapping(version, collection, raw)


def test_a_non_object_is_refused_and_an_empty_object_maps() -> None:
    assert check_mapping("1.1", "users", ["not", "an", "object"]) == "refused"
    assert check_mapping("1.2", "users", {}) == "mapped"
