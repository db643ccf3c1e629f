"""The district `rostersync demo --serve` leaves running: the product with something to look at.

Springfield is generated with its planted bad records (a student with no grade, a duplicate email,
an enrollment to a class that does not exist, …), onboarded, synced and set live, so its issues
are open. Then ClassLink starts serving a second roster version without the 11th and 12th graders,
and a sync of it is held by the safeguards: a run to review. A data manager and a vendor staff
account are made with passwords for this run only, and the emails the portal sent (the summary
and the held sync) are in the outbox folder. Shelbyville reads its roster from Clever: it is
onboarded, synced and set live from the Clever simulator, whose sign-in sends its people back to
the portal's Clever callback. Capital City is served by ClassLink but not onboarded, for trying
the onboarding wizard.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet

from rostersync.config import Settings
from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district
from rostersync.simulator.mutations import vanish

DATA_MANAGER = "data.manager@springfield.example"
VENDOR = "vendor@demo.example"
# The grades the second roster version leaves out, as a broken export might.
DROPPED_GRADES = ("11", "12")
CLEVER_DISTRICT = "shelbyville"
# How many of the Clever district's students and teachers the welcome names.
CLEVER_SAMPLES = 3


@dataclass(frozen=True, slots=True)
class Login:
    """A staff account to sign in as, with its password for this demo only."""

    email: str
    display_name: str
    role: str
    password: str
    district: str | None


@dataclass(slots=True)
class Showcase:
    """The running demo portal and what a newcomer needs to find their way in it."""

    sandbox: Sandbox
    logins: list[Login] = field(default_factory=list)
    held_run_id: str = ""
    held_reason: str = ""
    dropped_students: int = 0

    @property
    def url(self) -> str:
        return self.sandbox.url

    @property
    def outbox(self) -> Path:
        assert self.sandbox.service is not None
        return self.sandbox.service.settings.resolved_outbox_dir

    def login(self, role: str) -> Login:
        """The first account with this role ("data_manager" or "vendor_staff")."""
        return next(login for login in self.logins if login.role == role)

    def welcome(self) -> list[str]:
        """What to print on start: where to go, whom to sign in as, what to look at."""
        manager = self.login("data_manager")
        vendor = self.login("vendor_staff")
        url, key, secret = self.sandbox.roster_credentials["capital"]
        return [
            f"Admin pages: {self.url}/staff/login",
            "Sign in as the data manager of Springfield USD "
            "(demo-only password, made for this run; the database is thrown away on the next):",
            f"  email:    {manager.email}",
            f"  password: {manager.password}",
            f"Or as vendor staff: {vendor.email} / {vendor.password} (demo-only password)",
            f"Open issues (planted bad records): {self.url}/admin/districts/springfield/issues",
            f"Held sync to review ({self.dropped_students} students left out of the roster): "
            f"{self.url}/admin/runs/{self.held_run_id}",
            f"  held because {self.held_reason}",
            "Emails the portal sent (.eml files, open with any mail program): "
            f"{self.outbox.resolve()}",
            "Onboard Capital City with the wizard (Onboard a district), tenant ID 1004, "
            f"OneRoster 1.1 at {url}, key {key}, secret {secret}",
            *self.clever_sign_in(),
        ]

    def clever_sign_in(self) -> list[str]:
        """How to sign in as a person of the Clever district, and a few to sign in as."""
        sandbox = self.sandbox
        district = next(d for d in sandbox.districts if d.slug == CLEVER_DISTRICT)
        name = district.display_name.split(" – ")[0]
        lines = [
            f"{name} reads its roster from Clever: on the Educator Portal's login page "
            f"({self.url}/login) choose {name}, then at the simulated Clever add "
            "&login_as=<Clever user id> to the page's address, e.g.:"
        ]
        for role in ("student", "teacher"):
            for person in sandbox.clever_people(CLEVER_DISTRICT, role)[:CLEVER_SAMPLES]:
                lines.append(f"  {person.display_name} ({role}): &login_as={person.user_id}")
        return lines

    def stop(self) -> None:
        self.sandbox.stop()

    def __enter__(self) -> Showcase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def demo_settings(
    data_dir: Path, *, log_format: Literal["json", "console"] = "console"
) -> Settings:
    """A fresh demo portal's settings: a SQLite database and the outbox under `data_dir`."""
    shutil.rmtree(data_dir, ignore_errors=True)
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'rostersync.db'}",
        secret_keys=Fernet.generate_key().decode(),
        log_format=log_format,
        log_level="WARNING",
    )


