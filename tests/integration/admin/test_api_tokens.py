"""Personal API tokens over real HTTP: made on /admin/api-tokens, shown once, used as
`Authorization: Bearer` on the /api routes without a browser (and without a CSRF token),
scoped like their owner's session, revoked, and refused with a traced 401 from then on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import structlog
from sqlalchemy import select
from tests.integration.admin.conftest import AdminWorld, form_csrf, staff_sign_in

from rostersync.store.api_tokens_tables import staff_api_tokens
from rostersync.store.signin_tables import staff_audit
from rostersync.store.tables import audit_log

TOKEN = re.compile(r'id="new-token"[^>]*value="(rs_[A-Za-z0-9_-]{43})"')
INVALID = "this API token is not valid"


def unreferenced(body: dict[str, str]) -> dict[str, str]:
    """A 404's JSON without the refusal reference it carries."""
    return {k: re.sub(r" \(reference [0-9A-Z]{5}-[0-9A-Z]{5}\)", "", v) for k, v in body.items()}


@pytest.fixture
def vendor_browser(browser: httpx.Client, world: AdminWorld) -> httpx.Client:
    assert staff_sign_in(browser, world.vendor.email).status_code == 303
    return browser


@pytest.fixture
def manager_browser(world: AdminWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, timeout=30) as browser:
        assert staff_sign_in(browser, world.dm_springfield.email).status_code == 303
        yield browser


@pytest.fixture
def program(world: AdminWorld) -> Iterator[httpx.Client]:
    """A script: no cookies, ever."""
    with httpx.Client(base_url=world.url, timeout=30) as client:
        yield client


def make_token(browser: httpx.Client, label: str) -> str:
    page = browser.get("/admin/api-tokens")
    assert page.status_code == 200
    made = browser.post("/admin/api-tokens", data={"csrf": form_csrf(page.text), "label": label})
    assert made.status_code == 201, made.text
    found = TOKEN.search(made.text)
    assert found, made.text
    assert "shown only this once" in made.text
    assert made.headers["cache-control"] == "no-store"
    return found.group(1)


def token_id(world: AdminWorld, secret: str) -> str:
    with world.service.engine.connect() as conn:
        found: str = conn.execute(
            select(staff_api_tokens.c.id).where(staff_api_tokens.c.prefix == secret[:11])
        ).scalar_one()
    return found


def revoke(browser: httpx.Client, token: str) -> httpx.Response:
    csrf = form_csrf(browser.get("/admin/api-tokens").text)
    return browser.post("/admin/api-tokens/revoke", data={"csrf": csrf, "token": token})


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class TestTheTokensPage:
    def test_a_token_is_shown_once_then_listed_by_its_prefix(
        self, world: AdminWorld, vendor_browser: httpx.Client
    ) -> None:
        secret = make_token(vendor_browser, "nightly <export>")
        page = vendor_browser.get("/admin/api-tokens").text
        assert secret not in page
        assert f"<code>{secret[:11]}…</code>" in page
        assert "nightly &lt;export&gt;" in page  # a label is text, never markup
        assert "Never" in page

    def test_the_page_needs_a_session_and_its_forms_their_csrf_token(
        self, world: AdminWorld, vendor_browser: httpx.Client, program: httpx.Client
    ) -> None:
        page = program.get("/admin/api-tokens")
        assert page.status_code == 303
        assert page.headers["location"] == "/staff/login?next=/admin/api-tokens"
        refused = vendor_browser.post("/admin/api-tokens", data={"label": "no csrf"})
        assert refused.status_code == 403 and "This form expired" in refused.text
        secret = make_token(vendor_browser, "kept")
        no_csrf = vendor_browser.post("/admin/api-tokens/revoke", data={"token": "x"})
        assert no_csrf.status_code == 403
        assert program.get("/api/v1/session", headers=bearer(secret)).status_code == 200

    def test_a_bad_label_is_said_and_makes_nothing(
        self, world: AdminWorld, vendor_browser: httpx.Client
    ) -> None:
        csrf = form_csrf(vendor_browser.get("/admin/api-tokens").text)
        refused = vendor_browser.post("/admin/api-tokens", data={"csrf": csrf, "label": "  "})
        assert refused.status_code == 400
        assert 'id="tokens-error"' in refused.text and "label" in refused.text
        assert not TOKEN.search(refused.text)

    def test_nobody_revokes_another_persons_token(
        self,
        world: AdminWorld,
        vendor_browser: httpx.Client,
        manager_browser: httpx.Client,
        program: httpx.Client,
    ) -> None:
        secret = make_token(vendor_browser, "the vendor's")
        refused = revoke(manager_browser, token_id(world, secret))
        assert refused.status_code == 404 and "Not revoked" in refused.text
        assert program.get("/api/v1/session", headers=bearer(secret)).status_code == 200
        assert secret[:11] not in manager_browser.get("/admin/api-tokens").text


