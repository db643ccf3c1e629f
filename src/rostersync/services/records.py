"""Records: find a district's people, classes and schools, and read one whole for its page.

    services.records.search(district_id, "Lovelace")       # SearchResults, capped per kind
    services.records.person(district_id, "stu-0001")        # PersonPage, or NotFoundError
    services.records.school_class(district_id, "cls-001")   # ClassPage
    services.records.school(district_id, "sch-001")         # SchoolPage

Each method reads in one connection and writes nothing. A record is named by its ClassLink
sourcedId; an account made by hand (no sourcedId) by its portal id. A record the roster sent that
failed validation has a page too, named as its open issues name it. Callers check that the
person asking may see the district (the web layer's `DistrictInScope`); every query here is
bound to the one district it is given.
"""

from __future__ import annotations

from rostersync.errors import NotFoundError
from rostersync.services.context import ServiceContext
from rostersync.store import record_pages as store_pages
from rostersync.store import records as store_records

# The longest search text taken: longer than any name, email or sourcedId a roster sends.
MAX_SEARCH = 255


class Records:
    """Search and a page per record, within one district."""

    def __init__(self, context: ServiceContext) -> None:
        self._engine = context.engine

    def search(
        self,
        district_id: str,
        text: str,
        *,
        limit: int = store_records.SEARCH_CAP,
        people_after: store_records.PeopleSeek | None = None,
    ) -> store_records.SearchResults:
        """People, classes and schools matching `text` (a name, email, student ID, class
        code or ClassLink sourcedId), exact matches first, at most `limit` of each kind; the
        people paged from `people_after` (the first page without it)."""
        with self._engine.connect() as conn:
            return store_records.search(
                conn, district_id, text[:MAX_SEARCH], limit=limit, people_after=people_after
            )

    def person(self, district_id: str, ref: str) -> store_pages.PersonPage:
        """A student or educator with eligibility, enrollments, open issues and history.

        Raises:
            NotFoundError: The district holds no such person and no open issue names one.
        """
        with self._engine.connect() as conn:
            found = store_pages.person_page(conn, district_id, ref)
        if found is None:
            raise NotFoundError(f"no person {ref!r} in this district")
        return found

    def school_class(self, district_id: str, ref: str) -> store_pages.ClassPage:
        """A class with its teachers and students, open issues and history.

        Raises:
            NotFoundError: The district holds no such class and no open issue names one.
        """
        with self._engine.connect() as conn:
            found = store_pages.class_page(conn, district_id, ref)
        if found is None:
            raise NotFoundError(f"no class {ref!r} in this district")
        return found

    def school(self, district_id: str, ref: str) -> store_pages.SchoolPage:
        """A school with its counts of people, its classes, open issues and history.

        Raises:
            NotFoundError: The district holds no such school and no open issue names one.
        """
        with self._engine.connect() as conn:
            found = store_pages.school_page(conn, district_id, ref)
        if found is None:
            raise NotFoundError(f"no school {ref!r} in this district")
        return found


__all__ = ["MAX_SEARCH", "Records"]
