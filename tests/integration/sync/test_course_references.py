"""A REST pull provides every kind, so a class whose course is missing is still held.

Decision 0021 forgives an unresolved course only when the source did not provide courses (a
bundle whose manifest marks them absent). A ClassLink roster server always serves courses: a
class pointing at one it does not serve is held with `unknown_course`, and its enrollments wait.
Real HTTP to the simulator, through the whole pipeline, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy

from tests.integration import springfield

from rostersync.domain.issues import Severity
from rostersync.domain.references import waiting_key
from rostersync.domain.unprovided import COURSE_NOT_PROVIDED
from rostersync.services import Services
from rostersync.simulator import generate_district
from rostersync.sync import unprovided
from rostersync.sync.sources import OneRosterRestSource

KEY, SECRET = "courses-key", "courses-secret-4Hd"


def test_a_rest_pull_holds_a_class_whose_course_is_missing(portal: Services) -> None:
    data = copy.deepcopy(generate_district(students=30, seed=43))
    lost = data.classes[0]
    lost["course"] = {**lost["course"], "sourcedId": "crs-gone"}
    waiting = [e for e in data.enrollments if e["class"]["sourcedId"] == lost["sourcedId"]]
    assert waiting
    with springfield.serve(data, KEY, SECRET) as server:
        springfield.onboard(portal, server, key=KEY, secret=SECRET)
        source = OneRosterRestSource(server.base_url("springfield"), KEY, SECRET, page_size=50)
        report = portal.runs.sync("springfield", source=source)
    assert report.status == "succeeded", report.error
    assert unprovided.kinds_of(source) == frozenset()

    (issue,) = [i for i in report.issues if i.sourced_id == lost["sourcedId"]]
    assert (issue.code, issue.severity) == ("unknown_course", Severity.ERROR)
    assert not [i for i in report.issues if i.code == COURSE_NOT_PROVIDED]
    assert report.counts["class"]["created"] == len(data.classes) - 1
    name = f"class “{lost['title']}” ({lost['sourcedId']})"
    assert report.skipped[waiting_key("enrollment", name)] == len(waiting)
