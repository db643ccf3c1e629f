"""The sandbox worlds of the web, admin and sign-in tests: a portal on loopback with simulated
ClassLink districts (`rostersync.demo.sandbox`).

`portal_settings` is the portal every such world starts from (its files under the test's
directory, a fresh secret key, JSON logs); `springfield` and `springfield_and_shelbyville` are
the districts most of them sync. Each test passes the settings and sizes it cares about.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from rostersync.config import Settings
from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district


def portal_settings(tmp: Path, database_url: str | None = None, **values: Any) -> Settings:
    """A sandbox portal's settings: data under `tmp`, its database at `database_url` (a SQLite
    file under `tmp` when None), a fresh secret key, JSON logs; `values` add to them."""
    return Settings(
        data_dir=tmp,
        database_url=database_url or f"sqlite:///{tmp / 'portal.db'}",
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
        **values,
    )


def springfield(students: int, *, bad_records: bool = False, **options: Any) -> SandboxDistrict:
    """Springfield USD: ClassLink tenant 1001, generated from seed 3 (`options` go to the
    `SandboxDistrict`, e.g. `sso_only_users`)."""
    return SandboxDistrict(
        slug="springfield",
        tenant_id="1001",
        display_name="Springfield USD – Springfield, IL",
        data=generate_district(
            students=students, seed=3, bad_records=bad_records, tenant="springfield"
        ),
        **options,
    )


def springfield_and_shelbyville(students: int) -> list[SandboxDistrict]:
    """Springfield SD (tenant 1001, seed 3) and Shelbyville SD (tenant 1002, seed 4), the same
    size."""
    return [
        SandboxDistrict(
            slug=slug,
            tenant_id=tenant,
            display_name=f"{slug.title()} SD – {slug.title()}, IL",
            data=generate_district(students=students, seed=seed, tenant=slug),
        )
        for slug, tenant, seed in (("springfield", "1001", 3), ("shelbyville", "1002", 4))
    ]


def add_staff(
    sandbox: Sandbox,
    email: str,
    role: str,
    *,
    password: str,
    district: str | None = None,
    display_name: str = "Pat Staff",
) -> str:
    """Add a staff account (signing in with `password`) to the sandbox's portal; its id."""
    service = sandbox.service
    assert service is not None
    return service.staff.add_staff(
        email=email, display_name=display_name, role=role, password=password, district=district
    )
