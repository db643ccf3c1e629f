"""Keyset-paged lists over real HTTP: the districts list, a district's runs and audit log, and the
API's lists. Walking every page visits every row exactly once, also while rows are added between
page loads; each page states what it shows of how many; a cursor that was tampered with is a 400
saying so; the API's links keep the filters; and a cursor never reaches past the caller's scope.

Rows are inserted straight into the tables: the lists only read them.
"""

from __future__ import annotations

import base64
import html
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert
from tests.integration.admin.conftest import AdminWorld, staff_sign_in

from rostersync.store.tables import audit_log, districts, sync_runs

BASE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
PREVIOUS = re.compile(r'<a href="([^"]+)" rel="prev">')


def district_id(world: AdminWorld, slug: str) -> str:
    return world.sandbox.district_ids[slug]


def add_districts(world: AdminWorld, names: list[str]) -> list[str]:
    """Districts named `names` (without integrations: the list shows them all the same)."""
    slugs = [f"k{uuid.uuid4().hex[:12]}" for _ in names]
    with world.service.engine.begin() as conn:
        conn.execute(
            insert(districts),
            [
                {
                    "id": str(uuid.uuid4()),
                    "slug": slug,
                    "name": name,
                    "display_name": name,
                    "city": "Ogden",
                    "state": "UT",
                    "status": "onboarding",
                    "time_zone": "America/Denver",
                    "created_at": BASE,
                }
                for slug, name in zip(slugs, names, strict=True)
            ],
        )
    return slugs


def add_runs(world: AdminWorld, slug: str, starts: list[datetime]) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in starts]
    with world.service.engine.begin() as conn:
        conn.execute(
            insert(sync_runs),
            [
                {
                    "id": run_id,
                    "district_id": district_id(world, slug),
                    "trigger": "schedule",
                    "mode": "apply",
                    "status": "failed",
                    "started_at": at,
                    "finished_at": at + timedelta(seconds=3),
                    "counts": None,
                    "error": "source unreachable",
                }
                for run_id, at in zip(ids, starts, strict=True)
            ],
        )
    return ids


def add_audit(world: AdminWorld, slug: str, moments: list[datetime]) -> list[str]:
    """Audit entries at `moments`; each names a record id of its own, returned."""
    records = [f"rec-{uuid.uuid4().hex[:10]}" for _ in moments]
    with world.service.engine.begin() as conn:
        conn.execute(
            insert(audit_log),
            [
                {
                    "district_id": district_id(world, slug),
                    "run_id": None,
                    "actor": "scheduler",
                    "action": "update",
                    "entity_type": "student",
                    "entity_id": record,
                    "changes": {"fields": ["grade"]},
                    "at": at,
                }
                for record, at in zip(records, moments, strict=True)
            ],
        )
    return records


@pytest.fixture
def vendor(world: AdminWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, world.vendor.email).status_code == 303
        yield client


@pytest.fixture
def manager(world: AdminWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, world.dm_springfield.email).status_code == 303
        yield client


def walk(
    client: httpx.Client, url: str, found: re.Pattern[str], between: list[object] | None = None
) -> tuple[list[list[str]], list[str]]:
    """Every page from `url` by its Next links: the items `found` on each, and each page's
    stated "Showing" words. `between` is called (and popped) before each next page load."""
    pages: list[list[str]] = []
    words: list[str] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        pages.append(found.findall(response.text))
        shown = re.search(r"(Showing [^<.]+\.|No [a-z ]+\.)", response.text)
        assert shown, response.text
        words.append(shown.group(1))
        following = NEXT.search(response.text)
        url = html.unescape(following.group(1)) if following else ""
        if url and between:
            action = between.pop(0)
            assert callable(action)
            action()
    return pages, words


def flat(pages: list[list[str]]) -> list[str]:
    return [item for page in pages for item in page]


