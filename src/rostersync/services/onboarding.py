"""The onboarding wizard: a district's answers, its source, its schedule, its go-live date.

The wizard (web/onboarding.py) saves one step at a time. Each save is checked with the same
`Questionnaire.check` as `Districts.add`, written with its audit row in one transaction (the row
names the fields, never a key, secret, name or email), and the audit rows are read back as the
wizard's progress, so a half-onboarded district resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import structlog
from sqlalchemy.engine import Connection

from rostersync.domain.questionnaire import Questionnaire
from rostersync.errors import ConfigError, CredentialNotForSource, NotFoundError, SourceError
from rostersync.providers import PROVIDERS, Provider, SourceConfig, none, push
from rostersync.services.answers import check as answers_check
from rostersync.services.answers import check_usable
from rostersync.services.context import ServiceContext, today_in
from rostersync.services.push import Pushes
from rostersync.store import districts as store_districts
from rostersync.store import onboarding_log
from rostersync.store import runs as store_runs
from rostersync.store import workflow as store_workflow
from rostersync.store.credentials import SourceIdentity

_log = structlog.get_logger(__name__)

# The slug is typed on the command line and in URLs.
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class ConnectionTest:
    """What a Test connection found: a sentence when the source answered, or why not."""

    outcome: str = ""
    failure: SourceError | ConfigError | None = None


class Onboarding:
    """A district's way from its questionnaire to live, one wizard step at a time."""

    def __init__(self, context: ServiceContext, pushes: Pushes) -> None:
        self._context = context
        self._engine = context.engine
        self._pushes = pushes

    def start(self, answers: Questionnaire, actor: str) -> store_districts.DistrictRecord:
        """Create a district from the wizard's questionnaire; its source stays `pending`.

        Args:
            answers: The questionnaire's answers (any source fields are ignored).
            actor: The staff member, for the audit log.

        Raises:
            ConfigError: The answers cannot work, or the slug is malformed or taken.
        """
        if not _SLUG.fullmatch(answers.slug):
            raise ConfigError(
                f"slug {answers.slug!r} must be 1 to 64 lower-case letters, digits or hyphens, "
                "e.g. springfield-il"
            )
        answers.source_kind, answers.source_url, answers.key, answers.secret = (
            none.PENDING_KIND,
            "",
            "",
            "",
        )
        check_usable(answers)
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            record = store_districts.create_district(conn, self._context.box, answers, now=now)
            store_workflow.audit(
                conn,
                district_id=record.id,
                run_id=None,
                actor=actor,
                action="onboarding_answers",
                entity_type="district",
                entity_id=record.id,
                changes={"created": True, "source_kind": none.PENDING_KIND},
                now=now,
            )
        _log.info("onboarding.started", district_id=record.id)
        return record

    def answers(self, slug_or_id: str) -> Questionnaire:
        """A district's current answers, without its key and secret."""
        with self._engine.connect() as conn:
            return self._current(conn, slug_or_id, credentials=False)

    def update(self, slug_or_id: str, actor: str, *, step: str, **answers: object) -> list[str]:
        """Save the questionnaire or schedule step of the wizard for an existing district.

        The district's answers after the change must pass `Questionnaire.check_usable`;
        otherwise nothing is written.

        Args:
            slug_or_id: The district.
            actor: The staff member, for the audit log.
            step: "answers" or "schedule" (the audit action is `onboarding_<step>`).
            **answers: `Questionnaire` fields and their new values (not the slug, source or
                credentials, which have their own steps).

        Returns:
            The names of the fields that changed.

        Raises:
            ConfigError: The answers cannot work, or name a field this step cannot change.
            NotFoundError: No such district.
        """
        if step not in ("answers", "schedule"):
            raise ConfigError(f"onboarding step {step!r} is not 'answers' or 'schedule'")
        fixed = {"slug", "source_kind", "source_url", "key", "secret"} & set(answers)
        if fixed:
            raise ConfigError(
                f"{', '.join(sorted(fixed))} cannot be changed here: the slug is fixed, and the "
                "source and credentials are changed in the wizard's source step"
            )
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            current = self._current(conn, slug_or_id, credentials=True)
            for name, value in answers.items():
                setattr(current, name, value)
            check_usable(current)
            district = store_districts.get_district(conn, slug_or_id)
            on_district = {
                ("classlink_tenant_id" if k == "tenant_id" else k): v
                for k, v in answers.items()
                if k in ("tenant_id", *store_districts.DISTRICT_FIELDS)
            }
            on_integration = {
                k: v for k, v in answers.items() if k in store_districts.INTEGRATION_FIELDS
            }
            changed = store_districts.update_district(conn, district.id, **on_district)
            changed += store_districts.update_integration(
                conn, district.id, now=now, **on_integration
            )
            changed = sorted(set(changed))
            store_workflow.audit(
                conn,
                district_id=district.id,
                run_id=None,
                actor=actor,
                action=f"onboarding_{step}",
                entity_type="district",
                entity_id=district.id,
                changes={"fields": changed},
                now=now,
            )
        return changed

    def set_source(
        self,
        slug_or_id: str,
        actor: str,
        *,
        source_kind: str,
        source_url: str,
        key: str = "",
        secret: str = "",
        test: bool = False,
    ) -> ConnectionTest | None:
        """Save where a district's roster comes from and its key and secret (or only its key: a
        ClassLink tenant id, a Clever district id).

        An empty key or secret keeps the one stored (the wizard never shows them again) only
        while the source stays exactly the same: a changed kind, scheme, host, port or path needs
        the secret typed again in the same call, because a stored secret is only ever sent to
        the source it was entered for (decision 0018). Both are stored encrypted and sealed to
        the source; the audit row says only that they were replaced.

        With `test` (the wizard's Test connection), the new source is tried as `test_source`
        tries it, before it is written; it is saved either way, and its audit row records
        whether the connection worked (`connection`), which `progress` reads.

        Returns:
            With `test`, what the connection test found; otherwise None.

        Raises:
            CredentialNotForSource: The source changed and the secret was not typed again.
            ConfigError: Not a pulled source kind, or a URL, key or secret is missing.
            NotFoundError: No such district.
        """
        kinds = PROVIDERS.pulling_kinds()
        if source_kind not in kinds:
            raise ConfigError(
                f"source kind {source_kind!r} is not one of {', '.join(kinds)}; a district that "
                "pushes OneRoster files chooses that option instead"
            )
        provider = PROVIDERS.pulling(source_kind)
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            current = self._current(conn, slug_or_id, credentials=True)
            stored = SourceIdentity.of(current.source_kind, current.source_url)
            if not provider.needs_url:
                source_url = ""  # e.g. the proxy's address is the vendor's setting
            if not provider.asks_secret:
                # No secret is the district's (the proxy's partner key is the vendor's), and a
                # key stored for another kind means nothing here: a new kind needs its key.
                current.secret = ""
                if stored.kind != source_kind and not key.strip():
                    raise ConfigError(provider.new_key_needed)
            elif stored != SourceIdentity.of(source_kind, source_url) and not secret.strip():
                raise CredentialNotForSource(
                    f"the source changed ({stored.describe()} before); type the secret again: a "
                    "stored secret is only sent to the source it was entered for"
                )
            current.source_kind, current.source_url = source_kind, source_url.strip()
            replaced = [name for name, value in (("key", key), ("secret", secret)) if value]
            current.key = key.strip() or current.key
            current.secret = secret.strip() or current.secret
            answers_check(current)
            district = store_districts.get_district(conn, slug_or_id)
            changes: dict[str, Any] = {
                "source_kind": current.source_kind,
                "source_url": current.source_url,
                "credentials_replaced": replaced,
            }
            tested = None
            if test:
                candidate = dataclasses.replace(
                    store_districts.get_integration(conn, district.id),
                    source_kind=current.source_kind,
                    source_url=current.source_url,
                )
                tested = self._try(provider, candidate, current.key, current.secret)
                changes["connection"] = "failed" if tested.failure else "works"
                _log.info(
                    "onboarding.source_tested", district_id=district.id, ok=not tested.failure
                )
            self._replace_source(conn, district.id, current, actor=actor, now=now, changes=changes)
        return tested

    def _try(
        self, provider: Provider, integration: SourceConfig, key: str, secret: str
    ) -> ConnectionTest:
        try:
            outcome = provider.test_connection(integration, key, secret, self._context.settings)
        except (SourceError, ConfigError) as exc:
            return ConnectionTest(failure=exc)
        return ConnectionTest(outcome=outcome)

    def test_source(self, slug_or_id: str, actor: str = "system") -> str:
        """Try a district's stored source: authenticate and read one page of its orgs.

        One request (a page of one org), no retries and a short timeout, so a wrong URL or
        credential answers within seconds. Only a success is written: an audit row
        `onboarding_source_tested` (the host, never a key or secret), which `progress` reads as
        the source step done until the source is saved again.

        Returns:
            What was reached, in a sentence (the host and the first org's name).

        Raises:
            ConfigError: No pulled source saved yet, or its URL or settings are unusable.
            SourceAuthError: The source refused the credentials (`.credential` says which).
            SourceError: The source could not be reached or answered something unusable.
        """
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            integration = store_districts.get_integration(conn, district.id)
            if integration.source_kind not in PROVIDERS.pulling_kinds():
                raise ConfigError(
                    f"{district.display_name} has no roster source to test yet: choose the "
                    "source and enter what it needs (a URL, key and secret; a tenant id; a Clever "
                    "district id) first"
                )
            key, secret = store_districts.get_credentials(conn, self._context.box, district.id)
        provider = PROVIDERS.pulling(integration.source_kind)
        outcome = provider.test_connection(integration, key, secret, self._context.settings)
        with self._engine.begin() as conn:
            store_workflow.audit(
                conn,
                district_id=district.id,
                run_id=None,
                actor=actor,
                action="onboarding_source_tested",
                entity_type="integration",
                entity_id=district.id,
                changes={"source_kind": integration.source_kind, "connected": True},
                now=datetime.now(UTC),
            )
        _log.info("onboarding.source_tested", district_id=district.id, ok=True)
        return outcome

    def use_push_source(self, slug_or_id: str, actor: str) -> tuple[str, str] | None:
        """Make a district push OneRoster files to us instead of our pulling from ClassLink.

        Returns:
            The push key and secret, shown once; None if the district has its push key already
            (`rotate_push_key` makes a new one).
        """
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            current = self._current(conn, slug_or_id, credentials=False)
            current.source_kind, current.source_url = push.KIND, ""  # no key: we issue one
            district = store_districts.get_district(conn, slug_or_id)
            self._replace_source(
                conn,
                district.id,
                current,
                actor=actor,
                now=now,
                changes={"source_kind": push.KIND},
            )
        try:
            return self._pushes.issue_credentials(district.slug, actor)
        except ConfigError:
            return None  # it has a push key already: only a rotation shows a new secret

    def rotate_push_key(self, slug_or_id: str, actor: str) -> tuple[str, str]:
        """A new push key and secret for a pushing district, shown once; the old ones stop.

        Raises:
            ConfigError: The district does not push files (choose that source first).
        """
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            kind = store_districts.get_integration(conn, district.id).source_kind
        if kind != push.KIND:
            raise ConfigError(
                f"{district.display_name} does not push OneRoster files: choose that source in "
                "the wizard's source step first"
            )
        try:
            return self._pushes.rotate_credentials(district.slug, actor)
        except NotFoundError:
            return self._pushes.issue_credentials(district.slug, actor)

    def set_go_live_date(self, slug_or_id: str, actor: str, when: date) -> None:
        """Let a district's people sign in from `when` on (the scheduler sets it live then).

        Raises:
            ConfigError: The date is already past in the district's time zone.
        """
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            if when < today_in(district.time_zone):
                raise ConfigError(
                    f"the go-live date {when.isoformat()} is already past in "
                    f"{district.time_zone}: choose today or a later date, or go live now"
                )
            store_districts.update_district(conn, district.id, go_live_date=when)
            store_districts.update_integration(conn, district.id, now=now, go_live_date=when)
            store_workflow.audit(
                conn,
                district_id=district.id,
                run_id=None,
                actor=actor,
                action="onboarding_go_live",
                entity_type="district",
                entity_id=district.id,
                changes={"go_live_date": when.isoformat()},
                now=now,
            )

    def progress(self, slug_or_id: str) -> dict[str, bool]:
        """Which wizard steps a district has done: answers, source, schedule, approved, live.

        `source` is done once the source works: a ClassLink source by a successful Test
        connection when it was last saved or since (or, set outside the wizard, by an applied
        sync), a pushing district by choosing to push. A pushing district needs no schedule
        (its files are synced as they arrive), so `schedule` is done for it. `source_saved`
        says a source was chosen at all, tested or not (where resuming the wizard goes on from).
        """
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            integration = store_districts.get_integration(conn, district.id)
            steps = onboarding_log.newest_steps(conn, district.id)
            runs = store_runs.list_runs(conn, district.id, 50)
        approved = any(r.mode == "apply" and r.status == "succeeded" for r in runs)
        kind = integration.source_kind
        pushes = kind == push.KIND
        saved, tested = steps.get("onboarding_source"), steps.get("onboarding_source_tested")
        if kind == none.PENDING_KIND:
            source = False
        elif pushes:
            source = True
        elif saved is None:
            source = tested is not None or approved
        else:
            source = saved.changes.get("connection") == "works" or (
                tested is not None and tested.order > saved.order
            )
        return {
            "answers": True,
            "source": source,
            "source_saved": kind != none.PENDING_KIND,
            "schedule": pushes or "onboarding_schedule" in steps,
            "approved": approved,
            "live": district.status == "live",
        }

    def _replace_source(
        self,
        conn: Connection,
        district_id: str,
        answers: Questionnaire,
        *,
        actor: str,
        now: datetime,
        changes: dict[str, Any],
    ) -> None:
        """Store a district's source (credentials encrypted) and audit it without the secrets."""
        store_districts.update_credentials(
            conn,
            self._context.box,
            district_id,
            source_kind=answers.source_kind,
            source_url=answers.source_url,
            key=answers.key,
            secret=answers.secret,
            now=now,
        )
        store_workflow.audit(
            conn,
            district_id=district_id,
            run_id=None,
            actor=actor,
            action="onboarding_source",
            entity_type="integration",
            entity_id=district_id,
            changes=changes,
            now=now,
        )

    def _current(self, conn: Connection, slug_or_id: str, *, credentials: bool) -> Questionnaire:
        box = self._context.box if credentials else None
        return store_districts.get_questionnaire(conn, slug_or_id, box)
