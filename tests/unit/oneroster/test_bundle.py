"""OneRoster CSV bundles are vetted, then streamed from the zip into the same records as REST."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest
from tests.unit.oneroster.bundle_helpers import (
    USERS_11,
    bundle_bytes,
    make_zip,
    manifest,
    members,
    patch_central,
    small_district,
    users_only,
)

from rostersync.domain.records import ACTIVE, TO_BE_DELETED, Person
from rostersync.errors import FatalSourceError
from rostersync.oneroster.bundle import Bundle, BundleError, BundleLimits
from rostersync.oneroster.mapping import MAPPERS
from rostersync.simulator.district import COLLECTIONS

ROW = "stu-1,,,true,org-101,student,jmunoz,{{StateID:991}},{},{},,S1,j@x.example,,,,09,"


def user_row(given: str = "Ana", family: str = "Diaz") -> str:
    return ROW.format(given, family)


def read(bundle: bytes, **limits: object) -> list[object]:
    with Bundle(bundle, limits=BundleLimits(**limits)) as opened:  # type: ignore[arg-type]
        return [record for _collection, record in opened.records()]


def refusal(bundle: bytes, **limits: object) -> BundleError:
    with pytest.raises(BundleError) as caught:
        read(bundle, **limits)
    assert isinstance(caught.value, FatalSourceError)
    return caught.value


class TestSameRecordsAsRest:
    """A generated district written as a bundle reads back into the records REST would give."""

    def expected(self, *, keep_dates: bool) -> list[object]:
        data = small_district()
        return [
            MAPPERS[c](r)
            if keep_dates
            else dataclasses.replace(MAPPERS[c](r), date_last_modified=None)
            for c in COLLECTIONS
            for r in data.collection(c)
        ]

    @pytest.mark.parametrize("version", ["1.1", "1.2"])
    def test_bulk_bundle_matches_rest_mapping_apart_from_blank_dates(self, version: str) -> None:
        assert read(bundle_bytes(version=version)) == self.expected(keep_dates=False)

    @pytest.mark.parametrize("version", ["1.1", "1.2"])
    def test_delta_bundle_matches_rest_mapping_exactly(self, version: str) -> None:
        assert read(bundle_bytes(version=version, mode="delta")) == self.expected(keep_dates=True)

    def test_metadata_columns_become_metadata_and_blank_cells_are_left_out(self) -> None:
        data = small_district()
        people = [r for r in read(bundle_bytes(data)) if isinstance(r, Person)]
        with_meta = {u["sourcedId"]: u["metadata"] for u in data.users if u.get("metadata")}
        assert with_meta
        for person in people:
            assert dict(person.metadata) == with_meta.get(person.sourced_id, {})


class TestCells:
    """List cells, userIds, extension columns and blank bookkeeping read as the spec means."""

    def test_list_and_user_id_cells_are_split(self) -> None:
        row = (
            'stu-1,,,true,"org-101,org-102",student,jd,"{LDAP:12},{Fed:a,b}",Jo,Diaz,,S1,,,,'
            ',"09,10",'
        )
        (person,) = read(users_only([row]))
        assert isinstance(person, Person)
        assert person.org_sourced_ids == ("org-101", "org-102")
        assert person.user_ids == (("LDAP", "12"), ("Fed", "a,b"))
        assert person.grades == ("09", "10")

    def test_blank_status_in_a_bulk_file_is_active_and_tobedeleted_in_a_delta_is_kept(
        self,
    ) -> None:
        (bulk,) = read(users_only([user_row()]))
        assert isinstance(bulk, Person)
        assert bulk.status == ACTIVE
        assert bulk.date_last_modified is None
        removed = user_row().replace("stu-1,,,", "stu-1,tobedeleted,2026-08-01T00:00:00Z,")
        (delta,) = read(users_only([removed], mode="delta"))
        assert isinstance(delta, Person)
        assert delta.status == TO_BE_DELETED

    def test_extension_columns_are_ignored_and_counted(self) -> None:
        header = USERS_11 + ",ext_vendor,metadata.eligibility"
        bundle = users_only([user_row() + ",x,RD"], header=header)
        with Bundle(bundle) as opened:
            (person,) = [r for _c, r in opened.records()]
            assert opened.stats.ignored_columns == {"users.csv": ("ext_vendor",)}
        assert isinstance(person, Person)
        assert dict(person.metadata) == {"eligibility": "RD"}


class TestEncodings:
    """UTF-8 with or without BOM and Windows-1252 read correctly; bad bytes are refused."""

    def bundle(self, body: bytes) -> bytes:
        return make_zip({"manifest.csv": manifest(users="bulk"), "users.csv": body})

    def text(self, given: str = "José", family: str = "Muñoz") -> str:
        return f"{USERS_11}\r\n{user_row(given, family)}\r\n"

    @pytest.mark.parametrize(
        ("encoding", "setting"),
        [("utf-8", "auto"), ("utf-8-sig", "auto"), ("cp1252", "auto"), ("cp1252", "cp1252")],
    )
    def test_names_read_the_same_in_every_accepted_encoding(
        self, encoding: str, setting: str
    ) -> None:
        (person,) = read(self.bundle(self.text().encode(encoding)), encoding=setting)
        assert isinstance(person, Person)
        assert (person.given_name, person.family_name) == ("José", "Muñoz")

    def test_a_bom_is_stripped_from_the_first_header(self) -> None:
        with Bundle(self.bundle(self.text().encode("utf-8-sig"))) as opened:
            assert len(list(opened.records())) == 1
            assert opened.stats.encodings["users.csv"] == "utf-8"

    def test_windows_1252_is_refused_when_utf8_is_required(self) -> None:
        error = refusal(self.bundle(self.text().encode("cp1252")), encoding="utf-8")
        assert (error.file, error.line) == ("users.csv", 2)
        assert "not valid UTF-8" in str(error)
        assert "CSV UTF-8" in str(error)

    def test_a_bad_byte_after_utf8_letters_is_an_error_not_a_fallback(self) -> None:
        body = self.text("Zoë").encode() + f"{user_row('Ana', 'Pe')}\r\n".encode() + b"\xff\r\n"
        error = refusal(self.bundle(body))
        assert (error.file, error.line) == ("users.csv", 4)

    def test_a_bad_byte_in_a_file_with_a_utf8_bom_is_an_error(self) -> None:
        error = refusal(self.bundle(b"\xef\xbb\xbf" + self.text().encode("cp1252")))
        assert (error.file, error.line) == ("users.csv", 2)

    def test_utf16_is_refused_with_instructions(self) -> None:
        error = refusal(self.bundle(self.text().encode("utf-16")))
        assert "UTF-16" in str(error)
        assert "CSV UTF-8" in str(error)

    def test_a_nul_byte_is_refused_with_its_line(self) -> None:
        error = refusal(self.bundle(self.text().encode().replace(b"Jos", b"J\x00s")))
        assert (error.file, error.line) == ("users.csv", 2)


class TestUnsafeZips:
    """Entries that could escape, hide or explode are refused before any row is read."""

    @pytest.mark.parametrize(
        "name",
        ["../users.csv", "/etc/users.csv", "C:\\users.csv", "C:users.csv", "a\\..\\users.csv"],
    )
    def test_path_tricks_are_refused(self, name: str) -> None:
        error = refusal(make_zip({"manifest.csv": manifest(), name: b"x"}))
        assert "points outside the bundle" in str(error)
        assert repr(name) in str(error)

    @pytest.mark.parametrize("name", ["export/users.csv", "export/"])
    def test_nested_folders_are_refused(self, name: str) -> None:
        error = refusal(make_zip({"manifest.csv": manifest(), name: b""}))
        assert "folder" in str(error)

    def test_a_symlink_entry_is_refused(self) -> None:
        info = zipfile.ZipInfo("users.csv")
        info.create_system = 3
        info.external_attr = (0o120777) << 16
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("manifest.csv", manifest(users="bulk"))
            zf.writestr(info, "/etc/passwd")
        assert "symbolic link" in str(refusal(buf.getvalue()))

    @pytest.mark.parametrize("second", ["users.csv", "Users.csv"])
    def test_duplicate_names_are_refused_even_when_only_case_differs(self, second: str) -> None:
        bundle = make_zip(
            [("manifest.csv", manifest(users="bulk")), ("users.csv", b""), (second, b"")]
        )
        assert "unique" in str(refusal(bundle))

    def test_a_nested_archive_is_refused(self) -> None:
        bundle = make_zip({"manifest.csv": manifest(), "more.zip": make_zip({"a.csv": b""})})
        assert "archive inside the bundle" in str(refusal(bundle))

    def test_an_encrypted_member_is_refused(self) -> None:
        bundle = make_zip({"manifest.csv": manifest(users="bulk"), "users.csv": b"x"})
        assert "encrypted" in str(refusal(patch_central(bundle, "users.csv", 8, "<H", 1)))

    def test_a_zip_bomb_is_refused_from_its_headers(self) -> None:
        bomb = make_zip({"manifest.csv": manifest(users="bulk"), "users.csv": bytes(20 * 2**20)})
        error = refusal(bomb)
        assert error.file == "users.csv"
        assert "zip bomb" in str(error)

    def test_a_member_that_understates_its_size_is_stopped_while_reading(self) -> None:
        body = (USERS_11 + "\r\n" + (user_row() + "\r\n") * 40_000).encode()
        bundle = make_zip({"manifest.csv": manifest(users="bulk"), "users.csv": body})
        # The central directory now claims 1 KB: a header check alone would let it through.
        lying = patch_central(bundle, "users.csv", 24, "<I", 1024)
        error = refusal(lying)
        assert error.file == "users.csv"

    def test_overlapping_entries_are_refused(self) -> None:
        bundle = make_zip({"manifest.csv": manifest(users="bulk"), "users.csv": b"a,b\r\n"})
        overlapping = patch_central(bundle, "users.csv", 42, "<I", 0)
        assert "overlap" in str(refusal(overlapping))

    def test_an_oversize_file_is_refused_naming_it(self) -> None:
        error = refusal(bundle_bytes(), max_member_bytes=2000)
        assert error.file is not None
        assert error.file.endswith(".csv")
        assert "limit for one file" in str(error)

    def test_the_total_uncompressed_size_is_capped(self) -> None:
        assert "add up to" in str(refusal(bundle_bytes(), max_total_bytes=10_000))

    def test_the_zip_itself_is_capped(self) -> None:
        assert "limit for a bundle" in str(refusal(bundle_bytes(), max_compressed_bytes=100))

    def test_too_many_entries_are_refused(self) -> None:
        assert "entries" in str(refusal(bundle_bytes(), max_members=3))

    def test_bytes_that_are_not_a_zip_are_refused(self) -> None:
        assert "not a readable zip" in str(refusal(b"sourcedId,status\r\n"))


class TestManifest:
    """The manifest must exist, name a known version, and agree with the zip's files."""

    def test_a_missing_manifest_is_refused(self) -> None:
        error = refusal(make_zip({"users.csv": b""}))
        assert "no manifest.csv" in str(error)

    @pytest.mark.parametrize(
        ("rows", "expected"),
        [
            ("manifest.version,2.0\r\noneroster.version,1.1", "unknown manifest.version"),
            ("manifest.version,1.0\r\noneroster.version,1.0", "oneroster.version is '1.0'"),
            ("manifest.version,1.0\r\noneroster.version,1.1\r\nfile.users,full", "'full'"),
            ("manifest.version,1.0\r\noneroster.version,1.1\r\nfile.users,bulk", "not in the zip"),
            (
                "manifest.version,1.0\r\noneroster.version,1.1\r\nfile.orgs,bulk\r\nfile.orgs,bulk",
                "listed twice",
            ),
        ],
    )
    def test_bad_manifests_are_refused(self, rows: str, expected: str) -> None:
        body = f"propertyName,value\r\n{rows}\r\n".encode()
        error = refusal(make_zip({"manifest.csv": body}))
        assert expected in str(error)

    def test_a_present_file_declared_absent_is_refused(self) -> None:
        files = members(bundle_bytes())
        files["manifest.csv"] = files["manifest.csv"].replace(
            b"file.users,bulk", b"file.users,absent"
        )
        assert "declares file.users as absent" in str(refusal(make_zip(files)))


