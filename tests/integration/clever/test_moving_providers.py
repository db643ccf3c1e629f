"""A district moving between ClassLink and Clever, both serving the same generated district.

After its source changes kind, the new provider's first full pull relinks every account by
student ID (students) or email (staff) to the new provider's ids, keeps eligibility, re-creates
the classes and enrollments under the new ids, and deactivates the old provider's: a preview
shows exactly that, the safeguards hold it for review, and nothing is deactivated before that
first COMPLETE pull is approved and applied. Deltas wait for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.integration import springfield
from tests.integration.clever.conftest import SLUG, district_id, make_portal, onboard, settings_for
from tests.integration.clever.portal_view import portal_view
from tests.integration.portal_state import snapshot

from rostersync.domain.questionnaire import DEFAULT_SOURCE_KIND
from rostersync.domain.records import EntityKind
from rostersync.errors import FullSyncRequired
from rostersync.providers import clever as clever_provider
from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer
from rostersync.simulator.clever import CleverSimulator
from rostersync.simulator.faults import server_error
from rostersync.store import tables

KEY, SECRET = "move-key", "move-secret-9Qz"
ACTOR = "staff:mover"


@pytest.fixture
def classlink(district_data: DistrictData) -> Iterator[SimulatorServer]:
    with springfield.serve(district_data, KEY, SECRET) as server:
        yield server


@pytest.fixture
def both(tmp_path: Path, clever: CleverSimulator) -> Iterator[Services]:
    """A portal that can read the district from either simulator."""
    settings = settings_for(clever, tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    portal = make_portal(settings)
    yield portal
    portal.close()


def accounts(portal: Services) -> dict[str, dict[str, tuple[str, str, bool]]]:
    """Per people kind: the account id by student ID (students) or email (staff), with its
    linked sourcedId and whether it is active."""
    with portal.engine.connect() as conn:
        students = {
            r.student_id: (r.id, r.sourced_id, r.active)
            for r in conn.execute(select(tables.students))
        }
        educators = {
            r.email.lower(): (r.id, r.sourced_id, r.active)
            for r in conn.execute(select(tables.educators))
        }
    return {"student": students, "educator": educators}


def to_clever(portal: Services, clever: CleverSimulator) -> None:
    portal.onboarding.set_source(
        SLUG, ACTOR, source_kind=clever_provider.KIND, source_url="", key=district_id(clever)
    )


def to_classlink(portal: Services, classlink: SimulatorServer, kind: str) -> None:
    portal.onboarding.set_source(
        SLUG,
        ACTOR,
        source_kind=kind,
        source_url=classlink.base_url(SLUG),
        key=KEY,
        secret=SECRET,
    )


def plan_count(report: Any, kind: EntityKind, outcome: str) -> int:
    return int(report.plan["kinds"][kind.value][outcome]["count"])


def moved_and_checked(portal: Services, before: dict[str, Any], classes_before: int) -> None:
    """The first full pull of the new provider: previewed, held, approved; then checked."""
    view_before = portal_view(portal)
    held_before = snapshot(portal)
    with pytest.raises(FullSyncRequired):
        portal.runs.delta(SLUG)

    preview = portal.runs.preview(SLUG)

    assert preview.status == "previewed", preview.error
    assert snapshot(portal) == held_before
    people = {EntityKind.STUDENT: "student", EntityKind.EDUCATOR: "educator"}
    for kind, name in people.items():
        active = sum(1 for _id, _sid, on in before[name].values() if on)
        assert plan_count(preview, kind, "matched") == active, kind
        assert plan_count(preview, kind, "created") == 0, kind
        assert plan_count(preview, kind, "deactivated") == 0, kind
    keys = {m["key"] for m in preview.plan["kinds"]["student"]["matched"]["items"]}
    assert keys == {"student_id"}
    assert {m["key"] for m in preview.plan["kinds"]["educator"]["matched"]["items"]} == {"email"}
    assert plan_count(preview, EntityKind.CLASS, "created") == classes_before
    assert plan_count(preview, EntityKind.CLASS, "deactivated") == classes_before
    assert plan_count(preview, EntityKind.ENROLLMENT, "deactivated") > 0
    assert preview.eligibility_changes == 0

    # Applied, the old provider's classes all go: the safeguards hold it for a person.
    held = portal.runs.sync(SLUG)
    assert held.status == "held", held.error
    assert held.reason is not None and "class" in held.reason
    assert snapshot(portal) == held_before

    applied = portal.runs.approve(held.run_id, ACTOR)

    assert applied.status == "succeeded", applied.error
    after = accounts(portal)
    for name in people.values():
        assert set(after[name]) == set(before[name])
        for key, (account_id, old_sid, was_active) in before[name].items():
            new_id, new_sid, active = after[name][key]
            assert new_id == account_id, key  # the same account, relinked
            assert active == was_active, key
            if was_active:
                assert new_sid != old_sid, key
    view_after = portal_view(portal)
    assert view_after.eligibility == view_before.eligibility
    assert view_after.students == view_before.students
    assert sorted(view_after.classes) == sorted(view_before.classes)
    assert sorted(view_after.enrollments) == sorted(view_before.enrollments)
    with portal.engine.connect() as conn:
        classes = list(conn.execute(select(tables.classes.c.active)))
    assert sum(1 for (on,) in classes if on) == classes_before
    assert sum(1 for (on,) in classes if not on) == classes_before
    # The new provider is now the district's: a delta builds on its full sync.
    assert portal.runs.delta(SLUG).status == "succeeded"


def test_a_district_moves_from_classlink_to_clever(
    both: Services, classlink: SimulatorServer, clever: CleverSimulator
) -> None:
    springfield.onboard(both, classlink, key=KEY, secret=SECRET, **springfield.LISTED_WITH_METADATA)
    first = both.runs.sync(SLUG)
    assert first.status == "succeeded", first.error
    before = accounts(both)
    classes = len(portal_view(both).classes)
    to_clever(both, clever)
    # A first Clever pull that breaks off deactivates nothing and relinks no one.
    clever.set_faults(district_id(clever), server_error(503, collection="users", times=50))
    broken = both.runs.sync(SLUG)
    assert broken.status == "failed"
    assert accounts(both) == before
    clever.set_faults(district_id(clever))

    moved_and_checked(both, before, classes)


def test_a_district_moves_from_clever_to_classlink(
    both: Services, classlink: SimulatorServer, clever: CleverSimulator
) -> None:
    onboard(both, district_id(clever))
    first = both.runs.sync(SLUG)
    assert first.status == "succeeded", first.error
    before = accounts(both)
    classes = len(portal_view(both).classes)
    with both.engine.connect() as conn:
        kind = conn.execute(select(tables.integrations.c.source_kind)).scalar_one()
    assert kind == clever_provider.KIND
    to_classlink(both, classlink, DEFAULT_SOURCE_KIND)
    classlink.set_faults(SLUG, server_error(503, collection="users", times=50))
    broken = both.runs.sync(SLUG)
    assert broken.status == "failed"
    assert accounts(both) == before
    classlink.set_faults(SLUG)

    moved_and_checked(both, before, classes)
