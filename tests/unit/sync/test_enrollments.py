"""Streamed enrollments plan exactly what the in-memory path plans, in bounded memory."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests import factories as f

from rostersync.domain.plan import EntityPlan, PlanDigest, SmallestN, plan_entity
from rostersync.domain.records import Enrollment, EntityKind, StoredRecord
from rostersync.domain.validate import (
    EnrollmentContext,
    SourceRoster,
    Verdict,
    judge_enrollment,
)
from rostersync.sync.enrollment_spool import HASH, STATUS
from rostersync.sync.enrollments import (
    CREATE,
    EnrollmentPlan,
    EnrollmentSpool,
    SpoolFilled,
    StoredEnrollments,
    enrollment_of,
    plan_enrollments,
    row_hash,
    row_of,
    writes,
)
from rostersync.sync.enrollments import _Known as Known

KIND = EntityKind.ENROLLMENT
CLASSES = ["cls-1", "cls-2", "cls-bad"]
USERS = ["stu-1", "stu-2", "tch-1", "stu-bad", "ghost"]


class FakeStore:
    """What the portal holds, as the pipeline's store functions would read it."""

    def __init__(self, stored: dict[str, StoredRecord]) -> None:
        self.stored = stored
        self.lookups = 0

    def lookup(self, sids: Sequence[str]) -> dict[str, StoredRecord]:
        self.lookups += 1
        return {s: self.stored[s] for s in sids if s in self.stored}

    def active(self) -> Iterator[list[tuple[str, str]]]:
        rows = [(r.id, r.sourced_id) for r in self.stored.values() if r.active]
        for start in range(0, len(rows), 2):
            yield rows[start : start + 2]

    def active_hashes(self) -> Iterator[list[str]]:
        hashes = [r.content_hash for r in self.stored.values() if r.active]
        for start in range(0, len(hashes), 2):
            yield hashes[start : start + 2]

    def bind(self, *, by_hashes: bool = False) -> StoredEnrollments:
        total = len(self.stored)
        active = sum(1 for r in self.stored.values() if r.active)
        return StoredEnrollments(
            counts=(total, active),
            lookup=self.lookup,
            active=self.active,
            active_hashes=self.active_hashes if by_hashes else None,
        )


CONTEXT = EnrollmentContext(
    classes_ok={"cls-1", "cls-2"},
    classes_held={"cls-bad"},
    people_known={"stu-1", "stu-2", "tch-1"},
    people_held={"stu-bad"},
)

enrollments = st.builds(
    lambda n, user, cls, role, status, end: Enrollment(
        sourced_id=f"enr-{n}",
        status=status,
        class_sourced_id=cls,
        school_sourced_id="sch-1",
        user_sourced_id=user,
        role=role,
        end_date=end,
    ),
    n=st.integers(0, 30),
    user=st.sampled_from(USERS),
    cls=st.sampled_from(CLASSES),
    role=st.sampled_from(["student", "teacher", "parent"]),
    status=st.sampled_from(["active", "active", "active", "tobedeleted"]),
    end=st.sampled_from([None, "2027-06-30"]),
)
stored_rows = st.dictionaries(
    st.integers(0, 40).map(lambda n: f"enr-{n}"),
    st.tuples(st.booleans(), st.booleans()),
    max_size=30,
)


def unchanged_in_portal(count: int) -> dict[str, StoredRecord]:
    """The portal holding `spooled(count)`'s enrollments, active and unchanged."""
    return {
        e.sourced_id: StoredRecord(f"id-{n}", e.sourced_id, e.content_hash(), True, False)
        for n, e in enumerate(pulled_enrollments(count))
    }


def pulled_enrollments(count: int) -> list[Enrollment]:
    return [f.enrollment(f"enr-{n}", "stu-1") for n in range(count)]


def spooled(count: int, *, chunk: int) -> EnrollmentSpool:
    """A spool holding `count` enrollments of one student (close it, or use it with `with`)."""
    spool = EnrollmentSpool(chunk=chunk)
    for record in pulled_enrollments(count):
        spool.add(record)
    return spool


