"""Where a staff member lands after signing in.

Vendor staff land on the districts list (`HOME`). A data manager has one district, so they land on
its page, which opens with the district's health (last successful sync, open errors, the runs
chart): a list holding one row would only be a click in the way. A page the person asked for
(the `next` of a sign-in that a gate sent them to) is kept as it is; only the general staff home
(`HOME`, or `/admin`) becomes a data manager's district page. The gates decide what anyone may
see (`web/gates.py`); this only chooses the first page.
"""

from __future__ import annotations

from urllib.parse import quote

from rostersync.errors import NotFoundError
from rostersync.services import Services
from rostersync.staff.models import StaffViewer

HOME = "/admin/districts"
# Targets that mean "the staff home" rather than one page the person asked for.
STAFF_HOMES = frozenset({HOME, "/admin"})


def district_page(slug: str) -> str:
    """The path of a district's page (its health at a glance)."""
    return f"{HOME}/{quote(slug, safe='')}"


def landing(service: Services, viewer: StaffViewer | None, target: str) -> str:
    """The page to send a newly signed-in person to, given where the sign-in was headed.

    Args:
        service: The service API (to find the data manager's district).
        viewer: The staff member the new session belongs to; None when it has no staff rights
            (an educator or student signing in through ClassLink).
        target: The sign-in's safe `next` path.

    Returns:
        A data manager's district page when `target` is the staff home, else `target`.
    """
    if target not in STAFF_HOMES or viewer is None or viewer.district_id is None:
        return target
    if viewer.is_vendor_staff:
        return target
    try:
        district, _ = service.districts.get(viewer.district_id)
    except NotFoundError:
        return target
    return district_page(district.slug)


__all__ = ["HOME", "STAFF_HOMES", "district_page", "landing"]
