"""An educator's classes on their home page: collapsed when done, confirmed a whole class at once.

Over real HTTP, signed in through the ClassLink simulator: one POST confirms every student of
one class who is not yet confirmed (each audited, the confirmed ones left alone, nothing of
another class touched), only in a class the teacher teaches and only with the form's CSRF token;
both confirmations send the browser back to the class's section; two students with the same name
in a class are told apart by grade and student ID; the student's home page still works.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import delete, event, select
from tests.integration import sandboxes
from tests.integration.web.conftest import sign_in

from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district
from rostersync.store import educator_classes as rosters
from rostersync.store import web as web_store
from rostersync.store.tables import audit_log, classes, educators, eligibility, students


@dataclass(frozen=True)
class Cast:
    """Who and what the tests use, by sourcedId."""

    teacher: str  # teaches `confirmed_class`, `untouched_class` and `namesake_class`
    confirmed_class: str
    untouched_class: str
    namesake_class: str
    namesakes: tuple[str, str]  # two students of `namesake_class` renamed alike
    others_class: str  # a class the teacher does not teach
    stranger: str  # a student in none of the teacher's classes
    student: str


def cast_of(data: Any) -> Cast:
    """Pick a teacher with three classes of at least three students each, with no student in
    two of them, and a class of another teacher; rename two students of one class alike."""
    by_class: dict[str, list[str]] = {}
    teachers: dict[str, list[str]] = {}
    for e in data.enrollments:
        person, cls = e["user"]["sourcedId"], e["class"]["sourcedId"]
        if e["role"] == "student":
            by_class.setdefault(cls, []).append(person)
        elif e["role"] == "teacher":
            teachers.setdefault(person, []).append(cls)
    for teacher, taught in sorted(teachers.items()):
        big = [c for c in taught if len(by_class.get(c, [])) >= 3]
        chosen: list[str] = []
        for c in big:
            if all(not set(by_class[c]) & set(by_class[k]) for k in chosen):
                chosen.append(c)
        if len(chosen) < 3:
            continue
        others = next(c for c in by_class if c not in taught)
        taught_students = {p for c in taught for p in by_class.get(c, [])}
        stranger = next(p for ps in by_class.values() for p in ps if p not in taught_students)
        first, second = by_class[chosen[2]][:2]
        users = {u["sourcedId"]: u for u in data.users}
        users[second]["givenName"] = users[first]["givenName"]
        users[second]["familyName"] = users[first]["familyName"]
        return Cast(
            teacher=teacher,
            confirmed_class=chosen[0],
            untouched_class=chosen[1],
            namesake_class=chosen[2],
            namesakes=(first, second),
            others_class=others,
            stranger=stranger,
            student=by_class[chosen[0]][0],
        )
    raise AssertionError("no teacher with three separate classes")


@pytest.fixture(scope="module")
def cast_and_world(
    databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cast, Sandbox]]:
    tmp: Path = tmp_path_factory.mktemp("classes")
    settings = sandboxes.portal_settings(tmp, databases.new(), sso_timeout_seconds=2.0)
    data = generate_district(students=60, seed=3, tenant="springfield")
    cast = cast_of(data)
    district = SandboxDistrict(
        slug="springfield",
        tenant_id="1001",
        display_name="Springfield USD – Springfield, IL",
        data=data,
    )
    with Sandbox(settings, [district]) as sandbox:
        yield cast, sandbox


@pytest.fixture(scope="module")
def world(cast_and_world: tuple[Cast, Sandbox]) -> Sandbox:
    return cast_and_world[1]


@pytest.fixture(scope="module")
def cast(cast_and_world: tuple[Cast, Sandbox]) -> Cast:
    return cast_and_world[0]


def engine_of(world: Sandbox) -> Any:
    assert world.service is not None
    return world.service.engine


def class_id(world: Sandbox, sourced_id: str) -> str:
    with engine_of(world).connect() as conn:
        found: str = conn.execute(
            select(classes.c.id).where(classes.c.sourced_id == sourced_id)
        ).scalar_one()
    return found


def student_ids(world: Sandbox, sourced_ids: list[str]) -> dict[str, str]:
    with engine_of(world).connect() as conn:
        rows = conn.execute(
            select(students.c.sourced_id, students.c.id).where(
                students.c.sourced_id.in_(sourced_ids)
            )
        )
        return {r.sourced_id: r.id for r in rows}


def roster_of(data_world: Sandbox, cls: str) -> list[str]:
    """Portal ids of the students of a class (by its sourcedId), from the simulator's data."""
    data = data_world.districts[0].data
    sourced = [
        e["user"]["sourcedId"]
        for e in data.enrollments
        if e["class"]["sourcedId"] == cls and e["role"] == "student"
    ]
    return list(student_ids(data_world, sourced).values())


