"""The simulator server's own API: lifecycle, tenants, data replacement, counting, quiet logs."""

from __future__ import annotations

import io
import socket
import threading
import time

import httpx
import pytest

from rostersync.simulator import (
    DistrictData,
    SimulatorServer,
    Tenant,
    generate_district,
    run_forever,
)


class TestLifecycle:
    """start/stop and the context manager bind loopback and release it."""

    def test_binds_loopback_on_a_free_port(self, server) -> None:
        assert server.url.startswith("http://127.0.0.1:")
        assert not server.url.endswith(":0")

    def test_base_url_is_the_tenant_prefix_plus_the_1_1_root(self, server, api) -> None:
        assert server.base_url(api.tenant) == f"{server.url}/{api.tenant}/ims/oneroster/v1p1"

    def test_url_before_start_is_an_error(self) -> None:
        with pytest.raises(RuntimeError, match="not running"):
            _ = SimulatorServer().url

    def test_starting_twice_is_an_error(self, server) -> None:
        with pytest.raises(RuntimeError, match="already running"):
            server.start()

    def test_stop_cuts_off_keep_alive_connections(self, district) -> None:
        server = SimulatorServer([Tenant("t", district, "k", "s")]).start()
        base = server.base_url("t")
        with httpx.Client(timeout=5) as http:
            assert http.get(f"{base}/users").status_code == 401  # connection now pooled
            server.stop()
            with pytest.raises(httpx.TransportError):
                http.get(f"{base}/users")

    def test_stop_when_not_running_does_nothing(self) -> None:
        SimulatorServer().stop()


class TestTenants:
    """Tenants are isolated by path prefix and credentials; their data can be swapped."""

    def test_second_tenant_serves_its_own_data_with_its_own_key(self, server, api, http) -> None:
        other = generate_district(students=30, seed=99, tenant="shelbyville")
        server.add_tenant(Tenant("shelbyville", other, "shelby-key", "shelby-secret"))
        url = f"{server.base_url('shelbyville')}/users?limit=10000"
        header = api.authorization(url, consumer_key="shelby-key", consumer_secret="shelby-secret")
        response = http.get(url, headers={"Authorization": header})
        assert response.status_code == 200
        assert response.json()["users"] == other.users

    def test_one_tenants_credentials_are_refused_by_another(self, server, api, http) -> None:
        other = generate_district(students=10, seed=1)
        server.add_tenant(Tenant("shelbyville", other, "shelby-key", "shelby-secret"))
        url = f"{server.base_url('shelbyville')}/users"
        response = http.get(url, headers={"Authorization": api.authorization(url)})
        assert response.status_code == 401
        assert api.status(response)[1] == "unknown oauth_consumer_key"

    def test_duplicate_tenant_name_is_refused(self, server, district) -> None:
        with pytest.raises(ValueError, match="already exists"):
            server.add_tenant(Tenant("springfield", district, "k", "s"))

    def test_unknown_tenant_lookups_raise_key_error(self, server) -> None:
        with pytest.raises(KeyError):
            server.tenant("nowhere")
        with pytest.raises(KeyError):
            server.base_url("nowhere")

    def test_replacing_data_changes_the_next_pull(self, server, api, district) -> None:
        before = api.get("/users", [("limit", "1")]).headers["X-Total-Count"]
        server.tenant(api.tenant).data = generate_district(students=20, seed=4)
        after = api.get("/users", [("limit", "1")]).headers["X-Total-Count"]
        assert int(before) == len(district.users)
        assert int(after) == len(server.tenant(api.tenant).data.users) < int(before)


class TestCounting:
    """Requests are counted per tenant, refused ones included."""

    def test_every_request_under_the_prefix_is_counted(self, server, api) -> None:
        api.get("/users")
        api.get("/orgs", consumer_secret="wrong")
        api.get("/no-such-endpoint")
        assert server.request_count(api.tenant) == 3

    def test_requests_outside_any_tenant_are_not_counted(self, server, api, http) -> None:
        http.get(f"{server.url}/other/ims/oneroster/v1p1/users")
        assert server.request_count(api.tenant) == 0


class TestQuietLogs:
    """Nothing reaches stderr per request; verbose mode never shows queries or credentials."""

    def test_default_server_writes_nothing(self, api, capfd: pytest.CaptureFixture[str]) -> None:
        api.get("/users", [("filter", "familyName='De La Cruz'")])
        api.get("/users", consumer_secret="wrong")
        out, err = capfd.readouterr()
        assert out == err == ""

    def test_verbose_server_logs_path_and_status_but_no_query_or_header(
        self, district, api, http, capfd: pytest.CaptureFixture[str]
    ) -> None:
        with SimulatorServer([Tenant("t", district, api.key, api.secret)], verbose=True) as loud:
            url = f"{loud.base_url('t')}/users?filter=familyName%3D%27De%20La%20Cruz%27"
            assert http.get(url, headers={"Authorization": api.authorization(url)}).is_success
        err = capfd.readouterr().err
        assert "GET /t/ims/oneroster/v1p1/users 200" in err
        assert "Cruz" not in err and "filter" not in err and "oauth_" not in err


class TestRunner:
    """`run_forever` serves a generated district and says where, without the secret."""

    def test_prints_base_url_key_and_tenant_then_stops_on_request(self) -> None:
        out = io.StringIO()
        stop = threading.Event()
        runner = threading.Thread(
            target=run_forever,
            kwargs={
                "host": "127.0.0.1",
                "port": 0,
                "students": 50,
                "seed": 1,
                "bad_records": True,
                "tenant": "demo",
                "key": "demo-key",
                "secret": "demo-secret-value",
                "stop": stop,
                "out": out,
            },
        )
        runner.start()
        deadline = time.monotonic() + 10
        while "Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        text = out.getvalue()
        base = next(line.split(": ", 1)[1] for line in text.splitlines() if "base URL" in line)
        assert httpx.get(f"{base}/users").status_code == 401
        stop.set()
        runner.join(timeout=10)
        assert not runner.is_alive()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/demo/ims/oneroster/v1p1")
        assert "demo-key" in text and "Tenant: demo" in text
        assert "demo-secret-value" not in text


class TestLatency:
    """A page is answered without waiting for the client's acknowledgement of its headers."""

    def test_each_keep_alive_connection_sends_without_nagles_delay(
        self, district: DistrictData
    ) -> None:
        with SimulatorServer([Tenant("t", district, "k", "s")]) as server, httpx.Client() as http:
            assert http.get(f"{server.base_url('t')}/users").status_code == 401
            connections = list(server._httpd._connections)  # type: ignore[union-attr]
            assert connections
            for connection in connections:
                assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
