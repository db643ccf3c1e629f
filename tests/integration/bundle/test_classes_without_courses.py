"""A bundle that does not include courses gets its classes and enrollments (decision 0021).

A real bundle written by the simulator, with courses.csv dropped and file.courses marked absent
in its manifest, synced through the whole pipeline on SQLite and PostgreSQL: every class and
enrollment is provisioned, and the run carries one `course_not_provided` warning per class, shown
as a warning in the run's issues, the open issues and the summary email. A bundle that does
include courses.csv still holds a class whose course is not in it.
"""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select
from tests.integration.bundle.helpers import bundle_of
from tests.unit.oneroster.bundle_helpers import make_zip, members

from rostersync.domain.issues import Severity
from rostersync.domain.unprovided import COURSE_NOT_PROVIDED
from rostersync.notify.emails import summary_email
from rostersync.services import Services
from rostersync.simulator import DistrictData, generate_district
from rostersync.store import tables
from rostersync.sync.bundle_source import BundleSource


@pytest.fixture(scope="module")
def district() -> DistrictData:
    return generate_district(students=40, seed=21)


def without_courses(bundle: bytes) -> bytes:
    """The same bundle with courses.csv left out and marked absent in its manifest."""
    files = members(bundle)
    del files["courses.csv"]
    manifest = files["manifest.csv"]
    assert b"file.courses,bulk" in manifest
    files["manifest.csv"] = manifest.replace(b"file.courses,bulk", b"file.courses,absent")
    return make_zip(files)


def classes_in(portal: Services) -> dict[str, tuple[str | None, str | None, bool]]:
    """Each stored class: (course sourcedId, linked course row, active)."""
    t = tables.classes
    with portal.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.sourced_id, t.c.course_sourced_id, t.c.course_id, t.c.active)
        )
        return {r.sourced_id: (r.course_sourced_id, r.course_id, r.active) for r in rows}


def active_enrollments(portal: Services) -> int:
    t = tables.enrollments
    with portal.engine.connect() as conn:
        stmt = select(func.count()).select_from(t).where(t.c.active.is_(True))
        return int(conn.execute(stmt).scalar_one())


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_classes_of_a_bundle_without_courses_are_provisioned_with_a_warning(
    portal: Services, district: DistrictData, version: str
) -> None:
    bundle = without_courses(bundle_of(district, version=version))
    report = portal.runs.sync("springfield", source=BundleSource(bundle))
    assert report.status == "succeeded", report.error

    expected = {c["sourcedId"]: c["course"]["sourcedId"] for c in district.classes}
    assert report.counts["class"]["created"] == len(expected)
    stored = classes_in(portal)
    assert {sid: course for sid, (course, _, _) in stored.items()} == expected  # id kept
    assert all(active and linked is None for _, linked, active in stored.values())
    assert report.counts["enrollment"]["created"] == len(district.enrollments)
    assert active_enrollments(portal) == len(district.enrollments)

    assert report.errors == []
    warned = [i for i in report.issues if i.code == COURSE_NOT_PROVIDED]
    assert sorted(i.sourced_id for i in warned) == sorted(expected)
    assert all(i.severity is Severity.WARNING for i in warned)
    assert all("does not include courses" in i.message for i in warned)

    kept = [i for i in portal.runs.issues(report.run_id) if i.code == COURSE_NOT_PROVIDED]
    assert len(kept) == len(expected) and {i.severity for i in kept} == {"warning"}
    open_issues = portal.runs.open_issues("springfield")
    assert {(i.code, i.severity) for i in open_issues} == {(COURSE_NOT_PROVIDED, "warning")}
    email = summary_email(
        district=portal.districts.get("springfield")[0],
        run=portal.runs.get(report.run_id),
        open_issues=open_issues,
        portal_base_url="https://portal.invalid",
        to=["data@springfield.invalid"],
    )
    assert f"[{COURSE_NOT_PROVIDED}, warning, {len(expected)} records]" in email.text


def test_a_class_whose_course_is_missing_from_a_provided_courses_file_is_held(
    portal: Services, district: DistrictData
) -> None:
    data = copy.deepcopy(district)
    lost = data.classes[0]
    lost["course"] = {**lost["course"], "sourcedId": "crs-gone"}
    enrolled = sum(1 for e in data.enrollments if e["class"]["sourcedId"] == lost["sourcedId"])
    assert enrolled

    report = portal.runs.sync("springfield", source=BundleSource(bundle_of(data)))
    assert report.status == "succeeded", report.error
    (issue,) = [i for i in report.issues if i.sourced_id == lost["sourcedId"]]
    assert (issue.code, issue.severity) == ("unknown_course", Severity.ERROR)
    assert not [i for i in report.issues if i.code == COURSE_NOT_PROVIDED]
    assert lost["sourcedId"] not in classes_in(portal)
    assert active_enrollments(portal) == len(data.enrollments) - enrolled


def test_a_later_bundle_with_courses_links_the_classes_and_closes_the_warnings(
    portal: Services, district: DistrictData
) -> None:
    first = portal.runs.sync(
        "springfield", source=BundleSource(without_courses(bundle_of(district)))
    )
    assert first.status == "succeeded", first.error
    report = portal.runs.sync("springfield", source=BundleSource(bundle_of(district)))
    assert report.status == "succeeded", report.error
    assert report.counts["course"]["created"] == len(district.courses)
    assert report.counts["class"]["unchanged"] == len(district.classes)  # nothing else to do
    assert not [i for i in report.issues if i.code == COURSE_NOT_PROVIDED]
    assert not [i for i in portal.runs.open_issues("springfield") if i.code == COURSE_NOT_PROVIDED]

    t = tables.courses
    with portal.engine.connect() as conn:
        course_ids = {r.sourced_id: r.id for r in conn.execute(select(t.c.sourced_id, t.c.id))}
    stored = classes_in(portal)
    assert {sid: linked for sid, (_, linked, _) in stored.items()} == {
        c["sourcedId"]: course_ids[c["course"]["sourcedId"]] for c in district.classes
    }
    audit = tables.audit_log
    with portal.engine.connect() as conn:
        linked = conn.execute(
            select(audit.c.entity_id, audit.c.changes).where(
                audit.c.run_id == report.run_id, audit.c.entity_type == "class"
            )
        ).all()
    assert len(linked) == len(district.classes)
    assert all(changes == {"fields": ["course_id"]} for _, changes in linked)