class InProcessHelper:
    """Fills a spool as the helper process does (`sync.enrollment_reader`), through its own
    descriptor of the spool's file, writing a chunk each time the plan waits for one."""

    def __init__(self, spool: EnrollmentSpool, records: list[Enrollment]) -> None:
        self.ends: list[int] = []
        file = os.fdopen(os.dup(spool.fileno), "r+b")
        self.writer = EnrollmentSpool(spool.chunk, file=file, on_flush=self.ends.append)
        self.records = records
        self.stream = self._fill()

    def _fill(self) -> Iterator[int]:
        for record in self.records:
            self.writer.add(record)
            while self.ends:
                yield self.ends.pop(0)
        self.writer.flush()
        while self.ends:
            yield self.ends.pop(0)

    def written(self) -> Iterator[int]:
        return self.stream

    def result(self) -> SpoolFilled:
        for _end in self.stream:
            pass
        filled = SpoolFilled(
            offsets=tuple(self.writer.flush()),
            count=self.writer.count,
            issues=tuple(self.writer.issues),
            repeated=frozenset(self.writer.repeated()),
        )
        self.writer.close()
        return filled

    def cancel(self) -> None:
        self.writer.close()


def plan_stream(
    spool: EnrollmentSpool,
    store: FakeStore,
    *,
    complete: bool,
    delta: bool = False,
    digest: PlanDigest | None = None,
    cap: int = 10,
    by_hashes: bool = False,
) -> EnrollmentPlan:
    return plan_enrollments(
        spool,
        CONTEXT,
        store.bind(by_hashes=by_hashes),
        complete=complete,
        delta=delta,
        digest=digest or PlanDigest(10),
        cap=cap,
    )


def in_memory(
    pulled: list[Enrollment], stored: dict[str, StoredRecord], complete: bool
) -> tuple[EntityPlan, SourceRoster]:
    """The in-memory path: collect (first sourcedId wins), judge, plan the kind whole."""
    roster = SourceRoster()
    for record in pulled:
        roster.add(record)
    valid, held = [], set()
    for record in roster.enrollments.values():
        verdict, _issues = judge_enrollment(record, CONTEXT)
        if verdict in (Verdict.VALID, Verdict.REMOVAL):
            valid.append(record)
        else:
            held.add(record.sourced_id)
    # An empty collection is never a snapshot (the pipeline's `present` kinds).
    present = bool(roster.enrollments)
    return plan_entity(KIND, valid, stored, complete=complete and present, held=held), roster


def stored_index(
    rows: dict[str, tuple[bool, bool]], pulled: list[Enrollment]
) -> dict[str, StoredRecord]:
    """Stored rows: some the same content as a pulled record (unchanged), some not."""
    by_sid = {r.sourced_id: r for r in pulled}
    index: dict[str, StoredRecord] = {}
    for sid, (active, same) in rows.items():
        record = by_sid.get(sid)
        digest = record.content_hash() if record is not None and same else "0" * 32
        index[sid] = StoredRecord(f"id-{sid}", sid, digest, active, False)
    return index


class TestRows:
    @given(enrollments)
    def test_a_spooled_row_is_the_same_enrollment_with_the_same_hash(self, e: Enrollment) -> None:
        row = row_of(e)
        assert enrollment_of(row) == e
        assert row_hash(row) == e.content_hash()

    def test_the_spool_reads_back_every_row_in_order_across_chunks(self) -> None:
        with EnrollmentSpool(chunk=3) as spool:
            records = [f.enrollment(f"enr-{n}", "stu-1") for n in range(10)]
            for record in records:
                spool.add(record)
            spool.add(dataclasses.replace(records[0], sourced_id=""))
            chunks = list(spool.chunks())
            assert [(start, len(c)) for start, c in chunks] == [(0, 3), (3, 3), (6, 3), (9, 1)]
            assert [enrollment_of(r) for _, c in chunks for r in c] == records
            # A second pass reads the same again.
            assert sum(len(c) for _, c in spool.chunks()) == 10
            # A pass may skip chunks by their span of positions; it reads the others.
            spans: list[tuple[int, int]] = []

            def only_the_third(start: int, end: int) -> bool:
                spans.append((start, end))
                return start == 6

            wanted = list(spool.chunks(only=only_the_third))
            assert spans == [(0, 3), (3, 6), (6, 9), (9, 10)]
            assert [(start, [enrollment_of(r) for r in c]) for start, c in wanted] == [
                (6, records[6:9])
            ]
            assert [i.code for i in spool.issues] == ["missing_sourced_id"]
            assert len(spool.keys) == spool.count == 10


