"""A whole sign-in world on loopback: ClassLink's OneRoster and SSO simulators, Clever's
simulator when a district is read from Clever, and the portal.

The integration and browser tests, and `rostersync demo --serve`, build the same thing: districts
generated, served by their provider's simulator, onboarded and synced into the portal, set live,
and their people able to sign in through that provider's sign-in (ClassLink's SSO simulator, or
the Clever simulator's OAuth with its one redirect URI the portal's Clever callback).
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import update

from rostersync.config import Settings
from rostersync.services import Questionnaire, Services
from rostersync.signin.clever_portal import CLEVER_CALLBACK_PATH
from rostersync.signin.oidc import RelyingParty
from rostersync.simulator import DistrictData, SimulatorServer, Tenant
from rostersync.simulator.clever import CleverSimulator, user_id_for
from rostersync.simulator.sso import SsoClient, SsoServer, SsoTenant
from rostersync.store.tables import districts
from rostersync.web.app import create_app
from rostersync.web.server import PortalServer

if TYPE_CHECKING:
    from rostersync.jobs.queue import JobQueue

CLIENT_ID = "educator-portal"


@dataclass(slots=True, kw_only=True)
class SandboxDistrict:
    """One simulated district and how it is onboarded.

    A ClassLink district (the default) is served by the OneRoster and SSO simulators under its
    tenant id; a Clever one by the Clever simulator, found by the Clever district id it is given
    there (`Sandbox.clever_ids`), and needs no tenant id.
    """

    slug: str
    display_name: str
    data: DistrictData
    provider: Literal["classlink", "clever"] = "classlink"
    tenant_id: str = ""
    live: bool = True
    onboarded: bool = True
    eligibility_source: str = "portal"
    # Who receives the district's emails (summaries, held syncs); none when empty.
    data_manager_emails: list[str] = field(default_factory=list)
    # People ClassLink knows but the roster does not (yet): the SSO side gets them, the sync not.
    sso_only_users: list[dict[str, Any]] = field(default_factory=list)

    def check(self) -> None:
        """Refuse a district the sandbox cannot serve as described.

        Raises:
            ValueError: A ClassLink district without a tenant id, or a Clever one with people
                for the sign-in side only (Clever signs in exactly the people it rosters).
        """
        if self.provider == "classlink" and not self.tenant_id:
            raise ValueError(f"the ClassLink district {self.slug} needs a tenant id")
        if self.provider == "clever" and self.sso_only_users:
            raise ValueError(f"the Clever district {self.slug} cannot have sign-in-only people")


@dataclass(frozen=True, slots=True)
class CleverPerson:
    """Someone a Clever district rosters, as they sign in to the Clever simulator."""

    user_id: str  # their Clever user id (the simulator's `login_as`)
    display_name: str
    role: str


class Sandbox:
    """Starts the simulators and the portal, onboards and syncs the districts.

    Args:
        settings: Database, data directory and keys; the ClassLink and cookie settings are
            filled in to point at the simulators, and the Clever app's when a district is read
            from Clever (else they are left as given).
        districts: The districts to simulate.
        port: The portal's port (0: any free one).
    """

    def __init__(
        self, settings: Settings, districts: list[SandboxDistrict], *, port: int = 0
    ) -> None:
        self.base_settings = settings
        self.districts = districts
        self.port = port
        self.client_secret = secrets.token_urlsafe(24)
        self.roster = SimulatorServer()
        self.sso = SsoServer()
        self.portal: PortalServer | None = None
        self.service: Services | None = None
        self.district_ids: dict[str, str] = {}
        # (OneRoster 1.1 base URL, key, secret) of every ClassLink district, onboarded or not.
        self.roster_credentials: dict[str, tuple[str, str, str]] = {}
        # Clever's stand-in, started only for a sandbox with a Clever district; the Clever
        # district id of each Clever district, onboarded or not.
        self.clever: CleverSimulator | None = None
        self.clever_ids: dict[str, str] = {}
        for district in districts:
            district.check()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Sandbox:
        """Start everything; returns once the portal answers."""
        self.roster.start()
        self.sso.start()
        self.portal = PortalServer(port=self.port)
        update_settings: dict[str, Any] = {
            "classlink_issuer": self.sso.issuer,
            "classlink_client_id": CLIENT_ID,
            "classlink_client_secret": self.client_secret,
            "classlink_userinfo_url": f"{self.sso.url}/v2/my/info",
            "portal_base_url": self.portal.url,
            "session_cookie_secure": False,
        }
        if any(d.provider == "clever" for d in self.districts):
            update_settings.update(self._start_clever(self.portal.url))
        settings = self.base_settings.model_copy(update=update_settings)
        self.sso.add_client(
            SsoClient(CLIENT_ID, self.client_secret, f"{self.portal.url}/oauth/callback")
        )
        self.service = Services(settings)
        self.service.push.build_queue_with(lambda: _push_queue(settings, self.service))
        self.service.init_db()
        for district in self.districts:
            self._onboard(district)
        self.portal.start(create_app(self.service))
        return self

    def _start_clever(self, portal_url: str) -> dict[str, Any]:
        """Start Clever's stand-in, the vendor's Clever app registered with the portal's Clever
        callback as its one redirect URI; the portal settings that point at it."""
        self.clever = CleverSimulator(
            client_id=f"{CLIENT_ID}-clever",
            client_secret=secrets.token_urlsafe(24),
            redirect_uris=[portal_url + CLEVER_CALLBACK_PATH],
        )
        self.clever.start()
        return {
            "clever_client_id": self.clever.client_id,
            "clever_client_secret": self.clever.client_secret,
            "clever_api_url": self.clever.url,
            "clever_oauth_url": self.clever.url,
        }

    def _serve(self, district: SandboxDistrict) -> dict[str, Any]:
        """Serve the district from its provider's simulator; the onboarding answers that find
        its roster there (source, key, secret, ClassLink tenant id)."""
        if district.provider == "clever":
            # Clever serves a district once it has shared the vendor's app; the onboarding wizard
            # is given its Clever district id (`clever_ids`) by hand.
            assert self.clever is not None
            clever_id = self.clever.add_district(copy.deepcopy(district.data))
            self.clever_ids[district.slug] = clever_id
            return {"source_kind": "clever", "key": clever_id}
        sso_data = copy.deepcopy(district.data)
        sso_data.users.extend(district.sso_only_users)
        self.sso.add_tenant(SsoTenant(district.tenant_id, district.display_name, sso_data))
        # ClassLink serves a district's roster before the portal onboards it: the onboarding
        # wizard is given this URL, key and secret (`roster_credentials`) by hand.
        key, secret = f"{district.slug}-key", secrets.token_urlsafe(16)
        self.roster.add_tenant(Tenant(district.slug, district.data, key=key, secret=secret))
        url = self.roster.base_url(district.slug)
        self.roster_credentials[district.slug] = (url, key, secret)
        return {"source_url": url, "key": key, "secret": secret, "tenant_id": district.tenant_id}

    def _onboard(self, district: SandboxDistrict) -> None:
        assert self.service is not None
        source = self._serve(district)
        if not district.onboarded:
            return
        record = self.service.districts.add(
            Questionnaire(
                slug=district.slug,
                name=district.display_name.split(" – ")[0],
                display_name=district.display_name,
                city=district.slug.title(),
                state="IL",
                **source,
                data_manager_emails=list(district.data_manager_emails),
                eligibility_source=district.eligibility_source,
                eligibility_field="eligibility"
                if district.eligibility_source == "metadata"
                else None,
            )
        )
        self.district_ids[district.slug] = record.id
        report = self.service.runs.sync(district.slug, trigger="sandbox")
        if report.status != "succeeded":
            raise RuntimeError(f"the sandbox sync of {district.slug} failed: {report.error}")
        if district.live:
            # Going live is the workflow feature's step; the sandbox only needs its outcome.
            with self.service.engine.begin() as conn:
                conn.execute(
                    update(districts).where(districts.c.id == record.id).values(status="live")
                )

    def fresh_relying_party(self, **overrides: Any) -> RelyingParty:
        """Give the portal a new relying party (empty key cache); returns it."""
        assert self.service is not None and self.portal is not None
        settings = self.service.settings
        options: dict[str, Any] = {
            "issuer": settings.classlink_issuer,
            "client_id": settings.classlink_client_id,
            "client_secret": settings.classlink_client_secret,
            "redirect_uri": f"{self.portal.url}/oauth/callback",
            "userinfo_url": settings.classlink_userinfo_url,
            "timeout": settings.sso_timeout_seconds,
        }
        options.update(overrides)
        rp = RelyingParty(**options)
        self.service.use_relying_party(rp)
        return rp

    def clever_people(self, slug: str, role: str) -> list[CleverPerson]:
        """A Clever district's active people of a OneRoster role ("student", "teacher"), in
        roster order, with the Clever user ids they sign in to the Clever simulator with."""
        district = next(d for d in self.districts if d.slug == slug)
        clever_id = self.clever_ids[slug]
        return [
            CleverPerson(
                user_id=user_id_for(clever_id, user["sourcedId"]),
                display_name=f"{user.get('givenName', '')} {user.get('familyName', '')}".strip(),
                role=role,
            )
            for user in district.data.users
            if user.get("role") == role and user.get("status", "active") == "active"
        ]

    @property
    def url(self) -> str:
        assert self.portal is not None
        return self.portal.url

    def stop(self) -> None:
        """Stop the portal and the simulators."""
        if self.portal is not None:
            self.portal.stop()
        if self.service is not None:
            self.service.signin.close()
            self.service.close()
        self.sso.stop()
        self.roster.stop()
        if self.clever is not None:
            self.clever.stop()


def _push_queue(settings: Settings, service: Services | None) -> JobQueue:
    """The queue the sandbox portal sends pushed bundles to, as `rostersync serve` does."""
    from rostersync.jobs.queue import JobQueue

    return JobQueue(settings, service=service, periodic=False)
