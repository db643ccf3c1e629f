"""A row is known unchanged only by the hash of everything its record is made from."""

from __future__ import annotations

from rostersync.domain.records import EntityKind
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.unchanged_rows import KnownRows, UnchangedRow, basis_of

COLUMNS = ("sourcedId", "status", "dateLastModified", "title")
ROW = ["c-1", "active", "2026-01-01", "Algebra"]


def hash_of(row: list[str], *, basis: str = "b", version: str = "1.1", columns=COLUMNS) -> str:
    """The hash the sifter keeps for a row it reads."""
    known = KnownRows(basis=basis, stored={})
    sift = known.sifter("classes", version, columns)
    assert sift is not None and sift(row) is None
    return known.read["classes"][row[0]]


def known_with(digest: str, *, basis: str = "b") -> KnownRows:
    return KnownRows(basis=basis, stored={"classes": {"c-1": (digest, EntityKind.CLASS)}})


def test_the_same_row_is_known_unchanged_and_counted() -> None:
    known = known_with(hash_of(ROW))
    sift = known.sifter("classes", "1.1", COLUMNS)
    assert sift is not None
    assert sift(list(ROW)) == UnchangedRow(EntityKind.CLASS, "c-1", "2026-01-01")
    assert known.unchanged == {"classes": 1}
    assert known.read["classes"] == {}
    assert known.skipped_any


def test_any_change_to_a_cell_the_answers_the_version_or_the_columns_reads_the_row() -> None:
    digest = hash_of(ROW)
    assert hash_of([*ROW[:3], "Algebra II"]) != digest
    assert hash_of(ROW, basis="other answers") != digest
    assert hash_of(ROW, version="1.2") != digest
    assert hash_of(ROW, columns=(*COLUMNS[:3], "classCode")) != digest
    # Cells are joined with a separator no cell may hold unnoticed: moving text across differs.
    assert hash_of(["c-1", "active", "2026-01-01a", ""]) != hash_of(
        ["c-1", "active", "2026-01-01", "a"]
    )
    known = known_with(digest, basis="other answers")
    sift = known.sifter("classes", "1.1", COLUMNS)
    assert sift is not None and sift(list(ROW)) is None


def test_a_sourced_id_keeps_the_hash_of_its_first_row() -> None:
    known = KnownRows(basis="b", stored={})
    sift = known.sifter("classes", "1.1", COLUMNS)
    assert sift is not None
    sift(list(ROW))
    sift([*ROW[:3], "Duplicate"])
    assert known.read["classes"]["c-1"] == hash_of(ROW)


def test_only_classes_and_users_are_sifted() -> None:
    known = KnownRows(basis="b", stored={})
    assert known.sifter("courses", "1.1", COLUMNS) is None
    assert known.sifter("enrollments", "1.1", COLUMNS) is None
    assert known.sifter("users", "1.1", COLUMNS) is not None


def test_the_basis_names_every_answer() -> None:
    portal = DistrictRules()
    metadata = DistrictRules(
        eligibility_source=EligibilitySource.METADATA, eligibility_field="eligibility"
    )
    assert basis_of(portal) != basis_of(metadata)
    assert basis_of(DistrictRules(grades_provided=False)) != basis_of(portal)
    assert basis_of(DistrictRules(student_id_field="sourcedId")) != basis_of(portal)
    assert basis_of(DistrictRules(unique_emails=False)) != basis_of(portal)