class TestDistrictsList:
    def test_every_district_once_with_totals_while_districts_are_added(
        self, world: AdminWorld, vendor: httpx.Client
    ) -> None:
        # Ties on the display name are broken by id, so pages never overlap.
        slugs = add_districts(world, [f"Keyset District {i // 3:03d}" for i in range(118)])
        total = 118 + 2
        added: list[str] = []

        def add_around() -> None:
            # One district before the reader's position, one after: neither moves the walk.
            added.extend(add_districts(world, ["Aaa Keyset First", "Zzz Keyset Last"]))

        pages, words = walk(
            vendor,
            "/admin/districts",
            re.compile(r'href="/admin/districts/([a-z0-9-]+)">'),
            [add_around],
        )
        seen = flat(pages)
        assert len(seen) == len(set(seen)), "a district was shown twice"
        assert set(slugs) | {"springfield", "shelbyville"} <= set(seen)
        assert added[0] not in seen and added[1] in seen  # before the position: not reached
        assert [len(p) for p in pages] == [50, 50, 21]
        assert words[0] == f"Showing 1–50 of {total:,} districts."
        # The second page counts the district added ahead of it.
        assert words[1] == f"Showing 52–101 of {total + 2:,} districts."

    def test_previous_pages_retrace_the_next_ones(
        self, world: AdminWorld, vendor: httpx.Client
    ) -> None:
        forward, _ = walk(
            vendor, "/admin/districts", re.compile(r'href="/admin/districts/([a-z0-9-]+)">')
        )
        url = "/admin/districts"
        for _ in forward[1:]:
            url = html.unescape(NEXT.search(vendor.get(url).text).group(1))  # type: ignore[union-attr]
        backward = []
        while url:
            text = vendor.get(url).text
            backward.append(re.findall(r'href="/admin/districts/([a-z0-9-]+)">', text))
            before = PREVIOUS.search(text)
            url = html.unescape(before.group(1)) if before else ""
        assert list(reversed(backward)) == forward

    def test_a_data_manager_sees_their_district_whatever_the_cursor(
        self, world: AdminWorld, vendor: httpx.Client, manager: httpx.Client
    ) -> None:
        first = vendor.get("/admin/districts").text
        cursor = html.unescape(NEXT.search(first).group(1)).split("cursor=")[1]  # type: ignore[union-attr]
        for url in ("/admin/districts", f"/admin/districts?cursor={cursor}"):
            text = manager.get(url).text
            listed = set(re.findall(r'href="/admin/districts/([a-z0-9-]+)">', text))
            assert listed <= {"springfield"}
            assert "shelbyville" not in text


