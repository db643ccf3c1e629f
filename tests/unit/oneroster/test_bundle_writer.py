"""The bundle writer streams a generated district into spec-shaped OneRoster CSV files."""

from __future__ import annotations

import csv
import io

from tests.unit.oneroster.bundle_helpers import bundle_bytes, members, small_district

from rostersync.oneroster.bundle_schema import columns_for


class TestWriter:
    """The writer emits spec column order, list cells, userIds and metadata columns."""

    def test_users_csv_has_spec_columns_then_metadata(self) -> None:
        data = small_district()
        files = members(bundle_bytes(data))
        rows = list(csv.reader(io.StringIO(files["users.csv"].decode())))
        assert tuple(rows[0][:18]) == columns_for("1.1", "users")
        assert rows[0][18:] == ["metadata.eligibility"]
        first = dict(zip(rows[0], rows[1], strict=True))
        user = data.users[0]
        assert first["orgSourcedIds"] == user["orgs"][0]["sourcedId"]
        ident = user["userIds"][0]
        assert first["userIds"] == f"{{{ident['type']}:{ident['identifier']}}}"
        assert (first["status"], first["dateLastModified"]) == ("", "")

    def test_class_terms_are_one_list_cell(self) -> None:
        files = members(bundle_bytes())
        rows = list(csv.DictReader(io.StringIO(files["classes.csv"].decode())))
        assert any("," in row["termSourcedIds"] for row in rows)

    def test_12_bundles_carry_roles_and_no_user_role_column(self) -> None:
        files = members(bundle_bytes(version="1.2"))
        header = files["users.csv"].decode().split("\r\n", 1)[0].split(",")
        assert "role" not in header
        assert "roles.csv" in files
        assert b"oneroster.version,1.2" in files["manifest.csv"]
