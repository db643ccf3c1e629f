"""`rostersync privacy …`: a student's export to a file, and a district's purge, from the shell."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.integration.cli.test_cli import add_district, env, invoke, server

from rostersync.simulator import SimulatorServer

__all__ = ["env", "server"]  # the fixtures, shared with test_cli


def test_export_then_purge(env: dict[str, str], server: SimulatorServer, tmp_path: Path) -> None:
    invoke("db", "init")
    add_district(server)
    assert invoke("sync", "springfield", "--json")[0] == 0
    code, out = invoke("people", "springfield", "--json", "--limit", "1")
    student = json.loads(out)[0]

    out_file = tmp_path / "export.json"
    code, out = invoke(
        "privacy", "export-student", "springfield", student["id"], "--out", str(out_file)
    )
    assert code == 0, out
    export = json.loads(out_file.read_text())
    assert export["tables"]["students"][0]["id"] == student["id"]
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600

    code, out = invoke(
        "privacy", "purge-district", "springfield", "--confirm", "springfield-typo",
        "--reason", "contract ended",
    )  # fmt: skip
    assert code == 2
    assert "confirm with its slug 'springfield'" in " ".join(out.split())

    code, out = invoke(
        "privacy", "purge-district", "springfield", "--confirm", "springfield",
        "--reason", "contract ended", "--json",
    )  # fmt: skip
    assert code == 0, out
    purged = json.loads(out)
    assert purged["district"] == "springfield"
    assert purged["rows"]["students"] > 0
    assert invoke("sync", "springfield")[0] != 0
    code, out = invoke("privacy", "disposals", "--json")
    assert [d["reason"] for d in json.loads(out)] == ["contract ended"]
