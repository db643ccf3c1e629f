"""Clever SSO on the simulator: the code flow, /me, the OIDC id_token, and a Portal launch."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from rostersync.simulator.clever import CleverSimulator, user_id_for
from rostersync.simulator.district import DistrictData

from .conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT


def _student(data: DistrictData) -> dict[str, object]:
    return next(u for u in data.users if u["role"] == "student")


def _code(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _exchange(
    http: httpx.Client, clever: CleverSimulator, code: str, redirect_uri: str = REDIRECT
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return http.post(f"{clever.url}/oauth/tokens", data=form, auth=(CLIENT_ID, CLIENT_SECRET))


def test_code_flow_echoes_state_and_me_names_the_person(
    http: httpx.Client, clever: CleverSimulator, district_id: str, district_data: DistrictData
) -> None:
    person = user_id_for(district_id, str(_student(district_data)["sourcedId"]))
    answer = _code(http.get(clever.authorize_url(state="xyz-123", login_as=person)))
    assert answer["state"] == "xyz-123"
    token = _exchange(http, clever, answer["code"])
    assert token.status_code == 200
    access = token.json()["access_token"]
    me = http.get(f"{clever.url}/v3.0/me", headers={"Authorization": f"Bearer {access}"}).json()
    assert me["type"] == "user"
    assert me["data"]["id"] == person
    assert me["data"]["district"] == district_id
    own = http.get(
        f"{clever.url}/v3.1/users/{person}", headers={"Authorization": f"Bearer {access}"}
    )
    assert own.json()["data"]["roles"]["student"]["sis_id"] == _student(district_data)["sourcedId"]
    listing = http.get(f"{clever.url}/v3.1/users", headers={"Authorization": f"Bearer {access}"})
    assert listing.status_code == 403


def test_a_code_is_single_use_and_bound_to_its_redirect_uri(
    http: httpx.Client, clever: CleverSimulator, district_id: str, district_data: DistrictData
) -> None:
    person = user_id_for(district_id, str(_student(district_data)["sourcedId"]))
    clever.sign_in_as(person)
    first = _code(http.get(clever.authorize_url(state="s1")))["code"]
    assert _exchange(http, clever, first).status_code == 200
    again = _exchange(http, clever, first)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    second = _code(http.get(clever.authorize_url(state="s2")))["code"]
    wrong = _exchange(http, clever, second, redirect_uri="http://127.0.0.1:9/elsewhere")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # The refused attempt used the code up.
    assert _exchange(http, clever, second).status_code == 400
    bad_client = http.post(
        f"{clever.url}/oauth/tokens",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT},
        auth=(CLIENT_ID, "wrong"),
    )
    assert bad_client.status_code == 401


def test_an_unregistered_redirect_uri_is_never_redirected_to(
    http: httpx.Client, clever: CleverSimulator, district_id: str, district_data: DistrictData
) -> None:
    person = user_id_for(district_id, str(_student(district_data)["sourcedId"]))
    url = clever.authorize_url(redirect_uri="https://evil.example/cb", login_as=person)
    response = http.get(url)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_the_id_token_verifies_against_the_jwks_with_clever_claims(
    http: httpx.Client, clever: CleverSimulator, district_id: str, district_data: DistrictData
) -> None:
    teacher = next(u for u in district_data.users if u["role"] == "teacher")
    person = user_id_for(district_id, str(teacher["sourcedId"]))
    answer = _code(http.get(clever.authorize_url(state="s", nonce="n-42", login_as=person)))
    id_token = _exchange(http, clever, answer["code"]).json()["id_token"]
    discovery = http.get(f"{clever.url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == clever.url
    keys = KeySet.import_key_set(http.get(discovery["jwks_uri"]).json())
    claims = jwt.decode(id_token, keys, algorithms=["RS256"]).claims
    assert claims["iss"] == clever.url
    assert claims["aud"] == CLIENT_ID
    assert claims["nonce"] == "n-42"
    assert claims["exp"] > claims["iat"]
    assert claims["user_type"] == "teacher"
    assert claims["multi_role_user_id"] == person == claims["sub"]
    assert claims["district"] == district_id
    assert claims["email"] == teacher["email"]
    assert claims["email_verified"] is False
    assert (claims["given_name"], claims["family_name"]) == (
        teacher["givenName"],
        teacher["familyName"],
    )
    assert claims["user_id"] != person


def test_a_chosen_issuer_signs_tokens_while_discovery_stays_on_loopback(
    http: httpx.Client, district_data: DistrictData
) -> None:
    with CleverSimulator(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[REDIRECT],
        issuer="https://clever.com",
    ) as clever:
        district_id = clever.add_district(district_data)
        person = user_id_for(district_id, str(_student(district_data)["sourcedId"]))
        discovery = http.get(f"{clever.url}/.well-known/openid-configuration").json()
        assert discovery["issuer"] == "https://clever.com"
        assert discovery["jwks_uri"] == f"{clever.url}/oauth/jwks"
        code = _code(http.get(clever.authorize_url(login_as=person)))["code"]
        id_token = _exchange(http, clever, code).json()["id_token"]
        keys = KeySet.import_key_set(http.get(discovery["jwks_uri"]).json())
        assert jwt.decode(id_token, keys).claims["iss"] == "https://clever.com"


def test_a_portal_launch_brings_a_code_without_state(
    http: httpx.Client, clever: CleverSimulator, district_id: str, district_data: DistrictData
) -> None:
    person = user_id_for(district_id, str(_student(district_data)["sourcedId"]))
    answer = _code(http.get(clever.portal_launch_url(person)))
    assert "state" not in answer
    access = _exchange(http, clever, answer["code"]).json()["access_token"]
    info = http.get(f"{clever.url}/userinfo", headers={"Authorization": f"Bearer {access}"}).json()
    assert info["multi_role_user_id"] == person
    assert info["user_type"] == "student"
