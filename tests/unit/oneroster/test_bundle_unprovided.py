"""A bundle says which kinds it does not provide: the files its manifest marks absent.

Decision 0021: a class whose course is in a file the manifest marks absent is provisioned with a
warning, not held for pointing at a course "not in the roster". The source side tells the run
which kinds were not provided.
"""

from __future__ import annotations

from tests.unit.oneroster.bundle_helpers import bundle_bytes, make_zip, members

from rostersync.domain.records import EntityKind, SchoolClass
from rostersync.sync.bundle_source import BundleSource


def without_courses() -> bytes:
    files = members(bundle_bytes())
    del files["courses.csv"]
    files["manifest.csv"] = files["manifest.csv"].replace(
        b"file.courses,bulk", b"file.courses,absent"
    )
    return make_zip(files)


def test_a_bundle_without_courses_reads_its_classes_and_says_courses_were_not_provided() -> None:
    source = BundleSource(without_courses())
    assert source.unprovided_kinds() == set()  # nothing is known before the bundle is read
    records = list(source.records())
    classes = [r for r in records if isinstance(r, SchoolClass)]
    assert classes and all(c.course_sourced_id for c in classes)  # the reference is kept
    assert EntityKind.COURSE in source.unprovided_kinds()
    assert EntityKind.CLASS not in source.unprovided_kinds()


def test_a_whole_bundle_provides_every_kind() -> None:
    source = BundleSource(bundle_bytes())
    list(source.records())
    assert source.unprovided_kinds() == set()