class TestPlanEnrollments:
    @settings(max_examples=400, deadline=None)
    @given(
        st.lists(enrollments, max_size=25),
        stored_rows,
        st.booleans(),
        st.integers(1, 4),
        st.booleans(),
        st.booleans(),
    )
    def test_plans_exactly_what_the_in_memory_plan_does(
        self,
        pulled: list[Enrollment],
        rows: dict[str, tuple[bool, bool]],
        complete: bool,
        chunk: int,
        by_hashes: bool,
        aside: bool,
    ) -> None:
        stored = stored_index(rows, pulled)
        expected, roster = in_memory(pulled, stored, complete)
        with EnrollmentSpool(chunk=chunk) as spool:
            if aside:
                # Filled by a helper while being planned, a chunk at a time; a repeated
                # sourcedId, known only at the end, makes the plan start over.
                spool.attach(InProcessHelper(spool, pulled))
            else:
                for record in pulled:
                    spool.add(record)
            digest = PlanDigest(1000)
            # Every chunk looked up, or only what the portal's active hashes do not vouch for.
            got = plan_stream(
                spool,
                FakeStore(stored),
                complete=complete,
                digest=digest,
                cap=1000,
                by_hashes=by_hashes,
            )
            plan = got.plan
            assert plan.counts() == expected.counts()
            assert plan.first_sourced_ids("created") == sorted(
                w.record.sourced_id for w in expected.creates
            )
            assert set(plan.deactivations) == {(s.id, s.sourced_id) for s in expected.deactivations}
            # The duplicates the in-memory roster reports, the stream reports the same way.
            assert [i.sourced_id for i in got.issues if i.code == "duplicate_sourced_id"] == [
                i.sourced_id for i in roster.issues if i.code == "duplicate_sourced_id"
            ]
            # The write pass hands over exactly the planned writes, updates keeping their ids.
            parts = list(writes(spool, got, new_id=lambda: "new"))
            written = {
                (w.record.sourced_id, w.id, w.content_hash)
                for p in parts
                for w in (*p.creates, *p.updates, *p.restores)
            }
            assert written == {
                (w.record.sourced_id, "new" if w in expected.creates else w.id, w.content_hash)
                for w in (*expected.creates, *expected.updates, *expected.restores)
            }
            assert {s.id for p in parts for s in p.deactivations} == {
                s.id for s in expected.deactivations
            }
            assert digest.count == expected.change_count

    def test_an_empty_portal_is_not_looked_up_and_everything_is_created(self) -> None:
        store = FakeStore({})
        with EnrollmentSpool(chunk=2) as spool:
            for n in range(5):
                spool.add(f.enrollment(f"enr-{n}", "stu-1"))
            got = plan_stream(spool, store, complete=True, delta=True, cap=3)
        assert store.lookups == 0
        assert list(got.actions) == [CREATE] * 5
        assert got.plan.first_sourced_ids("created") == ["enr-0", "enr-1", "enr-2"]
        assert got.pulled == {f"enr-{n}" for n in range(5)}

    def test_the_write_pass_reads_only_the_chunks_that_hold_a_write(self) -> None:
        stored = unchanged_in_portal(6)
        with spooled(6, chunk=2) as spool:
            unchanged = plan_stream(spool, FakeStore(stored), complete=True)
            assert unchanged.plan.unchanged == 6
            stored["enr-3"] = stored["enr-3"]._replace(content_hash="0" * 32)
            one_change = plan_stream(spool, FakeStore(stored), complete=True)
            read: list[int] = []
            original = spool.chunks

            def counted(only: Callable[[int, int], bool] | None = None) -> Any:
                for start, rows in original(only):
                    read.append(start)
                    yield start, rows

            spool.chunks = counted  # type: ignore[method-assign]
            # Nothing changed: the write pass reads nothing back from disk.
            assert list(writes(spool, unchanged)) == []
            assert read == []
            # One change: only its chunk is read back.
            parts = list(writes(spool, one_change))
            assert [w.record.sourced_id for p in parts for w in p.updates] == ["enr-3"]
            assert read == [2]

    def test_with_the_portals_hashes_a_no_op_makes_no_lookup(self) -> None:
        stored = unchanged_in_portal(6)
        with spooled(6, chunk=2) as spool:
            store = FakeStore(stored)
            got = plan_stream(spool, store, complete=True, by_hashes=True)
            assert got.plan.unchanged == 6 and store.lookups == 0
            # One changed and one gone inactive: only their chunks are looked up.
            stored["enr-1"] = stored["enr-1"]._replace(content_hash="0" * 32)
            stored["enr-4"] = stored["enr-4"]._replace(active=False)
            store = FakeStore(stored)
            got = plan_stream(spool, store, complete=True, by_hashes=True)
            assert (got.plan.updated, got.plan.restored, got.plan.unchanged) == (1, 1, 4)
            assert store.lookups == 2
            assert got.ids == {1: "id-1", 4: "id-4"}

    def test_a_failed_lookup_fails_the_plan(self) -> None:
        class Broken(FakeStore):
            def lookup(self, sids: Sequence[str]) -> dict[str, StoredRecord]:
                if self.lookups == 1:
                    raise ConnectionError("the database went away")
                return super().lookup(sids)

        stored = {"enr-9": StoredRecord("id-9", "enr-9", "x", True, False)}
        with EnrollmentSpool(chunk=2) as spool:
            for n in range(6):
                spool.add(f.enrollment(f"enr-{n}", "stu-1"))
            with pytest.raises(ConnectionError, match="went away"):
                plan_stream(spool, Broken(stored), complete=True)

    def test_a_partial_snapshot_deactivates_no_absent_enrollment(self) -> None:
        stored = {
            f"enr-{n}": StoredRecord(f"id-{n}", f"enr-{n}", "x", True, False) for n in range(4)
        }
        with EnrollmentSpool() as spool:
            spool.add(f.enrollment("enr-0", "stu-1"))
            for complete, expected in ((False, set()), (True, {"id-1", "id-2", "id-3"})):
                got = plan_stream(spool, FakeStore(stored), complete=complete)
                assert {i for i, _sid in got.plan.deactivations} == expected


