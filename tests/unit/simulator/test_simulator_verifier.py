"""The simulator's OAuth 1.0a verifier, as a function of method, URL, header and clock."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rostersync.oneroster import oauth1
from rostersync.simulator.verifier import AuthFailure, OAuthVerifier

KEY, SECRET = "client-id", "client-secret"
NOW = 1_800_000_000
URL = "http://127.0.0.1:8080/t/ims/oneroster/v1p1/users?limit=5"


class Clock:
    """A settable clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def header(url: str = URL, **overrides: Any) -> str:
    options: dict[str, Any] = {"consumer_key": KEY, "consumer_secret": SECRET, "timestamp": NOW}
    return oauth1.authorization_header("GET", url, **{**options, **overrides})


def failure(verifier: OAuthVerifier, url: str, authorization: str | None) -> str:
    with pytest.raises(AuthFailure) as raised:
        verifier.verify("GET", url, authorization, key=KEY, secret=SECRET)
    return raised.value.description


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def verifier(clock: Clock) -> OAuthVerifier:
    return OAuthVerifier(clock=clock, window=300)


class TestAccepts:
    """Correctly signed requests pass, whatever the hash and parameter content."""

    def test_the_published_classlink_vector_verifies(self) -> None:
        """The reference's independently recomputed HMAC-SHA256 vector (section 4.2)."""
        url = (
            "https://test.com/ims/oneroster/v1p1/orgs?limit=100&offset=1515&filter=role%3D%27"
            "administrator%27%20OR%20role%3D%27student%27%20OR%20role%3D%27teacher%27"
        )
        authorization = (
            'OAuth oauth_consumer_key="client-id", oauth_nonce="fake-nonce", '
            'oauth_signature_method="HMAC-SHA256", oauth_timestamp="10000000", '
            'oauth_version="1.0", '
            'oauth_signature="03DqhuWFnTlc3WxDYEOVKYxM5xQyRGfJ4x6zqQjYQnM%3D"'
        )
        OAuthVerifier(clock=lambda: 10_000_000).verify(
            "GET", url, authorization, key=KEY, secret=SECRET
        )

    def test_hmac_sha1_is_accepted_too(self, verifier: OAuthVerifier) -> None:
        verifier.verify("GET", URL, header(signature_method="HMAC-SHA1"), key=KEY, secret=SECRET)

    def test_timestamps_at_the_edge_of_the_window_are_accepted(
        self, verifier: OAuthVerifier
    ) -> None:
        verifier.verify("GET", URL, header(timestamp=NOW - 300), key=KEY, secret=SECRET)
        verifier.verify("GET", URL, header(timestamp=NOW + 300), key=KEY, secret=SECRET)

    @settings(max_examples=50, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.text(min_size=1, max_size=8).filter(lambda k: not k.startswith("oauth_")),
                st.text(max_size=12),
            ),
            max_size=4,
        )
    )
    def test_any_query_signed_by_the_client_signer_verifies(
        self, params: list[tuple[str, str]]
    ) -> None:
        verifier = OAuthVerifier(clock=lambda: NOW)
        url = oauth1.build_url("http://127.0.0.1:9/t/ims/oneroster/v1p1/users", params)
        verifier.verify("GET", url, header(url), key=KEY, secret=SECRET)


class TestRefuses:
    """Each refusal names its cause precisely."""

    def test_missing_header(self, verifier: OAuthVerifier) -> None:
        assert failure(verifier, URL, None) == "missing OAuth Authorization header"

    def test_non_oauth_header(self, verifier: OAuthVerifier) -> None:
        assert failure(verifier, URL, "Bearer abc").startswith("malformed OAuth Authorization")

    def test_missing_signature_parameter(self, verifier: OAuthVerifier) -> None:
        stripped = header().split(', oauth_signature="')[0]
        assert failure(verifier, URL, stripped) == (
            "missing oauth_signature in the OAuth Authorization header"
        )

    def test_unknown_key(self, verifier: OAuthVerifier) -> None:
        assert failure(verifier, URL, header(consumer_key="other")) == (
            "unknown oauth_consumer_key"
        )

    def test_unsupported_signature_method(self, verifier: OAuthVerifier) -> None:
        plaintext = header().replace("HMAC-SHA256", "PLAINTEXT")
        assert failure(verifier, URL, plaintext) == "unsupported oauth_signature_method"

    def test_wrong_secret(self, verifier: OAuthVerifier) -> None:
        assert failure(verifier, URL, header(consumer_secret="nope")) == "invalid signature"

    def test_query_changed_after_signing(self, verifier: OAuthVerifier) -> None:
        assert failure(verifier, URL.replace("limit=5", "limit=6"), header()) == (
            "invalid signature"
        )

    def test_host_changed_after_signing(self, verifier: OAuthVerifier) -> None:
        assert failure(verifier, URL.replace("8080", "8081"), header()) == "invalid signature"

    @pytest.mark.parametrize("skew", [-301, 301])
    def test_timestamp_outside_the_window(self, verifier: OAuthVerifier, skew: int) -> None:
        assert failure(verifier, URL, header(timestamp=NOW + skew)) == (
            "oauth_timestamp outside the allowed window"
        )

    def test_non_numeric_timestamp(self, verifier: OAuthVerifier) -> None:
        bad = header().replace(f'oauth_timestamp="{NOW}"', 'oauth_timestamp="soon"')
        assert failure(verifier, URL, bad) == "oauth_timestamp outside the allowed window"

    def test_clock_moving_past_the_window_expires_a_signed_request(
        self, verifier: OAuthVerifier, clock: Clock
    ) -> None:
        signed = header()
        clock.now = NOW + 301
        assert failure(verifier, URL, signed) == "oauth_timestamp outside the allowed window"

    def test_replayed_nonce(self, verifier: OAuthVerifier) -> None:
        signed = header(nonce="once")
        verifier.verify("GET", URL, signed, key=KEY, secret=SECRET)
        assert failure(verifier, URL, signed) == "oauth_nonce already used"

    def test_badly_signed_request_does_not_burn_the_nonce(self, verifier: OAuthVerifier) -> None:
        failure(verifier, URL, header(nonce="mine", consumer_secret="attacker"))
        verifier.verify("GET", URL, header(nonce="mine"), key=KEY, secret=SECRET)


class TestNonceCache:
    """Nonces are remembered for the window and the cache stays bounded."""

    def test_nonce_is_forgotten_once_its_timestamp_has_left_the_window(
        self, verifier: OAuthVerifier, clock: Clock
    ) -> None:
        verifier.verify("GET", URL, header(nonce="n1"), key=KEY, secret=SECRET)
        clock.now = NOW + 301
        # A fresh timestamp with the old nonce is fine once the old request could not replay.
        verifier.verify("GET", URL, header(nonce="n1", timestamp=NOW + 301), key=KEY, secret=SECRET)

    def test_cache_never_grows_past_its_bound(self) -> None:
        verifier = OAuthVerifier(clock=lambda: NOW, max_nonces=10)
        for n in range(25):
            verifier.verify("GET", URL, header(nonce=f"n{n}"), key=KEY, secret=SECRET)
        assert max(len(seen) for seen in verifier._nonces.values()) <= 10

    def test_nonces_are_kept_per_consumer_key(self, verifier: OAuthVerifier) -> None:
        verifier.verify("GET", URL, header(nonce="shared"), key=KEY, secret=SECRET)
        other = header(nonce="shared", consumer_key="k2", consumer_secret="s2")
        verifier.verify("GET", URL, other, key="k2", secret="s2")