class TestRunsAndAudit:
    def test_every_run_once_newest_first_while_runs_start(
        self, world: AdminWorld, vendor: httpx.Client
    ) -> None:
        # Runs that started at the same moment, in threes: the id breaks the tie.
        starts = [BASE - timedelta(hours=i // 3) for i in range(120)]
        ids = add_runs(world, "springfield", starts)
        new: list[str] = []

        def start_one() -> None:
            new.extend(add_runs(world, "springfield", [datetime.now(UTC)]))

        pages, words = walk(
            vendor,
            "/admin/districts/springfield/runs",
            re.compile(r'href="/admin/runs/([0-9a-f-]+)">'),
            [start_one, start_one],
        )
        seen = flat(pages)
        assert len(seen) == len(set(seen))
        assert set(ids) <= set(seen)
        assert not set(new) & set(seen)  # newer than the first page: on a fresh first page only
        assert words[0].startswith("Showing 1–50 of ") and words[0].endswith(" runs.")
        total = int(re.search(r"of ([\d,]+) runs", words[0]).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert len(seen) == total
        fresh = vendor.get("/admin/districts/springfield/runs").text
        assert all(run_id in fresh for run_id in new)

    def test_every_audit_entry_once_with_totals(
        self, world: AdminWorld, vendor: httpx.Client
    ) -> None:
        records = add_audit(
            world, "springfield", [BASE - timedelta(minutes=i // 4) for i in range(130)]
        )
        pages, words = walk(
            vendor,
            "/admin/districts/springfield/audit",
            re.compile(r"<code>(rec-[0-9a-f]+)</code>"),
        )
        seen = flat(pages)
        assert sorted(seen) == sorted(records)
        assert re.fullmatch(r"Showing 1–50 of [\d,]+ audit entries\.", words[0])
        assert len(pages) >= 3

    def test_a_cursor_stays_in_the_managers_district(
        self, world: AdminWorld, vendor: httpx.Client, manager: httpx.Client
    ) -> None:
        add_runs(world, "shelbyville", [BASE + timedelta(days=i) for i in range(60)])
        shelby = vendor.get("/admin/districts/shelbyville/runs").text
        cursor = html.unescape(NEXT.search(shelby).group(1)).split("cursor=")[1]  # type: ignore[union-attr]
        # Shelbyville's position, read on Springfield's list: only Springfield's runs.
        text = manager.get(f"/admin/districts/springfield/runs?cursor={cursor}").text
        shown = set(re.findall(r'href="/admin/runs/([0-9a-f-]+)">', text))
        with world.service.engine.connect() as conn:
            theirs = {
                r.id
                for r in conn.execute(
                    sync_runs.select().where(
                        sync_runs.c.district_id == district_id(world, "shelbyville")
                    )
                )
            }
        assert shown and not shown & theirs
        refused = manager.get(f"/admin/districts/shelbyville/runs?cursor={cursor}")
        assert refused.status_code == 404


def tampered(cursor: str) -> list[str]:
    """Ways a cursor goes wrong: cut short, not base64, another list's, a key of the wrong kind."""
    document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))

    def made(doc: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return [
        cursor[: len(cursor) // 2],
        "!!not-a-cursor!!",
        made({**document, "l": "audit"}),
        made({**document, "k": [1, 2]}),
        made({**document, "k": document["k"][:1]}),
        made(["just", "a", "list"]),
    ]


class TestBadCursors:
    def test_a_tampered_cursor_is_a_400_page_saying_so(
        self, world: AdminWorld, vendor: httpx.Client
    ) -> None:
        first = vendor.get("/admin/districts/springfield/runs").text
        cursor = html.unescape(NEXT.search(first).group(1)).split("cursor=")[1]  # type: ignore[union-attr]
        for bad in tampered(cursor):
            refused = vendor.get("/admin/districts/springfield/runs", params={"cursor": bad})
            assert refused.status_code == 400, bad
            assert "This page link does not work" in refused.text
            assert "/admin/districts/springfield/runs" in refused.text
        assert vendor.get("/admin/districts", params={"cursor": "e30"}).status_code == 400

    def test_a_tampered_cursor_is_a_400_in_the_api(
        self, world: AdminWorld, vendor: httpx.Client
    ) -> None:
        page = vendor.get("/api/v1/districts/springfield/runs", params={"limit": 5})
        cursor = page.headers["X-Next-Cursor"]
        for bad in tampered(cursor):
            refused = vendor.get("/api/v1/districts/springfield/runs", params={"cursor": bad})
            assert refused.status_code == 400, bad
            assert "cursor is not one this list made" in refused.json()["detail"]


class TestApiLists:
    def test_runs_by_link_headers_every_run_once(
        self, world: AdminWorld, vendor: httpx.Client
    ) -> None:
        url: str | None = "/api/v1/districts/springfield/runs?limit=17"
        seen: list[str] = []
        totals = set()
        while url:
            response = vendor.get(url)
            assert response.status_code == 200, response.text
            assert len(response.json()) <= 17
            seen.extend(r["id"] for r in response.json())
            totals.add(int(response.headers["X-Total-Count"]))
            url = response.links.get("next", {}).get("url")
            if url:
                assert "limit=17" in url
        assert len(totals) == 1 and len(seen) == totals.pop() == len(set(seen))

    def test_issue_filters_and_limit_are_kept_in_the_links(
        self, world: AdminWorld, vendor: httpx.Client
    ) -> None:
        every = vendor.get("/api/v1/districts/springfield/issues", params={"limit": 1000}).json()
        assert every, "Springfield has planted bad records"
        code = max({i["code"] for i in every}, key=lambda c: sum(i["code"] == c for i in every))
        wanted = sorted(i["sourced_id"] + i["field"] for i in every if i["code"] == code)
        url: str | None = f"/api/v1/districts/springfield/issues?code={code}&limit=2"
        got: list[str] = []
        while url:
            response = vendor.get(url)
            assert int(response.headers["X-Total-Count"]) == len(wanted)
            assert all(i["code"] == code for i in response.json())
            got.extend(i["sourced_id"] + i["field"] for i in response.json())
            url = response.links.get("next", {}).get("url")
            if url:
                assert f"code={code}" in url and "limit=2" in url
        assert sorted(got) == wanted

    def test_districts_pages_are_documented(self, world: AdminWorld, vendor: httpx.Client) -> None:
        document = vendor.get("/api/openapi.json").json()
        listing = document["paths"]["/v1/districts"]["get"]
        names = {p["name"] for p in listing["parameters"]}
        assert {"limit", "cursor"} <= names
        assert "X-Next-Cursor" in listing["responses"]["200"]["headers"]
        assert "400" in listing["responses"]
