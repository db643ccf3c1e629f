"""A user whose sourcedId cell has stray spaces keeps their enrollments (ids are normalised
alike, a record's own and every reference to it).

Before, the user was stored as `" stu-…  "` while enrollments pointed at `stu-…`, so every one
of that person's enrollments was held as waiting on an unknown user.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.bundle.helpers import bundle_of, make_portal
from tests.unit.oneroster.bundle_helpers import make_zip, members

from rostersync.simulator import generate_district
from rostersync.sync.bundle_source import BundleSource


def test_padded_user_ids_sync_exactly_as_clean_ones(
    fresh_db_url: Callable[[], str], tmp_path: Path
) -> None:
    data = generate_district(students=40, seed=3)
    clean = bundle_of(data)
    files = members(clean)
    student = next(
        u["sourcedId"] for u in data.users if u["role"] == "student" and u["status"] == "active"
    )
    enrolled = sum(1 for e in data.enrollments if e["user"]["sourcedId"] == student)
    assert enrolled > 0
    users = files["users.csv"].decode("utf-8")
    assert f"\r\n{student}," in users
    files["users.csv"] = users.replace(f"\r\n{student},", f'\r\n"  {student} ",').encode()
    padded = make_zip(files)

    results = {}
    for name, bundle in (("clean", clean), ("padded", padded)):
        portal = make_portal(fresh_db_url(), tmp_path / name)
        try:
            report = portal.runs.sync("springfield", source=BundleSource(bundle))
            assert report.status == "succeeded", report.error
            issues = portal.runs.issues(report.run_id)
            results[name] = (portal.districts.counts("springfield"), sorted(i.code for i in issues))
            assert not [i for i in issues if student in i.sourced_id or student in i.message]
        finally:
            portal.close()
    assert results["padded"] == results["clean"]