def statuses(world: Sandbox, ids: list[str]) -> dict[str, str]:
    """Each student's eligibility status ("unconfirmed" without a row)."""
    with engine_of(world).connect() as conn:
        rows = conn.execute(
            select(eligibility.c.student_id, eligibility.c.status).where(
                eligibility.c.student_id.in_(ids)
            )
        )
        found = {r.student_id: r.status for r in rows}
    return {i: found.get(i, "unconfirmed") for i in ids}


def audits(world: Sandbox, ids: list[str]) -> dict[str, list[Any]]:
    with engine_of(world).connect() as conn:
        rows = conn.execute(
            select(audit_log)
            .where(audit_log.c.entity_id.in_(ids), audit_log.c.action == "eligibility")
            .order_by(audit_log.c.id)
        ).all()
    found: dict[str, list[Any]] = {i: [] for i in ids}
    for row in rows:
        found[row.entity_id].append(row)
    return found


@contextmanager
def statements(world: Sandbox) -> Iterator[list[str]]:
    """The SQL the portal sends while the block runs (its server shares the test's engine)."""
    sent: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(" ".join(statement.split()))

    engine = engine_of(world)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def section(page: str, cid: str) -> str:
    """The HTML of one class's section of the educator's home page."""
    found = re.search(rf'<details[^>]*id="class-{re.escape(cid)}".*?</details>', page, re.S)
    assert found, page
    return found.group(0)


@pytest.fixture
def teacher(browser: httpx.Client, world: Sandbox, cast: Cast) -> httpx.Client:
    """The browser signed in through ClassLink as the cast's teacher."""
    response = sign_in(browser, world, "springfield", "1001", cast.teacher)
    assert response.status_code == 303, response.text
    return browser


