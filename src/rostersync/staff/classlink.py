"""Data-manager rights that come with a ClassLink sign-in (the rule is in `staff.accounts`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rostersync.staff.policy import NO_PASSWORD
from rostersync.store import admin as store
from rostersync.store import signin as store_signin
from rostersync.store import web as store_web


def grant_data_manager_rights(
    conn: Any, *, session_token: str, district_id: str, educator_id: str, now: datetime
) -> str | None:
    """Give a fresh ClassLink educator session its data-manager rights, when the rule in this
    module's docstring allows; audited. Runs in the sign-in's own transaction.

    Returns:
        The staff account id whose rights the session has, or None.
    """
    staff_id, listed = store_signin.data_manager_for_educator(
        conn, district_id=district_id, educator_id=educator_id
    )
    actor = f"educator:{educator_id}"
    if staff_id is None and listed is not None:
        name = store_web.person(conn, "educator", educator_id)
        display = f"{name.given_name} {name.family_name}".strip() if name else ""
        staff_id = store.create_staff(
            conn,
            email=listed,
            display_name=display or "Data manager",
            role="data_manager",
            district_id=district_id,
            password_hash=NO_PASSWORD,
            now=now,
        )
        store_signin.record_staff_change(
            conn,
            staff_id=staff_id,
            district_id=district_id,
            actor=actor,
            action="staff_created",
            now=now,
            changes={"role": "data_manager", "via": "classlink"},
        )
    if staff_id is None:
        return None
    store_signin.grant_session(
        conn,
        token_hash=store_web.digest(session_token),
        staff_id=staff_id,
        district_id=district_id,
        now=now,
    )
    store_signin.record_staff_change(
        conn,
        staff_id=staff_id,
        district_id=district_id,
        actor=actor,
        action="staff_signed_in",
        now=now,
        changes={"via": "classlink"},
    )
    return staff_id


__all__ = ["grant_data_manager_rights"]
