"""OAuth 1.0a request signing for OneRoster (RFC 5849 §3.4–3.6), HMAC-SHA256 or HMAC-SHA1.

OneRoster uses the two-legged form: no token, so the signing key is `enc(secret) + "&"`. The same
functions serve the client (sign a request) and the simulator (recompute and compare). The encoding
is RFC 5849 §3.6 exactly: everything but `A-Z a-z 0-9 - . _ ~` becomes upper-case `%XX`, so a
space is `%20`, never `+`. Callers build the URL they send with `build_url`, so what is signed is
exactly what is sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, quote, unquote, urlsplit

SIGNATURE_METHODS = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}


def encode(value: str) -> str:
    """Percent-encode per RFC 5849 §3.6 (UTF-8, unreserved characters kept, upper-case hex)."""
    return quote(value.encode("utf-8"), safe="-._~")


def base_string_uri(url: str) -> str:
    """The base string URI: lower-case scheme and host, no default port, no query (§3.4.1.2)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and not (
        (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    # Re-encode the path from its decoded form so `%20`/space ambiguity cannot creep in.
    path = quote(unquote(parts.path or "/"), safe="/-._~!$&'()*+,;=:@")
    return f"{scheme}://{host}{path}"


def normalize_parameters(params: Iterable[tuple[str, str]]) -> str:
    """Encode every name and value, sort by name then value, join as `name=value&…` (§3.4.1.3.2)."""
    encoded = sorted((encode(k), encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def query_parameters(url: str) -> list[tuple[str, str]]:
    """Query parameters decoded as form data (so `+` is a space), duplicates kept (§3.4.1.3.1)."""
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def signature_base_string(method: str, url: str, oauth_params: Sequence[tuple[str, str]]) -> str:
    """The signature base string for a request (§3.4.1)."""
    params = [*query_parameters(url), *((k, v) for k, v in oauth_params if k != "oauth_signature")]
    return "&".join(
        [method.upper(), encode(base_string_uri(url)), encode(normalize_parameters(params))]
    )


def sign(base_string: str, consumer_secret: str, token_secret: str = "", *, method: str) -> str:
    """Base64 HMAC of the base string with key `enc(consumer_secret)&enc(token_secret)`."""
    digest = SIGNATURE_METHODS[method]
    key = f"{encode(consumer_secret)}&{encode(token_secret)}".encode()
    mac = hmac.new(key, base_string.encode("utf-8"), digest).digest()
    return base64.b64encode(mac).decode("ascii")


def authorization_header(
    method: str,
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    signature_method: str = "HMAC-SHA256",
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The `Authorization: OAuth …` header value for a two-legged OneRoster request."""
    if signature_method not in SIGNATURE_METHODS:
        raise ValueError(f"unsupported OAuth signature method {signature_method!r}")
    oauth = [
        ("oauth_consumer_key", consumer_key),
        ("oauth_nonce", nonce or secrets.token_hex(16)),
        ("oauth_signature_method", signature_method),
        ("oauth_timestamp", str(int(time.time()) if timestamp is None else timestamp)),
        ("oauth_version", "1.0"),
    ]
    base = signature_base_string(method, url, oauth)
    signature = sign(base, consumer_secret, method=signature_method)
    pairs = [*oauth, ("oauth_signature", signature)]
    return "OAuth " + ", ".join(f'{encode(k)}="{encode(v)}"' for k, v in pairs)


def parse_authorization_header(value: str) -> dict[str, str]:
    """Parse `OAuth k="v", …` into decoded parameters (`realm` dropped). Raises ValueError."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "oauth":
        raise ValueError("the Authorization header is not an OAuth header")
    params: dict[str, str] = {}
    for item in rest.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, quoted = item.partition("=")
        if not sep or len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
            raise ValueError(f"malformed OAuth parameter {name.strip()!r}")
        key = unquote(name.strip())
        if key in params:
            raise ValueError(f"OAuth parameter {key!r} appears twice")
        params[key] = unquote(quoted[1:-1])
    params.pop("realm", None)
    return params


def build_url(base: str, params: Sequence[tuple[str, str]]) -> str:
    """Append query parameters with §3.6 encoding (`%20` for spaces), the exact string to send."""
    if not params:
        return base
    query = "&".join(f"{encode(k)}={encode(v)}" for k, v in params)
    return f"{base}{'&' if '?' in base else '?'}{query}"