class TestConfirmAWholeClass:
    def test_one_post_confirms_exactly_the_classs_unconfirmed_students(
        self, teacher: httpx.Client, world: Sandbox, cast: Cast
    ) -> None:
        cid = class_id(world, cast.confirmed_class)
        mine = roster_of(world, cast.confirmed_class)
        elsewhere = roster_of(world, cast.untouched_class)
        home = teacher.get("/").text
        csrf = csrf_of(home)
        assert " open" in section(home, cid).split(">")[0]  # students to confirm: open
        # One student confirmed on their own first: the class-wide confirmation leaves them be.
        kept = mine[0]
        single = teacher.post(
            f"/students/{kept}/eligibility",
            data={"status": "not_eligible", "csrf": csrf, "class_id": cid},
        )
        assert single.status_code == 303
        assert single.headers["location"].endswith(f"#class-{cid}")
        assert statuses(world, elsewhere) == {i: "unconfirmed" for i in elsewhere}
        # One student without an eligibility row yet (as one rostered by hand has).
        rowless = mine[1]
        with engine_of(world).begin() as conn:
            conn.execute(delete(eligibility).where(eligibility.c.student_id == rowless))
        before = audits(world, mine + elsewhere)

        with statements(world) as sent:
            response = teacher.post(
                f"/students/of-class/{cid}/eligibility", data={"status": "eligible", "csrf": csrf}
            )

        assert response.status_code == 303
        # Set-based, whatever the class's size: one query finds them, one INSERT (those without
        # a row) and one UPDATE (the rest) write them, one INSERT audits them all.
        eligibility_sql = [s for s in sent if re.search(r"\beligibility\b", s.split("WHERE")[0])]
        assert sum(1 for s in eligibility_sql if s.startswith("SELECT")) == 1
        assert [s.split()[0] for s in eligibility_sql if not s.startswith("SELECT")] == [
            "INSERT",
            "UPDATE",
        ]
        assert sum(1 for s in sent if s.startswith("INSERT INTO audit_log")) == 1
        location = response.headers["location"]
        assert location.startswith("/?") and location.endswith(f"#class-{cid}")
        changed = mine[1:]
        assert statuses(world, mine) == {kept: "not_eligible"} | {i: "eligible" for i in changed}
        assert statuses(world, elsewhere) == {i: "unconfirmed" for i in elsewhere}
        after = audits(world, mine + elsewhere)
        assert after[kept] == before[kept]
        assert all(after[i] == before[i] for i in elsewhere)
        with engine_of(world).connect() as conn:
            teacher_id = conn.execute(
                select(educators.c.id).where(educators.c.sourced_id == cast.teacher)
            ).scalar_one()
        for i in changed:
            (new,) = after[i][len(before[i]) :]
            assert new.actor == f"educator:{teacher_id}"
            assert new.changes["after"] == {"status": "eligible", "category": None}
            assert new.changes["source"] == "portal"
            assert new.entity_type == "student"
        assert after[rowless][-1].changes["before"] is None
        assert all(after[i][-1].changes["before"]["status"] == "unconfirmed" for i in mine[2:])

        page = teacher.get(location).text
        mine_section = section(page, cid)
        status = re.search(r'<p class="done" role="status">([^<]+)</p>', mine_section)
        assert status, mine_section
        assert f"Confirmed {len(changed)} students in " in status.group(1)
        assert "as eligible" in status.group(1)
        # Done: the section is closed on a plain visit, and offers no class-wide form.
        plain = section(teacher.get("/").text, cid)
        assert " open" not in plain.split(">")[0]
        assert "none to confirm" in plain and "/students/of-class/" not in plain
        again = teacher.post(
            f"/students/of-class/{cid}/eligibility", data={"status": "eligible", "csrf": csrf}
        )
        assert again.status_code == 303 and "confirmed=0" in again.headers["location"]
        assert audits(world, mine) == {
            i: after[i] for i in mine
        }  # nothing left to change, nothing audited
        assert "already confirmed; nothing changed" in teacher.get(again.headers["location"]).text

    def test_the_button_names_its_class_and_count(
        self, teacher: httpx.Client, world: Sandbox, cast: Cast
    ) -> None:
        cid = class_id(world, cast.untouched_class)
        count = len(roster_of(world, cast.untouched_class))
        with engine_of(world).connect() as conn:
            title = conn.execute(select(classes.c.title).where(classes.c.id == cid)).scalar_one()
        part = section(teacher.get("/").text, cid)
        assert f"Confirm all {count} students in {title} as eligible</button>" in part
        assert f"{count} students, {count} to confirm" in part

    def test_without_the_csrf_token_nothing_changes(
        self, teacher: httpx.Client, world: Sandbox, cast: Cast
    ) -> None:
        cid = class_id(world, cast.untouched_class)
        ids = roster_of(world, cast.untouched_class)
        for token in ("", "not-the-token"):
            response = teacher.post(
                f"/students/of-class/{cid}/eligibility", data={"status": "eligible", "csrf": token}
            )
            assert response.status_code == 403
            assert "This form expired" in response.text
        assert statuses(world, ids) == {i: "unconfirmed" for i in ids}

    def test_without_a_session_it_is_the_login_page(
        self, browser: httpx.Client, world: Sandbox, cast: Cast
    ) -> None:
        cid = class_id(world, cast.untouched_class)
        response = browser.post(
            f"/students/of-class/{cid}/eligibility", data={"status": "eligible"}
        )
        assert (response.status_code, response.headers["location"]) == (303, "/login")

    def test_another_teachers_class_is_not_found_and_traced(
        self, teacher: httpx.Client, world: Sandbox, cast: Cast
    ) -> None:
        cid = class_id(world, cast.others_class)
        ids = roster_of(world, cast.others_class)
        before = statuses(world, ids)
        csrf = csrf_of(teacher.get("/").text)
        with structlog.testing.capture_logs() as events:
            response = teacher.post(
                f"/students/of-class/{cid}/eligibility", data={"status": "eligible", "csrf": csrf}
            )
            missing = teacher.post(
                "/students/of-class/no-such-class/eligibility",
                data={"status": "eligible", "csrf": csrf},
            )
        assert response.status_code == missing.status_code == 404
        assert statuses(world, ids) == before
        refs = [
            re.search(r'<code class="reference">([0-9A-Z]{5}-[0-9A-Z]{5})</code>', r.text)
            for r in (response, missing)
        ]
        assert refs[0] and refs[1] and refs[0].group(1) != refs[1].group(1)
        # A class of another teacher reads exactly like one that does not exist.
        assert response.text.replace(refs[0].group(1), "") == missing.text.replace(
            refs[1].group(1), ""
        )
        logged = [e for e in events if e["event"] == "educator.confirm_refused"]
        assert [e["reference"] for e in logged] == [refs[0].group(1), refs[1].group(1)]
        assert {e["reason"] for e in logged} == {"not_your_class"}
        assert all(e["district"] == world.district_ids["springfield"] for e in logged)

    def test_a_student_of_another_teachers_class_is_not_found_and_traced(
        self, teacher: httpx.Client, world: Sandbox, cast: Cast
    ) -> None:
        theirs = student_ids(world, [cast.stranger])[cast.stranger]
        before = statuses(world, [theirs])
        csrf = csrf_of(teacher.get("/").text)
        with structlog.testing.capture_logs() as events:
            response = teacher.post(
                f"/students/{theirs}/eligibility", data={"status": "eligible", "csrf": csrf}
            )
        assert response.status_code == 404
        assert statuses(world, [theirs]) == before
        ref = re.search(r'<code class="reference">([0-9A-Z]{5}-[0-9A-Z]{5})</code>', response.text)
        assert ref
        (logged,) = [e for e in events if e["event"] == "educator.confirm_refused"]
        assert (logged["reference"], logged["reason"]) == (ref.group(1), "not_your_student")

    def test_an_unknown_status_is_refused(
        self, teacher: httpx.Client, world: Sandbox, cast: Cast
    ) -> None:
        cid = class_id(world, cast.untouched_class)
        ids = roster_of(world, cast.untouched_class)
        csrf = csrf_of(teacher.get("/").text)
        response = teacher.post(
            f"/students/of-class/{cid}/eligibility", data={"status": "maybe", "csrf": csrf}
        )
        assert response.status_code == 400
        assert statuses(world, ids) == {i: "unconfirmed" for i in ids}