def start_showcase(settings: Settings, *, students: int, seed: int, port: int = 0) -> Showcase:
    """Start the simulators and the portal with the demo districts, a held run and the logins.

    Args:
        settings: The portal's settings (see `demo_settings`).
        students: Springfield's size (at least 50, so the held run trips the safeguards);
            Shelbyville, read from Clever, is half as big.
        seed: The generator's seed.
        port: The portal's port (0: any free one).

    Raises:
        RuntimeError: The second roster version's sync was not held.
    """
    springfield = SandboxDistrict(
        slug="springfield",
        tenant_id="1001",
        display_name="Springfield USD – Springfield, IL",
        data=generate_district(
            students=students, seed=seed, bad_records=True, tenant="springfield"
        ),
        data_manager_emails=[DATA_MANAGER],
    )
    shelbyville = SandboxDistrict(
        slug=CLEVER_DISTRICT,
        provider="clever",
        display_name="Shelbyville SD – Shelbyville, IL",
        data=generate_district(
            students=max(students // 2, 20), seed=seed + 2, tenant=CLEVER_DISTRICT
        ),
    )
    capital = SandboxDistrict(
        slug="capital",
        tenant_id="1004",
        display_name="Capital City SD – Capital City, IL",
        data=generate_district(students=60, seed=seed + 1, tenant="capital"),
        onboarded=False,
    )
    sandbox = Sandbox(settings, [springfield, shelbyville, capital], port=port).start()
    try:
        showcase = Showcase(sandbox)
        _add_logins(showcase)
        _hold_a_run(showcase, springfield)
    except BaseException:
        sandbox.stop()
        raise
    return showcase


def _add_logins(showcase: Showcase) -> None:
    service = showcase.sandbox.service
    assert service is not None
    for email, name, role, district in (
        (DATA_MANAGER, "Dana Manager", "data_manager", "springfield"),
        (VENDOR, "Val Vendor", "vendor_staff", None),
    ):
        password = secrets.token_urlsafe(12)
        service.staff.add_staff(
            email=email, display_name=name, role=role, password=password, district=district
        )
        showcase.logins.append(Login(email, name, role, password, district))


def _hold_a_run(showcase: Showcase, district: SandboxDistrict) -> None:
    """Email the first sync's summary, serve a roster without two grades, and sync it: held."""
    service = showcase.sandbox.service
    assert service is not None
    first = service.runs.recent(district.slug, limit=1)[0]
    service.runs.notify(first.id)
    involved = {p.sourced_id for p in district.data.planted}
    involved.update(sid for p in district.data.planted for sid in p.related)
    dropped = [
        user["sourcedId"]
        for user in district.data.users
        if user["role"] == "student"
        and set(user.get("grades") or ()) & set(DROPPED_GRADES)
        and user["sourcedId"] not in involved
    ]
    showcase.sandbox.roster.tenant(district.slug).data = vanish(
        district.data, "users", dropped
    ).data
    report = service.runs.sync(district.slug, trigger="demo")
    if report.status != "held":
        raise RuntimeError(f"the demo's second sync was {report.status}, not held")
    service.runs.notify(report.run_id)
    showcase.held_run_id = report.run_id
    showcase.held_reason = report.reason or ""
    showcase.dropped_students = len(dropped)
