"""The OAuth 1.0a signer matches RFC 5849, its published vectors and oauthlib's normalisation."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from oauthlib.oauth1.rfc5849.signature import normalize_parameters as oauthlib_normalize

from rostersync.oneroster import oauth1

# RFC 5849 §3.4.1.1. The example also signs its form body `c2&a3=2+q`; oauth1.py collects
# parameters from the URL only, so the body's two parameters ride in the query here: the decoded
# parameter list, and so the base string, is the same.
RFC_URL = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b&c2&a3=2+q"
RFC_OAUTH = [
    ("oauth_consumer_key", "9djdj82h48djs9d2"),
    ("oauth_token", "kkk9d7dh3k39sjv7"),
    ("oauth_timestamp", "137131201"),
    ("oauth_nonce", "7d8f3e4a"),
]
RFC_CONSUMER_SECRET = "j49sk3j29djd"
RFC_TOKEN_SECRET = "dh893hdasih9"
# As corrected by erratum 2550.
RFC_BASE_STRING_SHA1 = (
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D"
    "%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a"
    "%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3D"
    "kkk9d7dh3k39sjv7"
)
UNRESERVED_OR_ESCAPE = re.compile(r"(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*")


def rfc_params(method: str, *, with_token: bool = True) -> list[tuple[str, str]]:
    params = [("oauth_signature_method", method), *RFC_OAUTH]
    return [p for p in params if with_token or p[0] != "oauth_token"]


class TestKnownAnswerVectors:
    """Signatures equal the vectors in security.md §2 and oneroster-classlink.md §4.2."""

    def test_rfc_example_base_string_is_the_corrected_one(self) -> None:
        base = oauth1.signature_base_string("POST", RFC_URL, rfc_params("HMAC-SHA1"))
        assert base == RFC_BASE_STRING_SHA1

    def test_rfc_example_hmac_sha1(self) -> None:
        base = oauth1.signature_base_string("POST", RFC_URL, rfc_params("HMAC-SHA1"))
        signature = oauth1.sign(base, RFC_CONSUMER_SECRET, RFC_TOKEN_SECRET, method="HMAC-SHA1")
        assert signature == "r6/TJjbCOr97/+UU0NsvSne7s5g="

    def test_rfc_example_hmac_sha256(self) -> None:
        base = oauth1.signature_base_string("POST", RFC_URL, rfc_params("HMAC-SHA256"))
        signature = oauth1.sign(base, RFC_CONSUMER_SECRET, RFC_TOKEN_SECRET, method="HMAC-SHA256")
        assert signature == "ypAxjNip++Dm0fTM+gCl8wAo6ufSnseu1WHxL7py3BU="

    def test_rfc_example_two_legged_hmac_sha256_signs_with_secret_and_ampersand(self) -> None:
        params = rfc_params("HMAC-SHA256", with_token=False)
        base = oauth1.signature_base_string("POST", RFC_URL, params)
        signature = oauth1.sign(base, RFC_CONSUMER_SECRET, method="HMAC-SHA256")
        assert signature == "8MNbEQ+8eippYMqxFnztWSJJA9dh8G8SVKdfvoMXzME="

    def test_oneroster_vector_in_the_authorization_header(self) -> None:
        url = (
            "https://test.com/ims/oneroster/v1p1/orgs?limit=100&offset=1515&filter=role%3D%27"
            "administrator%27%20OR%20role%3D%27student%27%20OR%20role%3D%27teacher%27"
        )
        header = oauth1.authorization_header(
            "GET",
            url,
            consumer_key="client-id",
            consumer_secret="client-secret",
            timestamp=10000000,
            nonce="fake-nonce",
        )
        params = oauth1.parse_authorization_header(header)
        assert params["oauth_version"] == "1.0"
        assert params["oauth_signature"] == "03DqhuWFnTlc3WxDYEOVKYxM5xQyRGfJ4x6zqQjYQnM="
        # The `=` of the base64 padding travels percent-encoded.
        assert 'oauth_signature="03DqhuWFnTlc3WxDYEOVKYxM5xQyRGfJ4x6zqQjYQnM%3D"' in header


class TestEncodingEdges:
    """The interop traps of security.md §2 are handled the RFC way."""

    def test_plus_in_a_query_is_a_space_and_percent_2b_is_a_plus(self) -> None:
        assert "q%3Da%2520b" in oauth1.signature_base_string("GET", "http://h/p?q=a+b", [])
        assert "q%3Da%252Bb" in oauth1.signature_base_string("GET", "http://h/p?q=a%2Bb", [])

    def test_repeated_parameters_are_all_kept_sorted_by_value(self) -> None:
        assert oauth1.normalize_parameters([("a", "2"), ("a", "1")]) == "a=1&a=2"

    def test_names_sort_before_values_so_a1_precedes_a10(self) -> None:
        assert oauth1.normalize_parameters([("a10", "x"), ("a1", "y")]) == "a1=y&a10=x"

    def test_default_ports_drop_other_ports_stay_and_host_is_lowercased(self) -> None:
        assert oauth1.base_string_uri("https://H.example:443/p") == "https://h.example/p"
        assert oauth1.base_string_uri("https://h.example:8443/p") == "https://h.example:8443/p"
        assert oauth1.base_string_uri("http://h.example/a b") == "http://h.example/a%20b"

    def test_build_url_encodes_spaces_as_percent_20(self) -> None:
        url = oauth1.build_url("https://h/p", [("filter", "givenName='Jo Ann'")])
        assert url == "https://h/p?filter=givenName%3D%27Jo%20Ann%27"


_awkward = st.sampled_from([*"+&=%'>#[]~* ", "é", "日本", "😀", ""])
_text = st.lists(st.one_of(_awkward, st.characters(codec="utf-8")), max_size=6).map("".join)
_names = st.one_of(_text, st.sampled_from(["a", "a1", "a10", "filter", "oauth_nonce"]))
_pairs = st.lists(st.tuples(_names, _text), max_size=8)


class TestNormalizationProperty:
    """For any parameters, our normalised string equals oauthlib's and is strictly encoded."""

    @settings(database=None, max_examples=300)
    @given(_pairs)
    def test_matches_oauthlib(self, params: list[tuple[str, str]]) -> None:
        assert oauth1.normalize_parameters(params) == oauthlib_normalize(params)

    @settings(database=None, max_examples=300)
    @given(_pairs)
    def test_every_byte_outside_the_unreserved_set_is_upper_case_percent_hex(
        self, params: list[tuple[str, str]]
    ) -> None:
        normalized = oauth1.normalize_parameters(params)
        for pair in filter(None, normalized.split("&")):
            name, _, value = pair.partition("=")
            assert UNRESERVED_OR_ESCAPE.fullmatch(name)
            assert UNRESERVED_OR_ESCAPE.fullmatch(value)

    @settings(database=None, max_examples=100)
    @given(_pairs)
    def test_repeated_names_are_all_kept(self, params: list[tuple[str, str]]) -> None:
        normalized = oauth1.normalize_parameters(params)
        assert (normalized.count("&") + 1 if normalized else 0) == len(params)