class TestCallingTheApiWithAToken:
    def test_a_vendor_token_reads_and_writes_without_cookie_or_csrf(
        self, world: AdminWorld, vendor_browser: httpx.Client, program: httpx.Client
    ) -> None:
        secret = make_token(vendor_browser, "vendor script")
        auth = bearer(secret)
        me = program.get("/api/v1/session", headers=auth).json()
        assert me["role"] == "vendor_staff" and me["via"] == "api_token"
        assert me["csrf_token"] == ""
        slugs = {d["slug"] for d in program.get("/api/v1/districts", headers=auth).json()}
        assert slugs == {"springfield", "shelbyville"}
        shelbyville = program.get("/api/v1/districts/shelbyville", headers=auth)
        assert shelbyville.status_code == 200 and shelbyville.json()["slug"] == "shelbyville"
        runs = program.get("/api/v1/districts/springfield/runs", headers=auth).json()
        assert program.get(f"/api/v1/runs/{runs[0]['id']}", headers=auth).status_code == 200
        issues = program.get("/api/v1/districts/springfield/issues", headers=auth)
        assert issues.status_code == 200 and issues.json()
        # Writes: no X-CSRF-Token, and still done.
        previewed = program.post("/api/v1/districts/shelbyville/preview", headers=auth)
        assert previewed.status_code == 201, previewed.text
        run_id = previewed.json()["id"]
        discarded = program.post(f"/api/v1/runs/{run_id}/discard", headers=auth)
        assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
        assert not program.cookies

    def test_the_session_still_needs_its_csrf_token(
        self, world: AdminWorld, vendor_browser: httpx.Client
    ) -> None:
        before = len(world.service.runs.recent("shelbyville", limit=100))
        refused = vendor_browser.post("/api/v1/districts/shelbyville/preview")
        assert refused.status_code == 403
        assert refused.json() == {"detail": "send the session's csrf_token (GET /api/v1/session)"}
        assert len(world.service.runs.recent("shelbyville", limit=100)) == before
        me = vendor_browser.get("/api/v1/session").json()
        assert me["via"] == "session" and me["csrf_token"]

    def test_a_data_managers_token_sees_only_their_district_like_their_session(
        self,
        world: AdminWorld,
        manager_browser: httpx.Client,
        program: httpx.Client,
    ) -> None:
        secret = make_token(manager_browser, "springfield export")
        auth = bearer(secret)
        me = program.get("/api/v1/session", headers=auth).json()
        assert me["role"] == "data_manager"
        assert me["district_id"] == world.service.districts.get("springfield")[0].id
        listed = program.get("/api/v1/districts", headers=auth).json()
        assert [d["slug"] for d in listed] == ["springfield"]
        assert program.get("/api/v1/districts/springfield", headers=auth).status_code == 200
        other_run = world.service.runs.recent("shelbyville", limit=1)[0].id
        for path in (
            "/api/v1/districts/shelbyville",
            "/api/v1/districts/shelbyville/runs",
            "/api/v1/districts/shelbyville/issues",
            f"/api/v1/runs/{other_run}",
        ):
            by_token = program.get(path, headers=auth)
            by_session = manager_browser.get(path)
            assert by_token.status_code == by_session.status_code == 404, path
            # The same refusal, each under a reference of its own.
            assert unreferenced(by_token.json()) == unreferenced(by_session.json()), path
        before = len(world.service.runs.recent("shelbyville", limit=100))
        aimed = program.post("/api/v1/districts/shelbyville/preview", headers=auth)
        assert aimed.status_code == 404
        assert len(world.service.runs.recent("shelbyville", limit=100)) == before

    def test_the_last_use_is_recorded(
        self, world: AdminWorld, vendor_browser: httpx.Client, program: httpx.Client
    ) -> None:
        secret = make_token(vendor_browser, "last use")
        with world.service.engine.connect() as conn:
            query = select(staff_api_tokens.c.last_used_at).where(
                staff_api_tokens.c.prefix == secret[:11]
            )
            assert conn.execute(query).scalar_one() is None
        assert program.get("/api/v1/districts", headers=bearer(secret)).status_code == 200
        with world.service.engine.connect() as conn:
            used = conn.execute(query).scalar_one()
        assert used is not None
        row = re.search(
            rf"<code>{re.escape(secret[:11])}…</code></td>\s*<td>[^<]+</td>\s*<td>([^<]+)</td>",
            vendor_browser.get("/admin/api-tokens").text,
        )
        assert row and row.group(1) == used.strftime("%Y-%m-%d %H:%M")


