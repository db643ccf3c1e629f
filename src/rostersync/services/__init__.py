"""rostersync's feature services, composed once.

`Services` is the one place the feature services are made over one configuration: the CLI, the
web app and the job queue's workers all build it and call only its services.

    services = Services(settings)
    services.runs.sync("springfield")
    services.onboarding.start(answers, actor="vendor@example.com")

Each service is one unit of work per method, in its own transaction:

- `districts`: the districts, their settings, their schedules, going live
- `runs`: syncs, previews, approvals, discards, deltas, background runs, what a run left
- `onboarding`: the wizard's steps, from questionnaire to live
- `push`: push keys and pushed bundles
- `imports`: staff spreadsheets and accounts made by hand
- `staff`: staff accounts, sessions, TOTP, invitations (`rostersync.staff`)
- `signin`: ClassLink sign-in and the people's portal (`rostersync.signin`)
- `clever_signin`: Clever sign-in for districts read from Clever (`signin.clever_portal`)
- `privacy`: a student's export, a district's purge
- `records`: search a district's people, classes and schools; one record read whole
"""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.engine import Engine

from rostersync.config import Settings
from rostersync.domain.questionnaire import SYNC_FREQUENCIES, Questionnaire
from rostersync.providers import classlink_proxy, none
from rostersync.providers import push as push_provider
from rostersync.services.context import ServiceContext
from rostersync.services.districts import Districts
from rostersync.services.imports import Imports
from rostersync.services.onboarding import Onboarding
from rostersync.services.privacy import Privacy
from rostersync.services.push import Pushes
from rostersync.services.records import Records
from rostersync.services.runs import Runs
from rostersync.signin.clever_portal import CleverSignIn
from rostersync.signin.oidc import RelyingParty
from rostersync.signin.portal import Portal
from rostersync.staff.accounts import StaffAuth
from rostersync.store.db import create_engine_for, migrate
from rostersync.store.secrets import SecretBox

# Source kinds are the providers' (`rostersync.providers`); these names are kept for callers.
PUSH_SOURCE_KIND = push_provider.KIND
PENDING_SOURCE_KIND = none.PENDING_KIND
PROXY_SOURCE_KIND = classlink_proxy.KIND


class Services:
    """Every feature service over one database, made once.

    Args:
        settings: The configuration.
        engine: Use this engine instead of one made from `settings.database_url`.
    """

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.context = ServiceContext(
            settings=settings,
            engine=engine or create_engine_for(settings.resolved_database_url),
            box=SecretBox(settings.encryption_keys()),
        )
        self.districts = Districts(self.context)
        self.runs = Runs(self.context)
        self.push = Pushes(self.context, self.runs)
        self.onboarding = Onboarding(self.context, self.push)
        self.imports = Imports(self.context)
        self.privacy = Privacy(self.context)
        self.records = Records(self.context)
        self.signin = Portal(self.context.engine, settings)
        # One sweep schedule for both sign-ins' logins, whichever `signin` is current.
        self.clever_signin = CleverSignIn(
            self.context.engine,
            settings,
            self.context.box,
            sweep_due=lambda: self.signin.sweep_due(),
        )

    @cached_property
    def staff(self) -> StaffAuth:
        """Staff accounts and sign-in, made on first use (its password hasher costs a hash)."""
        return StaffAuth(self.context.engine, self.context.settings)

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @property
    def engine(self) -> Engine:
        return self.context.engine

    @property
    def box(self) -> SecretBox:
        return self.context.box

    def init_db(self) -> None:
        """Create or upgrade the database schema (Alembic migrations)."""
        migrate(self.context.engine)

    def use_relying_party(self, relying_party: RelyingParty) -> None:
        """Sign people in through this ClassLink relying party instead of one built from the
        settings (tests and the demo, which point at the ClassLink simulator)."""
        self.signin.close()
        self.signin = Portal(self.context.engine, self.context.settings, relying_party)

    def close(self) -> None:
        self.runs.close()
        self.signin.close()
        self.clever_signin.close()
        self.context.engine.dispose()


__all__ = [
    "PENDING_SOURCE_KIND",
    "PROXY_SOURCE_KIND",
    "PUSH_SOURCE_KIND",
    "SYNC_FREQUENCIES",
    "Questionnaire",
    "Services",
]