class TestTheHomePages:
    def test_students_with_the_same_name_are_told_apart(
        self, teacher: httpx.Client, world: Sandbox, cast: Cast
    ) -> None:
        cid = class_id(world, cast.namesake_class)
        with engine_of(world).connect() as conn:
            twins = conn.execute(
                select(students.c.given_name, students.c.family_name, students.c.student_id)
                .where(students.c.sourced_id.in_(cast.namesakes))
                .order_by(students.c.student_id)
            ).all()
        assert len({(t.given_name, t.family_name) for t in twins}) == 1
        assert len({t.student_id for t in twins}) == 2
        part = section(teacher.get("/").text, cid)
        for twin in twins:
            assert "Same name as another student · Grade " in part
            assert f"Student ID {twin.student_id}</span>" in part
            # Each one's buttons name them by student ID too.
            name = f"{twin.given_name} {twin.family_name}"
            assert f'aria-label="Confirm {name} (student ID {twin.student_id}) eligible"' in part
        assert part.count("Same name as another student") == 2

    def test_the_single_confirmation_returns_to_its_class(
        self, teacher: httpx.Client, world: Sandbox, cast: Cast
    ) -> None:
        cid = class_id(world, cast.namesake_class)
        one = roster_of(world, cast.namesake_class)[-1]
        csrf = csrf_of(teacher.get("/").text)
        response = teacher.post(
            f"/students/{one}/eligibility",
            data={"status": "eligible", "csrf": csrf, "class_id": cid},
        )
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.endswith(f"#class-{cid}")
        part = section(teacher.get(location).text, cid)
        assert re.search(r'<p class="done" role="status">Confirmed [^<]+ as eligible in ', part)

    def test_the_students_home_still_works(
        self, browser: httpx.Client, world: Sandbox, cast: Cast
    ) -> None:
        assert sign_in(browser, world, "springfield", "1001", cast.student).status_code == 303
        home = browser.get("/")
        assert home.status_code == 200
        assert "Your classes" in home.text and 'class="home-student"' in home.text
        assert home.text.count("<li><strong>") >= 1
        assert "/eligibility" not in home.text
        # A student posting the class-wide form is refused like anyone outside the class.
        cid = class_id(world, cast.confirmed_class)
        response = browser.post(
            f"/students/of-class/{cid}/eligibility",
            data={"status": "eligible", "csrf": csrf_of(home.text)},
        )
        assert response.status_code == 404


class TestACoTeacherMeanwhile:
    def test_a_student_confirmed_since_they_were_found_is_neither_changed_nor_audited(
        self, world: Sandbox, cast: Cast
    ) -> None:
        # Runs last: it confirms the class the tests above need unconfirmed. The co-teacher's
        # confirmation lands between the finding query and the bulk write.
        district = world.district_ids["springfield"]
        cid = class_id(world, cast.untouched_class)
        now = datetime.now(UTC)
        earlier = audits(world, roster_of(world, cast.untouched_class))
        with engine_of(world).begin() as conn:
            teacher_id = conn.execute(
                select(educators.c.id).where(educators.c.sourced_id == cast.teacher)
            ).scalar_one()
            found = rosters.unconfirmed_in_class(conn, district, teacher_id, cid)
            assert len(found) >= 2
            first, rest = found[0].student_id, {s.student_id for s in found[1:]}
            web_store.confirm_eligibility(
                conn,
                district_id=district,
                student_id=first,
                status="not_eligible",
                actor="educator:co-teacher",
                now=now - timedelta(seconds=1),
            )
            changed = rosters.confirm_students(
                conn,
                district_id=district,
                found=found,
                status="eligible",
                actor=f"educator:{teacher_id}",
                now=now,
            )
        assert set(changed) == rest
        assert statuses(world, [first, *rest]) == {first: "not_eligible"} | dict.fromkeys(
            rest, "eligible"
        )
        logged = audits(world, [first, *rest])
        new = {i: [a.actor for a in logged[i][len(earlier[i]) :]] for i in logged}
        mine = f"educator:{teacher_id}"
        assert new == {first: ["educator:co-teacher"]} | {i: [mine] for i in rest}