class TestRevokedAndUnknownTokens:
    def test_a_revoked_token_gets_a_traced_401_on_every_route(
        self, world: AdminWorld, vendor_browser: httpx.Client, program: httpx.Client
    ) -> None:
        secret = make_token(vendor_browser, "soon revoked")
        auth = bearer(secret)
        assert program.get("/api/v1/districts", headers=auth).status_code == 200
        done = revoke(vendor_browser, token_id(world, secret))
        assert (
            done.status_code == 303 and done.headers["location"] == "/admin/api-tokens?done=revoked"
        )
        assert "Revoked" in vendor_browser.get("/admin/api-tokens?done=revoked").text
        with structlog.testing.capture_logs() as events:
            answers = [
                program.get("/api/v1/districts", headers=auth),
                program.get("/api/v1/districts/springfield/runs", headers=auth),
                program.post("/api/v1/districts/springfield/preview", headers=auth),
            ]
        references = []
        for answer in answers:
            assert answer.status_code == 401
            challenge = answer.headers["www-authenticate"]
            assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
            detail = answer.json()["detail"]
            assert detail.startswith(INVALID)
            found = re.search(r"reference ([0-9A-Z]{5}-[0-9A-Z]{5})", detail)
            assert found
            references.append(found.group(1))
        logged = [e for e in events if e["event"] == "sign_in.refused"]
        assert [e["reference"] for e in logged] == references
        assert len(set(references)) == 3
        assert {e["reason"] for e in logged} == {"api_token_revoked"}
        assert secret not in repr(events) and secret[3:11] not in repr(logged)

    def test_an_unknown_token_is_refused_even_with_a_session_cookie(
        self, world: AdminWorld, vendor_browser: httpx.Client
    ) -> None:
        unknown = bearer("rs_" + "A" * 43)
        with structlog.testing.capture_logs() as events:
            answer = vendor_browser.get("/api/v1/districts", headers=unknown)
        assert answer.status_code == 401 and answer.json()["detail"].startswith(INVALID)
        (logged,) = [e for e in events if e["event"] == "sign_in.refused"]
        assert logged["reason"] == "api_token_unknown"
        assert logged["reference"] in answer.json()["detail"]
        empty = vendor_browser.get("/api/v1/districts", headers={"Authorization": "Bearer"})
        assert empty.status_code == 401
        metrics = httpx.get(f"{world.url}/metrics", timeout=30).text
        assert re.search(
            r'^rostersync_sign_in_refusals_total\{reason="api_token_unknown"\} [1-9]', metrics, re.M
        )

    def test_no_credentials_is_a_401_that_names_both_ways_in(self, program: httpx.Client) -> None:
        answer = program.get("/api/v1/districts")
        assert answer.status_code == 401
        assert answer.json() == {"detail": "sign in at /staff/login first"}
        assert answer.headers["www-authenticate"].startswith("Bearer ")


class TestNothingKeepsTheToken:
    def test_the_database_holds_only_hashes(
        self, world: AdminWorld, manager_browser: httpx.Client, program: httpx.Client
    ) -> None:
        secret = make_token(manager_browser, "hashed")
        program.get("/api/v1/districts", headers=bearer(secret))
        revoke(manager_browser, token_id(world, secret))
        with world.service.engine.connect() as conn:
            rows = [
                *conn.execute(select(staff_api_tokens)),
                *conn.execute(select(staff_audit)),
                *conn.execute(select(audit_log)),
            ]
            actions = set(
                conn.execute(
                    select(audit_log.c.action).where(
                        audit_log.c.entity_id == world.dm_springfield.id
                    )
                ).scalars()
            )
        assert rows
        assert not [r for r in rows if secret in repr(tuple(r)) or secret[3:] in repr(tuple(r))]
        # The district's own audit log shows its data manager's tokens made and revoked.
        assert {"api_token_created", "api_token_revoked"} <= actions


class TestTheDocument:
    def test_the_openapi_document_offers_the_bearer_scheme(self, program: httpx.Client) -> None:
        document = program.get("/api/openapi.json").json()
        schemes = document["components"]["securitySchemes"]
        token = schemes["apiToken"]
        assert (token["type"], token["scheme"]) == ("http", "bearer")
        assert "/admin/api-tokens" in token["description"]
        assert "/admin/api-tokens" in document["info"]["description"]
        assert {"staffSession", "apiToken", "pushKey"} <= set(schemes)
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                offered = [name for option in operation["security"] for name in option]
                if "/bundles" in path:
                    assert offered == ["pushKey"], (method, path)
                else:
                    assert set(offered) == {"staffSession", "apiToken"}, (method, path)
