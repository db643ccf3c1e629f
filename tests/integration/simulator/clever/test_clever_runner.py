"""`rostersync simulate --provider clever`: the runner serves a district and says how to connect."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import httpx
from typer.testing import CliRunner

from rostersync.cli.main import app
from rostersync.simulator.clever.runner import DEMO_SECRET, run_forever


def _fields(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


class _Output(io.StringIO):
    """Captured output that says when the runner has finished announcing itself."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "Ctrl-C" in text:
            self.ready.set()
        return written


def test_the_runner_prints_url_client_and_district_then_stops() -> None:
    out, stop = _Output(), threading.Event()
    kwargs = {
        "host": "127.0.0.1",
        "port": 0,
        "students": 40,
        "seed": 1,
        "bad_records": False,
        "tenant": "demo",
        "client_id": "demo-key",
        "client_secret": DEMO_SECRET,
        "redirect_uri": "http://127.0.0.1:9/cb",
        "stop": stop,
        "out": out,
    }
    runner = threading.Thread(target=run_forever, kwargs=kwargs)
    runner.start()
    assert out.ready.wait(10)
    shown = _fields(out.getvalue())
    tokens = httpx.get(
        f"{shown['Clever base URL']}/oauth/tokens?owner_type=district",
        auth=(shown["Client id"], shown["Client secret"]),
    ).json()["data"]
    assert [t["owner"]["id"] for t in tokens] == [shown["District id"]]
    stop.set()
    runner.join(timeout=10)
    assert not runner.is_alive()


def test_an_unknown_provider_is_refused() -> None:
    result = CliRunner().invoke(app, ["simulate", "--provider", "schoology"])
    assert result.exit_code == 2
    assert "classlink or clever" in result.output


def test_a_bundle_is_not_written_for_clever(tmp_path: Path) -> None:
    out = tmp_path / "bundle.zip"
    result = CliRunner().invoke(
        app, ["simulate", "--provider", "clever", "--write-bundle", str(out)]
    )
    assert result.exit_code == 2
    assert "--provider classlink only" in result.output
    assert not out.exists()
