"""Over real HTTP: OAuth 1.0a verification, each refusal with its precise 401 description."""

from __future__ import annotations

import oauthlib.oauth1
import pytest

from rostersync.oneroster import oauth1

FILTERED = [("filter", "familyName='De La Cruz' OR givenName~'ann'"), ("limit", "5")]


def refused(api, response) -> str:
    """Assert a 1.1 unauthorized answer with an OAuth challenge; return its description."""
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'OAuth realm="{api.tenant}"'
    code, description = api.status(response)
    assert code == "unauthorized"
    return description


class TestAccepted:
    """Correctly signed requests are served, whichever conforming signer made them."""

    def test_hmac_sha256_with_a_filter_full_of_reserved_characters(self, api) -> None:
        assert api.get("/users", FILTERED).status_code == 200

    def test_hmac_sha1(self, api) -> None:
        assert api.get("/users", FILTERED, signature_method="HMAC-SHA1").status_code == 200

    def test_oauthlib_signature_is_accepted(self, api, http) -> None:
        """oauthlib is an independent RFC 5849 oracle.

        oauthlib refuses a query with raw spaces or quotes ("not urlencoded") and signs the URL
        it is given without re-encoding it, so it gets the already RFC 5849-encoded URL, and
        httpx sends that same string.
        """
        url = api.url("/users", FILTERED)
        client = oauthlib.oauth1.Client(
            api.key,
            client_secret=api.secret,
            signature_method=oauthlib.oauth1.SIGNATURE_HMAC_SHA256,
            timestamp=str(int(api.clock())),
        )
        signed_url, headers, _ = client.sign(url)
        assert signed_url == url
        response = http.get(signed_url, headers=headers)
        assert response.status_code == 200
        assert response.json() == api.get("/users", FILTERED).json()

    def test_oauthlib_with_sha1_and_no_query_is_accepted(self, api, http) -> None:
        client = oauthlib.oauth1.Client(
            api.key, client_secret=api.secret, timestamp=str(int(api.clock()))
        )
        signed_url, headers, _ = client.sign(api.url("/orgs"))
        assert http.get(signed_url, headers=headers).status_code == 200

    def test_signature_without_oauth_version_is_accepted(self, api) -> None:
        """ClassLink's own helper libraries omit oauth_version."""
        url = api.url("/orgs")
        params = [
            ("oauth_consumer_key", api.key),
            ("oauth_nonce", "1700000000"),
            ("oauth_signature_method", "HMAC-SHA256"),
            ("oauth_timestamp", str(int(api.clock()))),
        ]
        base = oauth1.signature_base_string("GET", url, params)
        signature = oauth1.sign(base, api.secret, method="HMAC-SHA256")
        pairs = [*params, ("oauth_signature", signature)]
        header = "OAuth " + ",".join(f'{k}="{oauth1.encode(v)}"' for k, v in pairs)
        assert api.send(url, header).status_code == 200


class TestRefused:
    """Every refusal is a 1.1 `unauthorized` 401 that names its cause."""

    def test_missing_header(self, api) -> None:
        response = api.send(api.url("/users"), None)
        assert refused(api, response) == "missing OAuth Authorization header"

    def test_wrong_key(self, api) -> None:
        response = api.get("/users", consumer_key="someone-else")
        assert refused(api, response) == "unknown oauth_consumer_key"

    def test_wrong_secret(self, api) -> None:
        response = api.get("/users", consumer_secret="not-the-secret")
        assert refused(api, response) == "invalid signature"

    def test_query_tampered_after_signing(self, api) -> None:
        signed_for = api.url("/users", [("limit", "5")])
        response = api.send(api.url("/users", [("limit", "500")]), api.authorization(signed_for))
        assert refused(api, response) == "invalid signature"

    def test_filter_tampered_after_signing(self, api) -> None:
        signed_for = api.url("/users", [("filter", "role='student'")])
        sent = api.url("/users", [("filter", "role='teacher'")])
        assert refused(api, api.send(sent, api.authorization(signed_for))) == "invalid signature"

    def test_signature_tampered(self, api) -> None:
        url = api.url("/users")
        header = api.authorization(url)
        start = header.index('oauth_signature="') + len('oauth_signature="')
        flipped = "A" if header[start] != "A" else "B"
        response = api.send(url, header[:start] + flipped + header[start + 1 :])
        assert refused(api, response) == "invalid signature"

    @pytest.mark.parametrize("skew", [-301, 301, -86400])
    def test_stale_or_future_timestamp(self, api, skew: int) -> None:
        response = api.get("/users", timestamp=int(api.clock()) + skew)
        assert refused(api, response) == "oauth_timestamp outside the allowed window"

    def test_server_clock_moving_on_expires_a_signed_request(self, api) -> None:
        url = api.url("/users")
        header = api.authorization(url)
        api.clock.now += 301
        assert refused(api, api.send(url, header)) == "oauth_timestamp outside the allowed window"

    def test_replayed_nonce(self, api) -> None:
        url = api.url("/users")
        header = api.authorization(url, nonce="used-once")
        assert api.send(url, header).status_code == 200
        assert refused(api, api.send(url, header)) == "oauth_nonce already used"

    def test_unsupported_signature_method(self, api) -> None:
        url = api.url("/users")
        header = api.authorization(url).replace("HMAC-SHA256", "PLAINTEXT")
        assert refused(api, api.send(url, header)) == "unsupported oauth_signature_method"

    def test_bearer_token_is_not_oauth1(self, api) -> None:
        response = api.send(api.url("/users"), "Bearer 0f8c1e2a")
        assert refused(api, response).startswith("malformed OAuth Authorization header")

    def test_refusal_comes_before_routing(self, api) -> None:
        """An unauthenticated caller learns nothing about which paths exist."""
        response = api.get("/no-such-endpoint", consumer_secret="wrong")
        assert refused(api, response) == "invalid signature"
