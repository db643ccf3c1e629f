"""The proxy directory pages `/applications`, keeps ids verbatim and re-reads the list on 401."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from rostersync.errors import ConfigError, FatalSourceError, SourceAuthError
from rostersync.oneroster.proxy import ProxyDirectory

PROXY = "https://proxy.example"
PARTNER_KEY = "partner-key-7f"
APP_ID = "district%2Fone%3A42"


def app_row(n: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": str(n),
        "tenant_name": f"District {n}",
        "tenant_id": str(2000 + n),
        "application_id": str(3000 + n),
        "bearer": f"bearer-{n}",
        "name": "rostersync",
        "oneroster_application_id": f"app%3A{n}",
        "enabled": "true",
        "tenant_status": "Active",
    }
    return {**row, **overrides}


class Proxy:
    """`/applications` over `rows`, and one district's data accepting only `current` bearer."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.listings: list[httpx.Request] = []
        self.data: list[httpx.Request] = []
        self.current = {r["oneroster_application_id"]: r["bearer"] for r in rows}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode().partition("?")[0]
        auth = request.headers.get("Authorization", "")
        if path == "/applications":
            self.listings.append(request)
            if auth != f"Bearer {PARTNER_KEY}":
                return httpx.Response(401, json={"status": 0})
            query = dict(parse_qsl(request.url.query.decode()))
            offset, limit = int(query["offset"]), int(query["limit"])
            return httpx.Response(
                200, json={"status": 1, "applications": self.rows[offset : offset + limit]}
            )
        self.data.append(request)
        app_id = path.split("/")[1]
        if app_id not in self.current:
            return httpx.Response(404, json={})
        if auth != f"Bearer {self.current[app_id]}":
            return httpx.Response(401, json={})
        return httpx.Response(200, json={"orgs": [{"sourcedId": "org-1"}]})


def directory(proxy: Proxy, **kw: Any) -> ProxyDirectory:
    return ProxyDirectory(PARTNER_KEY, PROXY, transport=httpx.MockTransport(proxy), **kw)


class TestApplications:
    """`/applications` is read page by page until a short page."""

    def test_pages_until_a_short_page(self) -> None:
        proxy = Proxy([app_row(n) for n in range(5)])
        apps = directory(proxy, page_size=2).applications()
        assert [a.tenant_id for a in apps] == [str(2000 + n) for n in range(5)]
        offsets = [dict(parse_qsl(r.url.query.decode()))["offset"] for r in proxy.listings]
        assert offsets == ["0", "2", "4"]

    def test_an_exact_multiple_needs_one_empty_page(self) -> None:
        proxy = Proxy([app_row(n) for n in range(4)])
        assert len(directory(proxy, page_size=2).applications()) == 4
        assert len(proxy.listings) == 3

    def test_the_list_is_cached_until_refreshed(self) -> None:
        proxy = Proxy([app_row(1)])
        found = directory(proxy)
        found.applications()
        found.applications()
        found.applications(refresh=True)
        assert len(proxy.listings) == 2

    def test_disabled_applications_are_not_used(self) -> None:
        proxy = Proxy([app_row(1, enabled="false")])
        with pytest.raises(SourceAuthError) as caught:
            directory(proxy).application("2001")
        assert caught.value.credential == "tenant sharing"

    def test_a_refused_partner_key_names_it_and_hides_it(self) -> None:
        proxy = Proxy([app_row(1)])
        bad = ProxyDirectory("wrong", PROXY, transport=httpx.MockTransport(proxy))
        with pytest.raises(SourceAuthError) as caught:
            bad.applications()
        assert caught.value.credential == "partner key"
        assert "wrong" not in str(caught.value) and "wrong" not in repr(bad)

    def test_a_body_without_applications_is_fatal(self) -> None:
        odd = httpx.MockTransport(lambda r: httpx.Response(200, json={"status": 1}))
        with pytest.raises(FatalSourceError):
            ProxyDirectory(PARTNER_KEY, PROXY, transport=odd).applications()

    def test_an_empty_partner_key_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError):
            ProxyDirectory("", PROXY)


class TestDistrictClient:
    """Data calls use the escaped id verbatim and the district's own bearer."""

    def test_the_application_id_goes_into_the_path_unchanged(self) -> None:
        proxy = Proxy([app_row(1, oneroster_application_id=APP_ID)])
        with directory(proxy).client_for("2001") as client:
            list(client.iter_collection("orgs"))
        (request,) = proxy.data
        assert request.url.raw_path.decode().startswith(f"/{APP_ID}/ims/oneroster/v1p1/orgs?")
        assert request.headers["Authorization"] == "Bearer bearer-1"

    def test_a_rotated_bearer_is_found_by_reading_applications_once_more(self) -> None:
        proxy = Proxy([app_row(1)])
        found = directory(proxy)
        client = found.client_for("2001")
        proxy.rows = [app_row(1, bearer="bearer-rotated")]
        proxy.current["app%3A1"] = "bearer-rotated"
        with client:
            orgs = list(client.iter_collection("orgs"))
        assert orgs == [{"sourcedId": "org-1"}]
        assert len(proxy.listings) == 2
        assert [r.headers["Authorization"] for r in proxy.data] == [
            "Bearer bearer-1",
            "Bearer bearer-rotated",
        ]

    def test_a_bearer_still_refused_after_the_refresh_names_the_proxy_bearer(self) -> None:
        proxy = Proxy([app_row(1)])
        proxy.current["app%3A1"] = "never-listed"
        with (
            directory(proxy).client_for("2001") as client,
            pytest.raises(SourceAuthError) as caught,
        ):
            list(client.iter_collection("orgs"))
        assert caught.value.credential == "proxy bearer"
        assert "2001" in str(caught.value) and "bearer-1" not in str(caught.value)
        assert len(proxy.listings) == 2
