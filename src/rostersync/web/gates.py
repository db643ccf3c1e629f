"""The checks every gate of the web layer shares.

`tokens_match` is the one comparison of a submitted secret token (a CSRF token, a login form's
token) with the expected one: in constant time, and over bytes, because a form may carry any
character and `hmac.compare_digest` refuses non-ASCII text with an exception (a 500) instead of
answering "no".
"""

from __future__ import annotations

import hmac


def tokens_match(given: str, expected: str) -> bool:
    """Whether a submitted token equals the expected one (never true for an empty expectation)."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