class TestPlanDigest:
    def test_the_order_of_changes_does_not_matter_and_any_change_does(self) -> None:
        changes = [f"enrollment|create|enr-{n}|h" for n in range(50)]
        a, b, c = PlanDigest(100), PlanDigest(100), PlanDigest(100)
        for change in changes:
            a.add(change)
        for change in reversed(changes):
            b.add(change)
        for change in [*changes[:-1], "enrollment|create|enr-49|other"]:
            c.add(change)
        assert a.fingerprint() == b.fingerprint() != c.fingerprint()
        assert a.items() == b.items() and a.items() is not None and len(a.items() or []) == 50

    @given(st.lists(st.text(max_size=4), max_size=12), st.integers(0, 12), st.integers(1, 8))
    def test_absorbing_another_digest_is_adding_its_changes(
        self, changes: list[str], split: int, cap: int
    ) -> None:
        whole, first, second = PlanDigest(cap), PlanDigest(cap), PlanDigest(cap)
        for change in changes:
            whole.add(change)
        for change in changes[:split]:
            first.add(change)
        for change in changes[split:]:
            second.add(change)
        first.absorb(second)
        assert first.fingerprint() == whole.fingerprint()
        assert first.items() == whole.items() and first.count == whole.count

    def test_past_the_cap_only_the_count_is_kept(self) -> None:
        digest = PlanDigest(3)
        for n in range(4):
            digest.add(str(n))
        assert digest.items() is None and digest.count == 4


@given(st.lists(st.text(max_size=3)), st.integers(1, 5))
def test_smallest_n_keeps_the_n_smallest_in_order(values: list[str], n: int) -> None:
    smallest = SmallestN(n)
    for value in values:
        smallest.add(value)
    assert smallest.result() == sorted(values)[:n]


def _with_hash(content: str, status: str = "active") -> tuple[Any, ...]:
    row = list(row_of(f.enrollment("e-1", "stu-1")))
    row[STATUS], row[HASH] = status, content
    return tuple(row)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=40, unique=True),
    st.lists(st.binary(min_size=16, max_size=16), max_size=40),
)
def test_known_hashes_are_found_exactly(stored: list[bytes], sent: list[bytes]) -> None:
    # Stored hashes that share their first 8 bytes (the search lands on the first of them), and
    # sent ones that share a stored one's first 8 bytes, or all 12 kept ones, but not the rest.
    twins = [s[:8] + b"\xff" * 4 + s[12:] for s in stored]
    stored = [*stored, *(t for t in twins if t not in stored)]
    near = [s[:8] + bytes(4) + s[12:] for s in stored] + [s[:12] + bytes(4) for s in stored]
    rows = [_with_hash(h.hex()) for h in [*sent, *stored, *near]]
    known = Known.load(iter([[h.hex() for h in stored]]))
    kept = {h[:12] for h in stored}
    assert known.unchanged(rows) == [bytes.fromhex(r[HASH])[:12] in kept for r in rows]


def test_a_known_hash_sent_with_another_status_is_not_unchanged() -> None:
    content = bytes(range(16)).hex()
    known = Known.load(iter([[content]]))
    assert known.unchanged([_with_hash(content), _with_hash(content, "tobedeleted")]) == [
        True,
        False,
    ]
