"""Signing in through Clever over real HTTP: the portal, the Clever simulator and ClassLink's.

Each browser is an httpx client that follows no redirects by itself, so every hop is looked at:
the login page, `/login/start`, Clever's `/oauth/authorize`, the portal's Clever callback. The
world (world.py) has a ClassLink district and three Clever ones, one of them not live; it runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from tests.integration.clever_signin.world import APP_ID, APP_SECRET, CleverWorld, start_world
from tests.integration.listener import listening

from rostersync.signin.clever import CleverRelyingParty
from rostersync.signin.clever_portal import CLEVER_CALLBACK_PATH, CleverSignIn
from rostersync.signin.oidc import SignInRefused
from rostersync.simulator.clever import user_id_for
from rostersync.web.cookies import Cookies


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleverWorld]:
    """The world on SQLite, then on PostgreSQL."""
    running = start_world(tmp_path_factory.mktemp("clever-sign-in"), database_url=databases.new())
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh(world: CleverWorld) -> Iterator[None]:
    """Each test: OIDC on, the simulator's clock true, no one pre-signed-in at Clever."""
    world.clever.sso.oidc = True
    world.clock_offset[0] = 0.0
    world.clever.sign_in_as(None)
    yield
    world.clever.sso.oidc = True
    world.clock_offset[0] = 0.0
    world.clever.sign_in_as(None)


@pytest.fixture
def browser(world: CleverWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, timeout=10) as client:
        yield client


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def start(browser: httpx.Client, world: CleverWorld, slug: str) -> str:
    """Choose a district on the login page; the URL the portal sends the browser to."""
    response = browser.get("/login/start", params={"district": world.district_ids[slug]})
    assert response.status_code == 303, response.text
    return response.headers["location"]


def at_clever(browser: httpx.Client, url: str, **changes: str | None) -> str:
    """Follow an authorize URL at Clever (its query changed by `changes`; None drops a
    parameter); the callback Clever redirects to."""
    query = query_of(url)
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    response = browser.get(url.split("?")[0] + "?" + urlencode(query))
    assert response.status_code == 302, response.text
    location: str = response.headers["location"]
    return location


def callback(browser: httpx.Client, location: str) -> httpx.Response:
    """Deliver Clever's redirect to the portal."""
    parts = urlsplit(location)
    assert parts.path == CLEVER_CALLBACK_PATH
    return browser.get(f"{parts.path}?{parts.query}")


def sign_in(
    browser: httpx.Client, world: CleverWorld, slug: str, user_id: str, **changes: str | None
) -> httpx.Response:
    """The whole drop-down login as one Clever user; the portal's answer to the callback."""
    return callback(
        browser, at_clever(browser, start(browser, world, slug), login_as=user_id, **changes)
    )


def session_of(world: CleverWorld, browser: httpx.Client) -> Any:
    """Who the browser's session cookie belongs to (None when it has none)."""
    token = browser.cookies.get(Cookies.of(world.service.settings).session)
    return world.service.signin.viewer(token)


def refused(response: httpx.Response, reason: str) -> str:
    """Assert the refusal page with this reason and a reference of its own; the reference."""
    assert response.status_code == 403, response.text
    assert f"<code>{reason}</code>" in response.text
    match = re.search(r'<code class="reference">([0-9A-Z]{5}-[0-9A-Z]{5})</code>', response.text)
    assert match is not None, response.text
    return match.group(1)


