"""Where the Clever provider sends what: the app's secret only to the OAuth URL, the district's
token only to the API URL, and every request through the transport the registry hands it."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.integration.clever.conftest import district_id, settings_for

from rostersync.providers import ClientOptions, client_options
from rostersync.providers import clever as clever_provider
from rostersync.simulator.clever import CleverSimulator

OAUTH_HOST, API_HOST = "oauth.clever.test", "api.clever.test"


class Switchboard(httpx.BaseTransport):
    """Connects the two Clever host names to the simulator, and notes who was sent what."""

    def __init__(self, port: int) -> None:
        self.sent: list[tuple[str, str, str]] = []  # host, path, the Authorization scheme
        self._port = port
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.headers.get("Authorization", "").split(" ", 1)[0]
        self.sent.append((request.url.host, request.url.path, scheme))
        request.url = request.url.copy_with(host="127.0.0.1", port=self._port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def test_the_secret_goes_to_the_oauth_url_and_the_token_to_the_api_url_only(
    clever: CleverSimulator, tmp_path: Path
) -> None:
    port = int(clever.url.rsplit(":", 1)[1])
    settings = settings_for(
        clever,
        tmp_path,
        f"sqlite:///{tmp_path / 'p.db'}",
        clever_oauth_url=f"http://{OAUTH_HOST}:{port}",
        clever_api_url=f"http://{API_HOST}:{port}",
    )
    switchboard = Switchboard(port)
    options: ClientOptions = {**client_options(settings), "transport": switchboard}

    source = clever_provider.PROVIDER.open(
        _Integration(), district_id(clever), "", settings, options
    )
    records = sum(1 for _ in source.records())

    assert records > 0
    assert {(host, scheme) for host, _path, scheme in switchboard.sent} == {
        (OAUTH_HOST, "Basic"),
        (API_HOST, "Bearer"),
    }
    assert {path for host, path, _ in switchboard.sent if host == OAUTH_HOST} == {"/oauth/tokens"}
    # Every request went through the handed transport: the simulator saw no other.
    api_requests = sum(1 for host, _p, _s in switchboard.sent if host == API_HOST)
    assert api_requests == clever.request_count(district_id(clever)) == source.stats.requests - 1


class _Integration:
    source_kind = clever_provider.KIND
    source_url = ""
