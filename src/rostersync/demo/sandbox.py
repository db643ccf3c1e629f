"""A whole sign-in world on loopback: ClassLink's OneRoster and SSO simulators, and the portal.

The integration and browser tests, and `rostersync demo --serve`, build the same thing: districts
generated, served by the OneRoster simulator, onboarded and synced into the portal, set live, and
their people able to sign in through the SSO simulator.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from rostersync.config import Settings
from rostersync.services import Questionnaire, Services
from rostersync.signin.oidc import RelyingParty
from rostersync.simulator import DistrictData, SimulatorServer, Tenant
from rostersync.simulator.sso import SsoClient, SsoServer, SsoTenant
from rostersync.store.tables import districts
from rostersync.web.app import create_app
from rostersync.web.server import PortalServer

if TYPE_CHECKING:
    from rostersync.jobs.queue import JobQueue

CLIENT_ID = "educator-portal"


@dataclass(slots=True, kw_only=True)
class SandboxDistrict:
    """One simulated district and how it is onboarded."""

    slug: str
    tenant_id: str
    display_name: str
    data: DistrictData
    live: bool = True
    onboarded: bool = True
    eligibility_source: str = "portal"
    # Who receives the district's emails (summaries, held syncs); none when empty.
    data_manager_emails: list[str] = field(default_factory=list)
    # People ClassLink knows but the roster does not (yet): the SSO side gets them, the sync not.
    sso_only_users: list[dict[str, Any]] = field(default_factory=list)


class Sandbox:
    """Starts the simulators and the portal, onboards and syncs the districts.

    Args:
        settings: Database, data directory and keys; the ClassLink and cookie settings are
            filled in to point at the simulators.
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
        # (OneRoster 1.1 base URL, key, secret) of every simulated district, onboarded or not.
        self.roster_credentials: dict[str, tuple[str, str, str]] = {}

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Sandbox:
        """Start everything; returns once the portal answers."""
        self.roster.start()
        self.sso.start()
        self.portal = PortalServer(port=self.port)
        settings = self.base_settings.model_copy(
            update={
                "classlink_issuer": self.sso.issuer,
                "classlink_client_id": CLIENT_ID,
                "classlink_client_secret": self.client_secret,
                "classlink_userinfo_url": f"{self.sso.url}/v2/my/info",
                "portal_base_url": self.portal.url,
                "session_cookie_secure": False,
            }
        )
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

    def _onboard(self, district: SandboxDistrict) -> None:
        assert self.service is not None
        sso_data = copy.deepcopy(district.data)
        sso_data.users.extend(district.sso_only_users)
        self.sso.add_tenant(SsoTenant(district.tenant_id, district.display_name, sso_data))
        # ClassLink serves a district's roster before the portal onboards it: the onboarding
        # wizard is given this URL, key and secret (`roster_credentials`) by hand.
        key, secret = f"{district.slug}-key", secrets.token_urlsafe(16)
        self.roster.add_tenant(Tenant(district.slug, district.data, key=key, secret=secret))
        self.roster_credentials[district.slug] = (self.roster.base_url(district.slug), key, secret)
        if not district.onboarded:
            return
        record = self.service.districts.add(
            Questionnaire(
                slug=district.slug,
                name=district.display_name.split(" – ")[0],
                display_name=district.display_name,
                city=district.slug.title(),
                state="IL",
                source_url=self.roster.base_url(district.slug),
                key=key,
                secret=secret,
                tenant_id=district.tenant_id,
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

    @property
    def url(self) -> str:
        assert self.portal is not None
        return self.portal.url

    def stop(self) -> None:
        """Stop the portal and both simulators."""
        if self.portal is not None:
            self.portal.stop()
        if self.service is not None:
            self.service.signin.close()
            self.service.close()
        self.sso.stop()
        self.roster.stop()


def _push_queue(settings: Settings, service: Services | None) -> JobQueue:
    """The queue the sandbox portal sends pushed bundles to, as `rostersync serve` does."""
    from rostersync.jobs.queue import JobQueue

    return JobQueue(settings, service=service, periodic=False)