class TestStructure:
    """Headers must follow the spec's order; every row must have one cell per column."""

    def test_misordered_columns_name_the_expected_and_found_header(self) -> None:
        header = USERS_11.replace("orgSourcedIds,role", "role,orgSourcedIds")
        error = refusal(users_only([user_row()], header=header))
        assert (error.file, error.line, error.column) == ("users.csv", 1, 5)
        message = str(error)
        assert "expected column 'orgSourcedIds' but found 'role'" in message
        assert USERS_11 in message
        assert header in message

    def test_a_missing_column_is_refused(self) -> None:
        header = USERS_11.removesuffix(",password")
        error = refusal(users_only([user_row().removesuffix(",")], header=header))
        assert error.column == 18
        assert "'password'" in str(error)

    def test_headers_are_case_sensitive(self) -> None:
        error = refusal(users_only([user_row()], header=USERS_11.replace("givenName", "GivenName")))
        assert error.column == 9

    def test_a_row_with_the_wrong_number_of_cells_names_its_line(self) -> None:
        error = refusal(users_only([user_row(), user_row() + ",extra", user_row()]))
        assert (error.file, error.line) == ("users.csv", 3)
        assert "19 cells" in str(error)

    def test_broken_quoting_names_its_line(self) -> None:
        error = refusal(users_only([user_row(), user_row().replace("Ana", '"Ana"x')]))
        assert error.line == 3

    def test_an_empty_file_is_refused(self) -> None:
        bundle = make_zip({"manifest.csv": manifest(users="bulk"), "users.csv": b""})
        assert "is empty" in str(refusal(bundle))