class TestTheLoginPage:
    def test_clever_districts_are_listed_beside_classlink_ones_only_when_live(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        page = browser.get("/login").text
        for slug in ("springfield", "capital", "ogdenville"):
            assert f'value="{world.district_ids[slug]}"' in page, slug
        assert world.district_ids["brockway"] not in page
        assert "Continue with ClassLink or Clever" in page

    def test_each_district_goes_to_its_own_provider(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        to_clever = start(browser, world, "capital")
        assert to_clever.startswith(f"{world.clever.url}/oauth/authorize?")
        query = query_of(to_clever)
        assert query["client_id"] == APP_ID
        assert query["response_type"] == "code"
        assert query["redirect_uri"] == f"{world.url}{CLEVER_CALLBACK_PATH}"
        assert query["district_id"] == world.clever_ids["capital"]
        assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
        assert "client_secret" not in to_clever and APP_SECRET not in to_clever
        to_classlink = start(browser, world, "springfield")
        assert to_classlink.startswith(world.sandbox.sso.url)
        assert "district_id" not in query_of(to_classlink)

    def test_the_page_may_send_forms_on_to_clever(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        policy = browser.get("/login").headers["content-security-policy"]
        assert (
            f"form-action 'self' {world.service.settings.classlink_issuer} {world.clever.url};"
            in policy
        )


class TestSigningIn:
    def test_a_student_signs_in_with_a_verified_id_token(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        world.service.clever_signin.close()  # a new relying party: no keys cached yet
        user_id, record = world.student("capital", 1)
        answer = sign_in(browser, world, "capital", user_id)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/"
        viewer = session_of(world, browser)
        assert viewer.district_id == world.district_ids["capital"]
        assert viewer.kind == "student"
        assert viewer.person.given_name == record["givenName"]
        assert world.service.clever_signin.relying_party.jwks_fetches == 1
        home = browser.get("/")
        assert home.status_code == 200 and record["givenName"] in home.text

    def test_without_oidc_the_person_comes_from_me(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        world.clever.sso.oidc = False
        world.service.clever_signin.close()
        user_id, record = world.student("ogdenville", 2)
        answer = sign_in(browser, world, "ogdenville", user_id)
        assert answer.status_code == 303, answer.text
        assert world.service.clever_signin.relying_party.jwks_fetches == 0  # no id_token came
        viewer = session_of(world, browser)
        assert viewer.district_id == world.district_ids["ogdenville"]
        assert viewer.person.given_name == record["givenName"]

    def test_a_teacher_signs_in_as_an_educator(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        record = next(u for u in world.data["capital"].users if u["sourcedId"].startswith("tch-"))
        user_id = user_id_for(world.clever_ids["capital"], record["sourcedId"])
        answer = sign_in(browser, world, "capital", user_id)
        assert answer.status_code == 303, answer.text
        viewer = session_of(world, browser)
        assert viewer.kind == "educator"
        assert viewer.district_id == world.district_ids["capital"]

    def test_a_new_sign_in_replaces_the_browsers_session(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        first, _ = world.student("capital", 3)
        second, record = world.student("capital", 4)
        sign_in(browser, world, "capital", first)
        before = browser.cookies.get(Cookies.of(world.service.settings).session)
        sign_in(browser, world, "capital", second)
        assert world.service.signin.viewer(before) is None
        assert session_of(world, browser).person.given_name == record["givenName"]


class TestTheCodeAndTheState:
    def test_a_callback_seen_again_never_exchanges_its_code_twice(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        user_id, _ = world.student("capital", 5)
        location = at_clever(browser, start(browser, world, "capital"), login_as=user_id)
        assert callback(browser, location).status_code == 303
        again = callback(browser, location)  # refresh, back button: the state is spent
        assert again.status_code == 303
        assert again.headers["location"].startswith(f"{world.clever.url}/oauth/authorize?")
        assert "district_id" not in query_of(again.headers["location"])

    def test_a_code_claimed_once_is_refused_under_another_state(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        user_id, _ = world.student("capital", 6)
        first = start(browser, world, "capital")
        second = start(browser, world, "capital")
        location = at_clever(browser, first, login_as=user_id)
        assert callback(browser, location).status_code == 303
        code = query_of(location)["code"]
        replayed = browser.get(
            CLEVER_CALLBACK_PATH, params={"code": code, "state": query_of(second)["state"]}
        )
        refused(replayed, "code_replayed")

    def test_a_callback_from_another_browser_is_not_used(
        self, world: CleverWorld, browser: httpx.Client
    ) -> None:
        user_id, _ = world.student("capital", 7)
        location = at_clever(browser, start(browser, world, "capital"), login_as=user_id)
        with httpx.Client(base_url=world.url, timeout=10) as victim:
            answer = callback(victim, location)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith(f"{world.clever.url}/oauth/authorize?")
            assert session_of(world, victim) is None

    def test_a_classlink_state_at_the_clever_callback_restarts(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        state = query_of(start(browser, world, "springfield"))["state"]
        answer = browser.get(CLEVER_CALLBACK_PATH, params={"code": "x", "state": state})
        assert answer.status_code == 303
        assert answer.headers["location"].startswith(f"{world.clever.url}/oauth/authorize?")
        assert session_of(world, browser) is None

    def test_clever_says_no(self, browser: httpx.Client, world: CleverWorld) -> None:
        refused(
            browser.get(CLEVER_CALLBACK_PATH, params={"error": "access_denied"}), "clever_error"
        )


class TestAPortalLaunch:
    def test_lands_the_person_in_their_own_district(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        user_id, record = world.student("ogdenville", 3)
        world.clever.sign_in_as(user_id)  # signed in at Clever, as after clicking a tile
        launch = browser.get(world.clever.portal_launch_url(user_id))
        assert launch.status_code == 302
        assert "state" not in query_of(launch.headers["location"])
        restart = callback(browser, launch.headers["location"])
        assert restart.status_code == 303
        assert session_of(world, browser) is None  # the launch's own code was not used
        answer = callback(browser, at_clever(browser, restart.headers["location"]))
        assert answer.status_code == 303, answer.text
        viewer = session_of(world, browser)
        assert viewer.district_id == world.district_ids["ogdenville"]
        assert viewer.person.given_name == record["givenName"]

    def test_a_clever_id_rostered_in_a_classlink_district_never_signs_in_there(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        user_id, record = world.student("capital", 0)  # Springfield rosters this very id
        world.clever.sign_in_as(user_id)
        restart = callback(
            browser, browser.get(world.clever.portal_launch_url(user_id)).headers["location"]
        )
        answer = callback(browser, at_clever(browser, restart.headers["location"]))
        assert answer.status_code == 303, answer.text
        viewer = session_of(world, browser)
        assert viewer.district_id == world.district_ids["capital"]
        assert viewer.person.given_name == record["givenName"]

    def test_a_person_of_a_district_not_live_is_refused(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        user_id, _ = world.student("brockway", 0)
        world.clever.sign_in_as(user_id)
        restart = callback(
            browser, browser.get(world.clever.portal_launch_url(user_id)).headers["location"]
        )
        refused(
            callback(browser, at_clever(browser, restart.headers["location"])), "district_not_live"
        )
        assert session_of(world, browser) is None


class TestTenantIsolation:
    def test_a_district_not_live_refuses_at_the_start(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        answer = browser.get("/login/start", params={"district": world.district_ids["brockway"]})
        refused(answer, "district_not_live")

    def test_a_person_of_district_a_never_signs_in_to_district_b(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        user_id, _ = world.student("capital", 2)
        # Ogdenville chosen; at Clever the person signs in to their own district (Capital).
        answer = sign_in(browser, world, "ogdenville", user_id, district_id=None)
        refused(answer, "clever_district_mismatch")
        assert session_of(world, browser) is None

    def test_the_same_refusal_without_oidc(self, browser: httpx.Client, world: CleverWorld) -> None:
        world.clever.sso.oidc = False
        user_id, _ = world.student("ogdenville", 0)
        refused(
            sign_in(browser, world, "capital", user_id, district_id=None),
            "clever_district_mismatch",
        )

    def test_a_clever_sign_in_for_a_classlink_district_is_refused(self, world: CleverWorld) -> None:
        with pytest.raises(SignInRefused) as refusal:
            world.service.clever_signin.begin_sign_in(
                district_id=world.district_ids["springfield"], binding="b"
            )
        assert refusal.value.reason == "district_not_live"


class TestTheIdToken:
    def test_a_nonce_other_than_the_logins_is_refused(
        self, browser: httpx.Client, world: CleverWorld
    ) -> None:
        user_id, _ = world.student("capital", 8)
        answer = sign_in(browser, world, "capital", user_id, nonce="not-the-one-we-sent")
        refused(answer, "clever_id_token_claim_nonce")
        assert session_of(world, browser) is None

    def test_an_expired_token_is_refused(self, browser: httpx.Client, world: CleverWorld) -> None:
        user_id, _ = world.student("capital", 8)
        world.clock_offset[0] = -7200.0  # Clever's clock two hours behind: exp an hour ago
        refused(sign_in(browser, world, "capital", user_id), "clever_id_token_expired")

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"iss": "https://clever.example"}, "clever_id_token_claim_iss"),
            ({"aud": "another-app"}, "clever_id_token_claim_aud"),
            ({"aud": [APP_ID, "another-app"]}, "clever_id_token_claim_aud"),
            ({"nonce": "other"}, "clever_id_token_claim_nonce"),
            ({"exp": int(time.time()) - 3600}, "clever_id_token_expired"),
            ({"iat": int(time.time()) - 4000}, "clever_id_token_claim_iat_stale"),
            ({"azp": "another-app"}, "clever_id_token_claim_azp"),
        ],
    )
    def test_claims_are_checked(
        self, world: CleverWorld, change: dict[str, Any], reason: str
    ) -> None:
        """Tokens signed with the simulator's own key, so only the changed claim is wrong; the
        keys and discovery come over HTTP from the simulator."""
        user_id, _ = world.student("capital", 0)
        now = time.time()
        claims = {
            "iss": world.clever.url,
            "aud": APP_ID,
            "sub": user_id,
            "iat": int(now),
            "exp": int(now) + 3600,
            "nonce": "the-nonce",
            "multi_role_user_id": user_id,
            "district": world.clever_ids["capital"],
            **change,
        }
        rp = relying_party(world)
        try:
            token = world.clever.sso.keys.sign(claims)
            with pytest.raises(SignInRefused) as refusal:
                rp.verify_id_token(token, nonce="the-nonce", login_started_at=now - 10)
            assert refusal.value.reason == reason
            assert refusal.value.subject == user_id  # signed by Clever: logged as a hash
            assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", refusal.value.reference)
            # The same token without the change passes: only the changed claim was wrong.
            good = world.clever.sso.keys.sign(
                {
                    **claims,
                    "iss": world.clever.url,
                    "aud": APP_ID,
                    "nonce": "the-nonce",
                    "exp": int(now) + 3600,
                    "iat": int(now),
                }
                | ({} if "azp" not in change else {"azp": APP_ID})
            )
            verified = rp.verify_id_token(good, nonce="the-nonce", login_started_at=now - 10)
            assert verified["district"] == world.clever_ids["capital"]
        finally:
            rp.close()

    def test_a_token_signed_by_another_key_is_refused(self, world: CleverWorld) -> None:
        from rostersync.simulator.sso_keys import SigningKeys

        user_id, _ = world.student("capital", 0)
        now = int(time.time())
        claims = {
            "iss": world.clever.url,
            "aud": APP_ID,
            "sub": user_id,
            "iat": now,
            "exp": now + 3600,
            "nonce": "n",
            "district": world.clever_ids["capital"],
        }
        rp = relying_party(world)
        try:
            with pytest.raises(SignInRefused) as refusal:
                rp.verify_id_token(SigningKeys().sign(claims), nonce="n", login_started_at=now)
            assert refusal.value.reason == "clever_id_token_signature"
        finally:
            rp.close()

    def test_discovery_naming_another_issuer_is_refused(self, world: CleverWorld) -> None:
        """The simulator says https://clever.com (Clever's own issuer, accepted); a portal
        pointed at it through another address than the issuer's is refused."""
        rp = CleverRelyingParty(
            oauth_url=world.clever.url.replace("127.0.0.1", "localhost"),
            api_url=world.clever.url,
            client_id=APP_ID,
            client_secret=APP_SECRET,
            redirect_uri=f"{world.url}{CLEVER_CALLBACK_PATH}",
        )
        try:
            with pytest.raises(SignInRefused) as refusal:
                rp.metadata()
            assert refusal.value.reason == "clever_discovery_issuer_mismatch"
        finally:
            rp.close()


def relying_party(world: CleverWorld) -> CleverRelyingParty:
    return CleverRelyingParty(
        oauth_url=world.clever.url,
        api_url=world.clever.url,
        client_id=APP_ID,
        client_secret=APP_SECRET,
        redirect_uri=f"{world.url}{CLEVER_CALLBACK_PATH}",
    )


class TestWhereTheSecretGoes:
    def test_the_app_secret_goes_to_the_oauth_url_only_and_the_users_token_to_the_api(
        self, world: CleverWorld
    ) -> None:
        """The API URL is a stranger's listener here: it hears the user's bearer token for
        /v3.0/me, never the app's secret or a Basic header; its 401 refuses the sign-in."""
        world.clever.sso.oidc = False
        service = world.service
        with listening() as stranger:
            rp = CleverRelyingParty(
                oauth_url=world.clever.url,
                api_url=stranger.url,
                client_id=APP_ID,
                client_secret=APP_SECRET,
                redirect_uri=f"{world.url}{CLEVER_CALLBACK_PATH}",
            )
            signin = CleverSignIn(service.engine, service.settings, service.box, rp)
            try:
                url = signin.begin_sign_in(
                    district_id=world.district_ids["capital"], binding="this-browser"
                )
                user_id, _ = world.student("capital", 9)
                with httpx.Client(timeout=10) as browser:
                    location = at_clever(browser, url, login_as=user_id)
                query = query_of(location)
                with pytest.raises(SignInRefused) as refusal:
                    signin.finish_sign_in(
                        code=query["code"], state=query["state"], binding="this-browser"
                    )
            finally:
                signin.close()
            assert refusal.value.reason == "clever_me_http_401"
            assert stranger.heard("GET /v3.0/me") and stranger.heard("Bearer ")
            assert not stranger.heard(APP_SECRET) and not stranger.heard("Basic ")
