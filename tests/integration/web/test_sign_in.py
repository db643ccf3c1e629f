"""Signing in with ClassLink over real HTTP: the portal on uvicorn, the SSO simulator, a real DB.

Each relying-party rule of security.md §1 is proved against the simulator misbehaving that way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update
from tests.integration.web.conftest import (
    NEWCOMER,
    authorize,
    callback_of,
    person_of,
    pick,
    reference,
    session_cookie,
    sign_in,
)

from rostersync.demo.sandbox import Sandbox
from rostersync.errors import ConfigError
from rostersync.signin.oidc import RelyingParty, SignInRefused
from rostersync.simulator.sso import SsoFault
from rostersync.store.tables import students
from rostersync.store.web_tables import login_states, web_sessions


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class TestHappyPath:
    """A rostered person who picks their live district lands signed in on their home page."""

    def test_authorize_request_carries_state_nonce_pkce_and_the_configured_redirect(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        start = authorize(browser, world, "springfield")
        location = start.headers["location"]
        assert location.startswith(f"{world.sso.url}/oauth2/v2/auth?")
        query = query_of(location)
        assert query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43
        assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
        assert query["redirect_uri"] == f"{world.url}/oauth/callback"

    def test_student_signs_in_and_sees_name_school_and_classes(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        student = person_of(world, "1001", "Student")
        done = sign_in(browser, world, "springfield", "1001", student.sourced_id)
        assert done.status_code == 303 and done.headers["location"] == "/"
        assert session_cookie(browser)
        home = browser.get("/")
        assert home.status_code == 200
        assert student.display_name in home.text
        assert "Your classes" in home.text and "Springfield USD" in home.text
        assert home.text.count("<li><strong>") >= 2

    def test_pkce_verifier_reaches_the_token_endpoint(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        """The simulator refuses a code whose verifier does not match its S256 challenge."""
        student = person_of(world, "1001", "Student")
        start = authorize(browser, world, "springfield")
        callback = pick(browser, start.headers["location"], "1001", student.sourced_id)
        assert browser.get(callback.url).status_code == 303
        assert world.sso.token_requests_for(callback.code) == 1

    def test_educator_sees_classes_with_students_eligibility(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        teacher = person_of(world, "1001", "Teacher")
        assert sign_in(browser, world, "springfield", "1001", teacher.sourced_id).status_code == 303
        home = browser.get("/")
        assert teacher.display_name in home.text
        assert "Eligibility" in home.text and "unconfirmed" in home.text
        assert 'value="eligible"' in home.text


class TestUnboundCallbacks:
    """A callback we cannot bind to a login this browser started never has its code exchanged."""

    def test_launchpad_launch_restarts_the_login_and_signs_the_educator_in(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        teacher = person_of(world, "1001", "Teacher")
        launch = browser.get(world.sso.launch_url("educator-portal", "1001", teacher.sourced_id))
        first = callback_of(launch.headers["location"])
        assert first.state is None
        bounce = browser.get(first.url)
        assert bounce.status_code == 303
        assert bounce.headers["location"].startswith(f"{world.sso.url}/oauth2/v2/auth?")
        # ClassLink knows the browser now and answers at once, with our state.
        silent = browser.get(bounce.headers["location"])
        assert silent.status_code == 302
        second = callback_of(silent.headers["location"])
        assert second.state == query_of(bounce.headers["location"])["state"]
        assert browser.get(second.url).status_code == 303
        assert teacher.display_name in browser.get("/").text
        assert world.sso.token_requests_for(first.code) == 0

    def test_unknown_state_bounces_without_exchanging(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        response = browser.get("/oauth/callback", params={"code": "abc123", "state": "forged"})
        assert response.status_code == 303
        assert response.headers["location"].startswith(world.sso.url)
        assert world.sso.token_requests_for("abc123") == 0
        assert session_cookie(browser) is None

    def test_refreshing_the_callback_does_not_exchange_the_code_twice(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        student = person_of(world, "1001", "Student")
        start = authorize(browser, world, "springfield")
        callback = pick(browser, start.headers["location"], "1001", student.sourced_id)
        assert browser.get(callback.url).status_code == 303
        again = browser.get(callback.url)
        assert again.status_code == 303 and again.headers["location"].startswith(world.sso.url)
        assert world.sso.token_requests_for(callback.code) == 1

    def test_a_callback_link_from_another_browser_does_not_sign_this_one_in(
        self, world: Sandbox
    ) -> None:
        """Login CSRF: the attacker's code and state, opened by the victim, are not used."""
        attacker = person_of(world, "1001", "Student")
        with (
            httpx.Client(base_url=world.url) as evil,
            httpx.Client(base_url=world.url) as victim,
        ):
            start = authorize(evil, world, "springfield")
            callback = pick(evil, start.headers["location"], "1001", attacker.sourced_id)
            response = victim.get(callback.url)
            assert response.status_code == 303
            assert response.headers["location"].startswith(world.sso.url)
            assert session_cookie(victim) is None
            assert world.sso.token_requests_for(callback.code) == 0

    def test_an_expired_state_bounces(self, browser: httpx.Client, world: Sandbox) -> None:
        student = person_of(world, "1001", "Student")
        start = authorize(browser, world, "springfield")
        callback = pick(browser, start.headers["location"], "1001", student.sourced_id)
        assert world.service is not None
        with world.service.engine.begin() as conn:
            conn.execute(
                update(login_states).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        response = browser.get(callback.url)
        assert response.headers["location"].startswith(world.sso.url)
        assert world.sso.token_requests_for(callback.code) == 0


class TestCodeReplay:
    """A code is exchanged once, even when it comes back with a fresh, valid state."""

    def test_a_used_code_with_a_new_state_is_refused(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        student = person_of(world, "1001", "Student")
        start = authorize(browser, world, "springfield")
        callback = pick(browser, start.headers["location"], "1001", student.sourced_id)
        assert browser.get(callback.url).status_code == 303
        fresh_state = query_of(authorize(browser, world, "springfield").headers["location"])
        replay = browser.get(
            "/oauth/callback", params={"code": callback.code, "state": fresh_state["state"]}
        )
        assert replay.status_code == 403 and reference(replay) == "code_replayed"
        assert world.sso.token_requests_for(callback.code) == 1


REFUSED = [
    (SsoFault.BAD_SIGNATURE, "id_token_signature"),
    (SsoFault.ALG_NONE, "id_token_algorithm"),
    (SsoFault.HS256_CLIENT_SECRET, "id_token_algorithm"),
    (SsoFault.HS256_PUBLIC_PEM, "id_token_algorithm"),
    (SsoFault.ES256, "id_token_algorithm"),
    (SsoFault.UNKNOWN_KID, "id_token_signature"),
    (SsoFault.KID_ABSENT_MULTIPLE, "id_token_signature"),
    (SsoFault.WRONG_ISSUER, "id_token_claim_iss"),
    (SsoFault.OTHER_ISSUER, "id_token_claim_iss"),
    (SsoFault.WRONG_AUDIENCE, "id_token_claim_aud"),
    (SsoFault.MISSING_AUDIENCE, "id_token_claim_aud"),
    (SsoFault.EXTRA_AUDIENCE, "id_token_claim_aud"),
    (SsoFault.WRONG_AZP, "id_token_claim_azp"),
    (SsoFault.EXPIRED, "id_token_expired"),
    (SsoFault.FUTURE_IAT, "id_token_claim_iat"),
    (SsoFault.STALE_IAT, "id_token_claim_iat_stale"),
    (SsoFault.MISSING_IAT, "id_token_claim_iat"),
    (SsoFault.MISSING_SUB, "id_token_claim_sub"),
    (SsoFault.WRONG_NONCE, "id_token_claim_nonce"),
    (SsoFault.MISSING_NONCE, "id_token_claim_nonce"),
    (SsoFault.USERINFO_OTHER_USER, "userinfo_subject"),
    (SsoFault.MISSING_SOURCED_ID, "no_sourced_id"),
    (SsoFault.TENANT_MISMATCH, "tenant_mismatch"),
    (SsoFault.TOKEN_ERROR, "token_http_500"),
    (SsoFault.TOKEN_GARBAGE, "token_not_json"),
]


class TestRefusedTokens:
    """Every bad token or token response ends on a refusal page, with no session."""

    @pytest.mark.parametrize(("fault", "reason"), REFUSED, ids=[f.value for f, _ in REFUSED])
    def test_refused(
        self, browser: httpx.Client, world: Sandbox, fault: SsoFault, reason: str
    ) -> None:
        student = person_of(world, "1001", "Student")
        world.sso.fault = fault
        response = sign_in(browser, world, "springfield", "1001", student.sourced_id)
        assert response.status_code == 403
        assert reference(response) == reason
        assert session_cookie(browser) is None
        assert "Traceback" not in response.text

    def test_a_hanging_token_endpoint_fails_within_the_timeout(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        student = person_of(world, "1001", "Student")
        world.sso.fault = SsoFault.TOKEN_HANG
        world.sso.hang_seconds = 3.0
        world.fresh_relying_party(timeout=0.5)
        started = datetime.now(UTC)
        response = sign_in(browser, world, "springfield", "1001", student.sourced_id)
        assert reference(response) == "token_timeout"
        assert datetime.now(UTC) - started < timedelta(seconds=3)


ACCEPTED = [SsoFault.KID_ABSENT, SsoFault.UNKNOWN_KEY_TYPE_IN_JWKS, SsoFault.USERINFO_ONLY]


class TestAcceptedVariations:
    """Tokens that are unusual but valid still sign the person in."""

    @pytest.mark.parametrize("fault", ACCEPTED, ids=[f.value for f in ACCEPTED])
    def test_accepted(self, browser: httpx.Client, world: Sandbox, fault: SsoFault) -> None:
        student = person_of(world, "1001", "Student")
        world.sso.fault = fault
        response = sign_in(browser, world, "springfield", "1001", student.sourced_id)
        assert response.status_code == 303, response.text
        assert student.display_name in browser.get("/").text


class TestKeys:
    """Key rotation costs one JWKS refetch; forged kids cannot make us hammer ClassLink."""

    def test_rotation_between_logins_refetches_once(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        rp = world.fresh_relying_party()
        student = person_of(world, "1001", "Student")
        assert sign_in(browser, world, "springfield", "1001", student.sourced_id).status_code == 303
        assert rp.jwks_fetches == 1
        world.sso.rotate_keys()
        assert sign_in(browser, world, "springfield", "1001", student.sourced_id).status_code == 303
        assert rp.jwks_fetches == 2

    def test_a_flood_of_unknown_kids_fetches_the_jwks_at_most_once_per_interval(
        self, world: Sandbox
    ) -> None:
        rp = world.fresh_relying_party(jwks_refetch_interval=60)
        claims = {"iss": world.sso.issuer, "sub": "1", "aud": rp.client_id}
        refused = 0
        for _ in range(20):
            token = world.sso.keys.sign(claims, fault=SsoFault.UNKNOWN_KID)
            with pytest.raises(SignInRefused):
                rp.verify_id_token(token, nonce="n", login_started_at=0)
            refused += 1
        assert refused == 20
        assert rp.jwks_fetches == 2  # the first load, then one refetch for the whole flood

    def test_a_discovery_document_naming_another_issuer_fails_loudly(self, world: Sandbox) -> None:
        world.sso.fault = SsoFault.DISCOVERY_ISSUER_MISMATCH
        rp = RelyingParty(
            issuer=world.sso.issuer,
            client_id="educator-portal",
            client_secret="x",
            redirect_uri=f"{world.url}/oauth/callback",
            userinfo_url=f"{world.sso.url}/v2/my/info",
        )
        try:
            with pytest.raises(ConfigError, match="names issuer"):
                rp.metadata()
        finally:
            rp.close()


class TestDistrictIsolation:
    """A ClassLink account signs into its own district's account, and nowhere else."""

    def test_a_person_from_another_tenant_is_refused(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        outsider = person_of(world, "1002", "Student")
        response = sign_in(browser, world, "springfield", "1002", outsider.sourced_id)
        assert reference(response) == "tenant_mismatch"
        assert session_cookie(browser) is None

    def test_the_same_sourced_id_signs_into_its_own_district_only(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        springfield = person_of(world, "1001", "Student")
        shelbyville = world.sso.person("1002", springfield.sourced_id)
        assert springfield.display_name != shelbyville.display_name
        assert (
            sign_in(browser, world, "shelbyville", "1002", shelbyville.sourced_id).status_code
            == 303
        )
        home = browser.get("/").text
        assert shelbyville.display_name in home and "Shelbyville SD" in home
        assert springfield.display_name not in home

    def test_a_district_that_is_not_live_is_neither_listed_nor_startable(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        assert "Ogdenville" not in browser.get("/login").text
        response = browser.get(
            "/login/start", params={"district": world.district_ids["ogdenville"]}
        )
        assert response.status_code == 403 and reference(response) == "district_not_live"

    def test_a_launch_from_a_tenant_we_never_onboarded_is_refused(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        person = person_of(world, "1004", "Student")
        launch = browser.get(world.sso.launch_url("educator-portal", "1004", person.sourced_id))
        bounce = browser.get(launch.headers["location"])
        silent = browser.get(bounce.headers["location"])
        response = browser.get(silent.headers["location"])
        assert reference(response) == "unknown_tenant"

    def test_a_person_classlink_knows_but_the_roster_does_not_is_refused(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        response = sign_in(browser, world, "springfield", "1001", NEWCOMER["sourcedId"])
        assert reference(response) == "not_rostered"
        assert "try again tomorrow" in response.text

    def test_a_deactivated_account_is_refused(self, browser: httpx.Client, world: Sandbox) -> None:
        student = person_of(world, "1001", "Student", index=-1)
        assert world.service is not None
        with world.service.engine.begin() as conn:
            conn.execute(
                update(students)
                .where(
                    students.c.district_id == world.district_ids["springfield"],
                    students.c.sourced_id == student.sourced_id,
                )
                .values(active=False)
            )
        try:
            response = sign_in(browser, world, "springfield", "1001", student.sourced_id)
            assert reference(response) == "deactivated"
        finally:
            with world.service.engine.begin() as conn:
                conn.execute(
                    update(students)
                    .where(students.c.sourced_id == student.sourced_id)
                    .values(active=True)
                )


class TestSessions:
    """Sessions are server-side, renewed at sign-in, replaced on shared devices, and end."""

    def test_cookie_attributes(self, browser: httpx.Client, world: Sandbox) -> None:
        student = person_of(world, "1001", "Student")
        response = sign_in(browser, world, "springfield", "1001", student.sourced_id)
        cookie = next(
            h
            for h in response.headers.get_list("set-cookie")
            if h.startswith("rostersync_session=")
        )
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
        assert "domain=" not in lowered

    def test_a_second_sign_in_replaces_the_first_persons_session(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        first, second = person_of(world, "1001", "Student"), person_of(world, "1001", "Student", 1)
        sign_in(browser, world, "springfield", "1001", first.sourced_id)
        old = session_cookie(browser)
        start = authorize(browser, world, "springfield")
        callback = pick(browser, start.headers["location"], "1001", second.sourced_id)
        assert browser.get(callback.url).status_code == 303
        new = session_cookie(browser)
        assert new and old and new != old
        home = browser.get("/").text
        assert second.display_name in home and first.display_name not in home
        with httpx.Client(base_url=world.url, cookies={"rostersync_session": old}) as stale:
            assert stale.get("/").status_code == 303

    def test_sign_out_ends_the_session(self, browser: httpx.Client, world: Sandbox) -> None:
        student = person_of(world, "1001", "Student")
        sign_in(browser, world, "springfield", "1001", student.sourced_id)
        token = session_cookie(browser)
        assert world.service is not None
        with world.service.engine.connect() as conn:
            csrf = conn.execute(select(web_sessions.c.csrf_token)).scalars().all()
        home = browser.get("/").text
        csrf_value = next(c for c in csrf if f'value="{c}"' in home)
        assert browser.post("/logout", data={"csrf": csrf_value}).status_code == 303
        with httpx.Client(base_url=world.url, cookies={"rostersync_session": token or ""}) as old:
            assert old.get("/").status_code == 303

    def test_the_next_path_is_kept_only_when_local(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        student = person_of(world, "1001", "Student")
        for target, expected in (("//evil.test", "/"), ("/?tab=classes", "/?tab=classes")):
            start = browser.get(
                "/login/start",
                params={"district": world.district_ids["springfield"], "next": target},
            )
            callback = pick(browser, start.headers["location"], "1001", student.sourced_id)
            assert browser.get(callback.url).headers["location"] == expected

    def test_a_forged_host_header_does_not_change_the_redirect_uri(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        response = browser.get(
            "/login/start",
            params={"district": world.district_ids["springfield"]},
            headers={"Host": "evil.test"},
        )
        assert query_of(response.headers["location"])["redirect_uri"] == (
            f"{world.url}/oauth/callback"
        )

    def test_fifty_abandoned_logins_keep_every_cookie_small(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        for _ in range(50):
            authorize(browser, world, "springfield")
        assert len(browser.cookies) == 1
        assert all(len(value) < 4096 for value in browser.cookies.values())
        assert world.service is not None
        with world.service.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(login_states)).scalar_one() >= 50


class TestLogs:
    """No code, token, state or client secret reaches a log line during a sign-in."""

    def test_nothing_secret_is_logged(
        self, browser: httpx.Client, world: Sandbox, capfd: pytest.CaptureFixture[str]
    ) -> None:
        from rostersync.logs import configure_logging

        assert world.service is not None
        configure_logging(world.service.settings)
        student = person_of(world, "1001", "Student")
        start = authorize(browser, world, "springfield")
        callback = pick(browser, start.headers["location"], "1001", student.sourced_id)
        browser.get(callback.url)
        out, err = capfd.readouterr()
        logged = out + err
        assert "signed in" in logged
        for secret in (callback.code, callback.state or "", world.client_secret, student.email):
            assert secret not in logged
