"""Sync against a model: random sequences of source changes and runs, checked after every step.

Hypothesis drives the real service (`Services`) on a real database (SQLite and PostgreSQL)
from the ClassLink simulator over real HTTP. Each example onboards a fresh small district (16
students) and then, step by step, changes what the source serves (adds a student or a teacher,
drops someone, brings them back, marks someone `tobedeleted` or takes it back, renames, changes
eligibility, breaks a record, fixes it) and runs it (sync, revalidate, preview, approve, discard,
delta, a pull cut short by an outage).

After every step the portal must agree with what the model derives from the source:

- no account is ever deleted, and a sourcedId keeps its account for good, so a returning person
  gets the same account (and, with unchanged eligibility metadata, the same eligibility);
- a failed, held, previewed or discarded pull changes nothing in the roster;
- after an applied full pull the active students, educators and enrollments are exactly the valid
  ones in the source (not marked `tobedeleted`) plus the held ones that were already active,
  with the run's counts to match;
  after a delta only the records changed since the watermark moved, and nobody was deactivated
  but those marked `tobedeleted`;
- a preview or held plan is applied by approval when neither the source nor the portal changed
  since; otherwise approval either applies it or refuses it whole (`SourceChanged`).

Kept small for CI (tens of people, ten examples of up to fifteen steps): about half a minute
per database.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from rostersync.domain.eligibility import eligibility_from_value
from rostersync.errors import FullSyncRequired, RunNotPending, SourceChanged
from rostersync.services import Questionnaire, Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district, mutations
from rostersync.simulator import faults as f
from rostersync.simulator.district import EDUCATOR_ROLES
from rostersync.store import tables
from rostersync.store.delta import parse_modified
from rostersync.sync.delta import OVERLAP
from rostersync.sync.sources import OneRosterRestSource

KEY, SECRET = "model-key", "model-secret-3Hv"
STUDENTS = 16
ACTOR = "model@vendor.example"
# Every change the machine makes is stamped after everything generated (which ends 2026-08-30),
# ten minutes apart, so a delta's window (watermark minus five minutes) is easy to reason about.
EPOCH = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
ELIGIBILITY = ("RD", "BVI", "OPD", "N", "true", "maybe", "", None)
KINDS = {"student": tables.students, "educator": tables.educators}

Row = tuple[str, bool, str]  # portal id, active, content hash
Snapshot = dict[str, dict[str, Row]]


def kind_of(user: Mapping[str, Any]) -> str | None:
    role = user.get("role")
    if role == "student":
        return "student"
    return "educator" if role in EDUCATOR_ROLES else None


def leaving(record: Mapping[str, Any]) -> bool:
    """Marked for removal (`tobedeleted`): deactivated by any pull that brings it."""
    return record.get("status") == "tobedeleted"


def valid(user: Mapping[str, Any]) -> bool:
    """The only way this machine breaks a person: no givenName (a required field)."""
    return bool(user.get("givenName"))


@dataclass(frozen=True)
class Pending:
    """A previewed or held run waiting for a decision, and what the world was when it was made."""

    source: str
    epoch: int
    applicable: bool


class SyncMachine(RuleBasedStateMachine):
    """One district, its source and its portal; subclassed per test with `portal` and `server`."""

    portal: Services
    server: SimulatorServer
    base: DistrictData
    names = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        n = next(self.names)
        self.slug = f"model-{n}"
        self.data = copy.deepcopy(self.base)
        self.server.add_tenant(Tenant(name=self.slug, data=self.data, key=KEY, secret=SECRET))
        self.portal.districts.add(
            Questionnaire(
                slug=self.slug,
                name=f"Model District {n}",
                display_name=f"Model District {n} – Springfield, IL",
                city="Springfield",
                state="IL",
                source_url=self.server.base_url(self.slug),
                key=KEY,
                secret=SECRET,
                eligibility_source="metadata",
                eligibility_field="eligibility",
            )
        )
        self.district_id = self.portal.districts.get(self.slug)[0].id
        self.ticks = 0
        self.away: dict[str, mutations.Change] = {}
        self.given_names: dict[str, str] = {}
        self.teachers_added = 0
        # What the model knows of the portal: every account ever seen, and each student's
        # eligibility as the applied pulls set it.
        self.accounts: dict[tuple[str, str], str] = {}
        self.eligibility: dict[str, tuple[str, str | None]] = {}
        self.pending: dict[str, Pending] = {}
        self.decided: list[str] = []
        self.epoch = 0
        self.synced = False

    # The source ------------------------------------------------------------------------------
    def stamp(self) -> str:
        self.ticks += 1
        return (EPOCH + timedelta(minutes=10 * self.ticks)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def publish(self, data: DistrictData) -> None:
        self.data = data
        self.server.tenant(self.slug).data = data

    def people(self, *, broken: bool | None = None) -> list[str]:
        return sorted(
            u["sourcedId"]
            for u in self.data.users
            if kind_of(u) and (broken is None or broken is not valid(u))
        )

    def edit(self, sid: str, **changes: Any) -> None:
        """Copy the user, change it, stamp it, and serve the new district."""
        users = list(self.data.users)
        index = next(i for i, u in enumerate(users) if u["sourcedId"] == sid)
        user = copy.deepcopy(users[index])
        for name, value in changes.items():
            if name == "eligibility":
                meta = dict(user.get("metadata") or {})
                if value is None:
                    meta.pop("eligibility", None)
                else:
                    meta["eligibility"] = value
                user["metadata"] = meta
            else:
                user[name] = value
        user["dateLastModified"] = self.stamp()
        users[index] = user
        self.publish(dataclasses.replace(self.data, users=users))

    def source_key(self) -> str:
        return json.dumps([self.data.users, self.data.enrollments], sort_keys=True)

    @rule(seed=st.integers(0, 10_000))
    def add_student(self, seed: int) -> None:
        if not any(u["role"] == "student" for u in self.data.users):
            return
        self.publish(mutations.add_students(self.data, 1, at=self.stamp(), seed=seed).data)

    @rule(pick=st.integers(0, 1_000))
    def add_teacher(self, pick: int) -> None:
        teachers = [u for u in self.data.users if u["role"] == "teacher" and valid(u)]
        if not teachers:
            return
        model = teachers[pick % len(teachers)]
        self.teachers_added += 1
        sid, at = f"tch-model-{self.teachers_added:03d}", self.stamp()
        teacher = copy.deepcopy(model)
        teacher.update(
            status="active",
            sourcedId=sid,
            dateLastModified=at,
            username=f"model.teacher{self.teachers_added}",
            email=f"model.teacher{self.teachers_added}@model.example.org",
            identifier=f"MT{self.teachers_added:03d}",
            userIds=[],
        )
        enrollments = [
            {
                **copy.deepcopy(e),
                "sourcedId": f"enr-{sid}-{n}",
                "status": "active",
                "dateLastModified": at,
            }
            for n, e in enumerate(self.data.enrollments)
            if e["user"]["sourcedId"] == model["sourcedId"]
        ]
        for e in enrollments:
            e["user"]["sourcedId"] = sid
        self.publish(
            dataclasses.replace(
                self.data,
                users=[*self.data.users, teacher],
                enrollments=[*self.data.enrollments, *enrollments],
            )
        )

    @rule(data=st.data(), count=st.integers(1, 4))
    def drop(self, data: st.DataObject, count: int) -> None:
        """Some people leave without a trace (several at once may trip the safeguards)."""
        people = self.people()
        if not people:
            return
        for sid in data.draw(st.lists(st.sampled_from(people), max_size=count, unique=True)):
            step = mutations.vanish(self.data, "users", [sid])
            self.away[sid] = step.change
            self.publish(step.data)

    @precondition(lambda self: self.away)
    @rule(data=st.data())
    def come_back(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(sorted(self.away)))
        self.publish(mutations.come_back(self.data, self.away.pop(sid), at=self.stamp()).data)

    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        people = self.people()
        if people:
            sid = data.draw(st.sampled_from(people))
            self.publish(mutations.edit_users(self.data, [sid], at=self.stamp()).data)

    @rule(data=st.data(), value=st.sampled_from(ELIGIBILITY))
    def change_eligibility(self, data: st.DataObject, value: str | None) -> None:
        students = [u["sourcedId"] for u in self.data.users if u["role"] == "student"]
        if students:
            self.edit(data.draw(st.sampled_from(sorted(students))), eligibility=value)

    @rule(data=st.data())
    def break_record(self, data: st.DataObject) -> None:
        people = self.people(broken=False)
        if people:
            sid = data.draw(st.sampled_from(people))
            user = next(u for u in self.data.users if u["sourcedId"] == sid)
            self.given_names[sid] = user["givenName"]
            self.edit(sid, givenName="")

    @rule(data=st.data())
    def fix_record(self, data: st.DataObject) -> None:
        people = self.people(broken=True)
        if people:
            sid = data.draw(st.sampled_from(people))
            self.edit(sid, givenName=self.given_names[sid])

    @rule(data=st.data(), back=st.booleans())
    def mark_leaving(self, data: st.DataObject, back: bool) -> None:
        """The SIS marks someone and their enrollments `tobedeleted`, or takes that back."""
        people = [u["sourcedId"] for u in self.data.users if kind_of(u) and leaving(u) is back]
        if not people:
            return
        sid = data.draw(st.sampled_from(sorted(people)))
        status, at = ("active" if back else "tobedeleted"), self.stamp()
        enrollments = [
            {**e, "status": status, "dateLastModified": at} if e["user"]["sourcedId"] == sid else e
            for e in self.data.enrollments
        ]
        self.publish(dataclasses.replace(self.data, enrollments=enrollments))
        self.edit(sid, status=status)

    # The portal ------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Every roster row of the district by kind and sourcedId, and each eligibility."""
        out: Snapshot = {}
        with self.portal.engine.connect() as conn:
            for kind, table in (*KINDS.items(), ("enrollment", tables.enrollments)):
                rows = conn.execute(
                    select(table.c.sourced_id, table.c.id, table.c.active, table.c.content_hash)
                    .where(table.c.district_id == self.district_id)
                    .where(table.c.sourced_id.is_not(None))
                )
                out[kind] = {r.sourced_id: (r.id, r.active, r.content_hash) for r in rows}
            e = tables.eligibility
            rows = conn.execute(
                select(e.c.student_id, e.c.status, e.c.category).where(
                    e.c.district_id == self.district_id
                )
            )
            out["eligibility"] = {r.student_id: (r.status, r.category, "") for r in rows}
        return out

    def unchanged(self, before: Snapshot, what: str) -> None:
        assert self.snapshot() == before, f"{what} changed the portal"

    def check_counts(self, report: Any, before: Snapshot, after: Snapshot) -> None:
        """The run's counts say exactly what happened to each kind's rows."""
        for kind in (*KINDS, "enrollment"):
            was, now = before[kind], after[kind]
            created = sum(1 for sid in now if sid not in was)
            restored = sum(1 for sid, r in now.items() if r[1] and sid in was and not was[sid][1])
            gone = sum(1 for sid, r in was.items() if r[1] and not now[sid][1])
            counts = report.counts[kind]
            assert (counts["created"], counts["restored"], counts["deactivated"]) == (
                created,
                restored,
                gone,
            ), f"{kind} counts {counts} disagree with the rows"

    def expect_eligibility(self, students: Mapping[str, Mapping[str, Any]]) -> None:
        """Apply the eligibility of these (valid, pulled) students to the model."""
        for sid, user in students.items():
            wanted = eligibility_from_value((user.get("metadata") or {}).get("eligibility"))
            if wanted is not None:
                self.eligibility[sid] = (wanted.status.value, wanted.category)
            elif sid not in self.eligibility:
                self.eligibility[sid] = ("unconfirmed", None)

    def check_applied(self, report: Any, before: Snapshot, *, since: datetime | None) -> None:
        """After an applied pull: a full one when `since` is None, else a delta from `since`.

        A full pull leaves active exactly the valid records it brought and the held ones that
        were active already (a kind it brought none of stays as it was). A delta adds the valid
        records changed since `since` and deactivates none but those marked `tobedeleted`.
        """
        after = self.snapshot()
        users = {u["sourcedId"]: u for u in self.data.users if kind_of(u)}

        def pulled(record: Mapping[str, Any]) -> bool:
            if since is None:
                return True
            stamp = parse_modified(str(record.get("dateLastModified") or ""))
            return stamp is not None and stamp > since

        def was_active(kind: str, sid: str) -> bool:
            row = before[kind].get(sid)
            return row is not None and row[1]

        for kind in KINDS:
            mine = {sid: u for sid, u in users.items() if kind_of(u) == kind}
            if since is None and mine:
                expected = {
                    sid
                    for sid, u in mine.items()
                    if not leaving(u) and (valid(u) or was_active(kind, sid))
                }
            else:
                expected = {sid for sid in before[kind] if was_active(kind, sid)}
                expected -= {sid for sid, u in mine.items() if pulled(u) and leaving(u)}
                expected |= {
                    sid for sid, u in mine.items() if pulled(u) and valid(u) and not leaving(u)
                }
            active = {sid for sid, r in after[kind].items() if r[1]}
            assert active == expected, f"{kind}: {sorted(active ^ expected)} differ from the model"

        def person_ok(sid: str) -> bool:
            """The enrollment's person is provisioned by this pull or already in the portal."""
            user = users.get(sid)
            if user is not None and pulled(user):
                return valid(user) and not leaving(user)
            return since is not None and any(was_active(k, sid) for k in KINDS)

        enrollments = {e["sourcedId"]: e for e in self.data.enrollments}
        if since is None and enrollments:
            expected = {
                sid
                for sid, e in enrollments.items()
                if not leaving(e)
                and (person_ok(e["user"]["sourcedId"]) or was_active("enrollment", sid))
            }
        else:
            expected = {sid for sid in before["enrollment"] if was_active("enrollment", sid)}
            expected -= {sid for sid, e in enrollments.items() if pulled(e) and leaving(e)}
            expected |= {
                sid
                for sid, e in enrollments.items()
                if pulled(e) and not leaving(e) and person_ok(e["user"]["sourcedId"])
            }
        active = {sid for sid, r in after["enrollment"].items() if r[1]}
        assert active == expected, f"enrollments {sorted(active ^ expected)} differ"
        self.check_counts(report, before, after)
        self.expect_eligibility(
            {
                sid: u
                for sid, u in users.items()
                if u["role"] == "student" and valid(u) and pulled(u) and not leaving(u)
            }
        )
        if report.change_count:
            self.epoch += 1

    def full_run(self, report: Any, before: Snapshot) -> None:
        if report.status == "succeeded":
            self.check_applied(report, before, since=None)
            self.synced = True
        else:
            assert report.status == "held", (report.status, report.error)
            assert report.reason, "a held run says why"
            self.unchanged(before, "a held sync")
            self.pending[report.run_id] = Pending(self.source_key(), self.epoch, True)

    @rule()
    def sync(self) -> None:
        before = self.snapshot()
        self.full_run(self.portal.runs.sync(self.slug), before)

    @rule()
    def revalidate(self) -> None:
        before = self.snapshot()
        self.full_run(self.portal.runs.revalidate(self.slug), before)

    @rule()
    def preview(self) -> None:
        before = self.snapshot()
        report = self.portal.runs.preview(self.slug)
        assert report.status == "previewed", report.error
        self.unchanged(before, "a preview")
        self.pending[report.run_id] = Pending(self.source_key(), self.epoch, True)

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def approve(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.pending)))
        waiting = self.pending[run_id]
        same = waiting.applicable and (waiting.source, waiting.epoch) == (
            self.source_key(),
            self.epoch,
        )
        before = self.snapshot()
        try:
            report = self.portal.runs.approve(run_id, ACTOR)
        except SourceChanged:
            assert not same, "a plan whose source and portal did not change was refused"
            self.unchanged(before, "a refused approval")
            return
        assert report.status == "succeeded", report.error
        del self.pending[run_id]
        self.decided.append(run_id)
        self.check_applied(report, before, since=None)
        self.synced = True

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def discard(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(sorted(self.pending)))
        before = self.snapshot()
        assert self.portal.runs.discard(run_id, ACTOR).status == "discarded"
        del self.pending[run_id]
        self.decided.append(run_id)
        self.unchanged(before, "a discard")

    @precondition(lambda self: self.decided)
    @rule(data=st.data())
    def decide_again(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(self.decided))
        before = self.snapshot()
        with pytest.raises(RunNotPending):
            self.portal.runs.approve(run_id, ACTOR)
        with pytest.raises(RunNotPending):
            self.portal.runs.discard(run_id, ACTOR)
        self.unchanged(before, "deciding a decided run")

    @rule()
    def delta(self) -> None:
        before = self.snapshot()
        if not self.synced:
            with pytest.raises(FullSyncRequired):
                self.portal.runs.delta(self.slug)
            self.unchanged(before, "a refused delta")
            return
        mark = self.portal.runs.delta_watermark(self.slug)
        assert mark is not None and mark.watermark is not None
        moment = parse_modified(mark.watermark)
        assert moment is not None
        report = self.portal.runs.delta(self.slug)
        if report.status == "held":
            self.unchanged(before, "a held delta")
            # Approval re-pulls in full, so it may or may not be the same plan.
            self.pending[report.run_id] = Pending(self.source_key(), self.epoch, False)
            return
        assert report.status == "succeeded", report.error
        self.check_applied(report, before, since=(moment - OVERLAP).replace(microsecond=0))

    @rule(
        fault=st.sampled_from(
            [
                f.server_error(503, times=100, collection="users"),
                f.server_error(500, times=100, collection="enrollments"),
                f.wrong_total(-3, times=100, collection="users"),
                f.cut_mid_body(times=100, collection="enrollments"),
            ]
        )
    )
    def sync_cut_short(self, fault: f.Fault) -> None:
        before = self.snapshot()
        self.server.set_faults(self.slug, fault)
        try:
            source = OneRosterRestSource(
                self.server.base_url(self.slug),
                KEY,
                SECRET,
                max_retries=1,
                backoff_base=0.001,
                backoff_cap=0.01,
            )
            report = self.portal.runs.sync(self.slug, source=source)
        finally:
            self.server.set_faults(self.slug)
        assert report.status == "failed", report.status
        self.unchanged(before, "a pull cut short")

    # Always ----------------------------------------------------------------------------------
    @invariant()
    def accounts_stay_counts_agree_and_eligibility_follows_the_model(self) -> None:
        now = self.snapshot()
        # No account is ever deleted, and a sourcedId keeps its account (a returning person
        # gets the same one back).
        for kind in KINDS:
            for sid, (account, _active, _hash) in now[kind].items():
                assert self.accounts.setdefault((kind, sid), account) == account, (
                    f"{kind} {sid} changed account"
                )
        for (kind, sid), account in self.accounts.items():
            assert sid in now[kind] and now[kind][sid][0] == account, f"{kind} {sid} is gone"
        # The counts the CLI and the portal show agree with the rows, kind by kind.
        counts = self.portal.districts.counts(self.slug)
        for kind, table in (*KINDS.items(), ("enrollment", tables.enrollments)):
            rows = now[kind].values()
            assert counts[table.name] == {
                "active": sum(1 for r in rows if r[1]),
                "inactive": sum(1 for r in rows if not r[1]),
            }, f"{table.name} counts disagree with the rows"
        # Eligibility moves only with an applied pull of the student's valid record.
        ids = {sid: row[0] for sid, row in now["student"].items()}
        actual = {sid: now["eligibility"].get(i, (None, None, ""))[:2] for sid, i in ids.items()}
        assert actual == {sid: self.eligibility.get(sid, (None, None)) for sid in ids}


@pytest.fixture(scope="module")
def base() -> DistrictData:
    data = generate_district(students=STUDENTS, seed=41)
    # Guardians are not provisioned; leaving them out keeps the district small.
    return dataclasses.replace(data, users=[u for u in data.users if kind_of(u)])


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as srv:
        yield srv


def test_sync_agrees_with_the_model_at_every_step(
    portal: Services, server: SimulatorServer, base: DistrictData
) -> None:
    machine = type(
        "SyncAgainstTheModel", (SyncMachine,), {"portal": portal, "server": server, "base": base}
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=10,
            stateful_step_count=15,
            deadline=None,
            database=None,
            # A failure prints its steps (at most 15); shrinking them runs every sync again
            # hundreds of times, minutes that CI should not spend.
            phases=(Phase.explicit, Phase.generate),
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
