"""The post-login target is only ever a local path (security.md §1.4, test 18)."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from rostersync.signin.paths import safe_next_path
from rostersync.web.app import _Cookies

REFUSED = [
    "//evil.test",
    "/\\evil.test",
    "https://evil.test",
    "/%2F%2Fevil.test",
    "javascript:x",
    "\t/evil",
    "/ok\nSet-Cookie:x",
    "",
    None,
]


class TestSafeNextPath:
    """Anything but a same-site path becomes the home page."""

    @pytest.mark.parametrize("value", REFUSED)
    def test_refused_targets_go_home(self, value: str | None) -> None:
        assert safe_next_path(value) == "/"

    @pytest.mark.parametrize("value", ["/ok?x=1", "/", "/students/abc"])
    def test_local_paths_are_kept(self, value: str) -> None:
        assert safe_next_path(value) == value


class TestCookies:
    """In production the session cookie is Secure, HttpOnly, SameSite=Lax and `__Host-`."""

    def test_secure_cookies_use_the_host_prefix(self) -> None:
        cookies = _Cookies(secure=True, max_age=60)
        response = Response()
        cookies.set(response, cookies.session, "token", 60)
        header = response.headers["set-cookie"].lower()
        assert header.startswith("__host-rostersync_session=token")
        for part in ("secure", "httponly", "samesite=lax", "path=/"):
            assert part in header
        assert "domain=" not in header

    def test_insecure_cookies_for_loopback_drop_the_prefix(self) -> None:
        cookies = _Cookies(secure=False, max_age=60)
        assert cookies.session == "rostersync_session"
