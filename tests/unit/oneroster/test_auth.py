"""The OAuth 1.0a authenticator signs the exact URL and never shows its secret."""

from __future__ import annotations

import hmac

import pytest

from rostersync.errors import ConfigError
from rostersync.oneroster import oauth1
from rostersync.oneroster.auth import OAuth1Auth, SourceAuth

URL = "https://district.example/ims/oneroster/v1p1/users?limit=2&offset=0&filter=a%3D%27b%20c%27"


class TestOAuth1Auth:
    """Headers verify against the RFC 5849 recomputation; the object is safe to print."""

    @pytest.mark.parametrize("method", ["HMAC-SHA256", "HMAC-SHA1"])
    def test_header_verifies_for_the_url_it_was_given(self, method: str) -> None:
        auth = OAuth1Auth("client-id", "s3cret", signature_method=method)
        params = oauth1.parse_authorization_header(auth.headers_for("GET", URL)["Authorization"])
        base = oauth1.signature_base_string("GET", URL, list(params.items()))
        expected = oauth1.sign(base, "s3cret", method=method)
        assert hmac.compare_digest(expected, params["oauth_signature"])
        assert params["oauth_consumer_key"] == "client-id"
        assert params["oauth_signature_method"] == method

    def test_each_call_uses_a_fresh_nonce(self) -> None:
        auth = OAuth1Auth("client-id", "s3cret")
        nonces = {
            oauth1.parse_authorization_header(auth.headers_for("GET", URL)["Authorization"])[
                "oauth_nonce"
            ]
            for _ in range(5)
        }
        assert len(nonces) == 5

    def test_repr_and_str_hide_the_secret(self) -> None:
        auth = OAuth1Auth("client-id", "s3cret")
        assert "s3cret" not in repr(auth) and "s3cret" not in str(auth)
        assert "client-id" in repr(auth)

    def test_is_a_source_auth(self) -> None:
        assert isinstance(OAuth1Auth("k", "s"), SourceAuth)

    @pytest.mark.parametrize(
        ("key", "secret", "method"),
        [("", "s", "HMAC-SHA256"), ("k", "", "HMAC-SHA256"), ("k", "s", "PLAINTEXT")],
    )
    def test_unusable_settings_are_config_errors(self, key: str, secret: str, method: str) -> None:
        with pytest.raises(ConfigError):
            OAuth1Auth(key, secret, signature_method=method)
