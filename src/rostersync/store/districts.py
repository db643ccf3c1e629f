"""Districts and their integration: onboarding answers and encrypted source credentials.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row, insert, or_, select, update
from sqlalchemy.engine import Connection

from rostersync.domain.questionnaire import Questionnaire
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.errors import ConfigError, NotFoundError
from rostersync.store import delta as store_delta
from rostersync.store.credentials import SourceIdentity, open_credential, seal_credential
from rostersync.store.secrets import SecretBox
from rostersync.store.tables import districts, integrations


@dataclass(frozen=True, slots=True, kw_only=True)
class DistrictRecord:
    """A district as the portal knows it."""

    id: str
    slug: str
    name: str
    display_name: str
    city: str
    state: str
    classlink_tenant_id: str | None
    status: str
    go_live_date: date | None
    time_zone: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class IntegrationRecord:
    """A district's questionnaire answers and source, without its credentials.

    The encrypted key and secret are not carried at all, so a record can be printed, logged or
    rendered as JSON safely; only `get_credentials` reads and decrypts them.
    """

    district_id: str
    source_kind: str
    source_url: str
    data_manager_emails: tuple[str, ...]
    grades_provided: bool
    unique_emails_provided: bool
    student_id_field: str
    eligibility_source: str
    eligibility_field: str | None
    sync_frequency: str
    sync_days: tuple[str, ...]
    sync_interval_days: int | None
    sync_time: str
    go_live_date: date | None
    updated_at: datetime


_DISTRICT_COLUMNS = [districts.c[name] for name in DistrictRecord.__dataclass_fields__]
_INTEGRATION_COLUMNS = [integrations.c[name] for name in IntegrationRecord.__dataclass_fields__]


def create_district(
    conn: Connection,
    box: SecretBox,
    answers: Questionnaire,
    *,
    now: datetime | None = None,
) -> DistrictRecord:
    """Onboard a district: its record and its integration, credentials encrypted with `box`.

    Args:
        conn: A connection; the caller commits.
        box: Encrypts the source key and secret.
        answers: The district's onboarding answers, stored as given (checked by the caller;
            the sync rules are checked again here).
        now: When the district was created (defaults to the current time).

    Returns:
        The new district, status "onboarding".

    Raises:
        ConfigError: The slug is taken, or the answers cannot make valid sync rules.
    """
    existing = conn.execute(select(districts.c.id).where(districts.c.slug == answers.slug)).first()
    if existing is not None:
        raise ConfigError(
            f"a district with slug {answers.slug!r} already exists; choose another slug, or see "
            f"it with `rostersync district show {answers.slug}`"
        )
    # Refuse answers the sync could not follow now, not at the first scheduled sync.
    _rules(
        answers.grades_provided,
        answers.unique_emails_provided,
        answers.student_id_field,
        answers.eligibility_source,
        answers.eligibility_field,
    )
    now = now or datetime.now(UTC)
    district_id = str(uuid.uuid4())
    source = SourceIdentity.of(answers.source_kind, answers.source_url)
    conn.execute(
        insert(districts).values(
            id=district_id,
            slug=answers.slug,
            name=answers.name,
            display_name=answers.display_name,
            city=answers.city,
            state=answers.state,
            classlink_tenant_id=answers.tenant_id,
            status="onboarding",
            go_live_date=answers.go_live_date,
            time_zone=answers.time_zone,
            created_at=now,
        )
    )
    conn.execute(
        insert(integrations).values(
            district_id=district_id,
            source_kind=answers.source_kind,
            source_url=answers.source_url,
            key_ciphertext=seal_credential(box, answers.key, source),
            secret_ciphertext=seal_credential(box, answers.secret, source),
            data_manager_emails=list(answers.data_manager_emails),
            grades_provided=answers.grades_provided,
            unique_emails_provided=answers.unique_emails_provided,
            student_id_field=answers.student_id_field,
            eligibility_source=answers.eligibility_source,
            eligibility_field=answers.eligibility_field,
            sync_frequency=answers.sync_frequency,
            sync_days=list(answers.sync_days),
            sync_interval_days=answers.sync_interval_days,
            sync_time=answers.sync_time,
            go_live_date=answers.go_live_date,
            updated_at=now,
        )
    )
    return get_district(conn, district_id)


def get_questionnaire(
    conn: Connection, slug_or_id: str, box: SecretBox | None = None
) -> Questionnaire:
    """A district's answers as they are stored; its key and secret only when `box` is given.

    Raises:
        NotFoundError: No such district.
    """
    district = get_district(conn, slug_or_id)
    integration = get_integration(conn, district.id)
    key, secret = get_credentials(conn, box, district.id) if box is not None else ("", "")
    return Questionnaire(
        slug=district.slug,
        name=district.name,
        display_name=district.display_name,
        city=district.city,
        state=district.state,
        source_url=integration.source_url,
        key=key,
        secret=secret,
        source_kind=integration.source_kind,
        time_zone=district.time_zone,
        tenant_id=district.classlink_tenant_id,
        data_manager_emails=list(integration.data_manager_emails),
        grades_provided=integration.grades_provided,
        unique_emails_provided=integration.unique_emails_provided,
        student_id_field=integration.student_id_field,
        eligibility_source=integration.eligibility_source,
        eligibility_field=integration.eligibility_field,
        sync_frequency=integration.sync_frequency,
        sync_days=list(integration.sync_days),
        sync_interval_days=integration.sync_interval_days,
        sync_time=integration.sync_time,
        go_live_date=district.go_live_date,
    )


def get_district(conn: Connection, slug_or_id: str) -> DistrictRecord:
    """Find a district by its slug or its id.

    Raises:
        NotFoundError: No such district.
    """
    row = conn.execute(
        select(*_DISTRICT_COLUMNS).where(
            or_(districts.c.slug == slug_or_id, districts.c.id == slug_or_id)
        )
    ).first()
    if row is None:
        raise NotFoundError(
            f"no district {slug_or_id!r}; `rostersync district list` shows the districts"
        )
    return DistrictRecord(**row._mapping)


def list_districts(conn: Connection) -> list[DistrictRecord]:
    """Every district, by slug."""
    rows = conn.execute(select(*_DISTRICT_COLUMNS).order_by(districts.c.slug))
    return [DistrictRecord(**row._mapping) for row in rows]


def get_integration(conn: Connection, district_id: str) -> IntegrationRecord:
    """A district's integration settings (without credentials).

    Raises:
        NotFoundError: The district has no integration.
    """
    row = conn.execute(
        select(*_INTEGRATION_COLUMNS).where(integrations.c.district_id == district_id)
    ).first()
    if row is None:
        raise NotFoundError(
            f"district {district_id!r} has no integration; `rostersync district list` shows the "
            "districts"
        )
    return _integration(row)


def get_credentials(conn: Connection, box: SecretBox, district_id: str) -> tuple[str, str]:
    """Decrypt a district's source key and secret, for the source it names now.

    The one way credentials leave the database: they come out only while the district's source
    (kind, scheme, host, port, path) is the one they were entered for (`store.credentials`).

    Returns:
        (key, secret).

    Raises:
        NotFoundError: The district has no integration.
        CredentialNotForSource: They were entered for another source than the one stored now.
        ConfigError: The configured keys cannot decrypt the stored credentials.
    """
    row = conn.execute(
        select(
            integrations.c.source_kind,
            integrations.c.source_url,
            integrations.c.key_ciphertext,
            integrations.c.secret_ciphertext,
        ).where(integrations.c.district_id == district_id)
    ).first()
    if row is None:
        raise NotFoundError(
            f"district {district_id!r} has no stored credentials; `rostersync district list` "
            "shows the districts"
        )
    source = SourceIdentity.of(row.source_kind, row.source_url)
    return (
        open_credential(box, row.key_ciphertext, source),
        open_credential(box, row.secret_ciphertext, source),
    )


def rules_for(integration: IntegrationRecord) -> DistrictRules:
    """The validation and provisioning rules a district's answers amount to.

    Raises:
        ConfigError: The stored answers are inconsistent (edited by hand, say).
    """
    return _rules(
        integration.grades_provided,
        integration.unique_emails_provided,
        integration.student_id_field,
        integration.eligibility_source,
        integration.eligibility_field,
    )


def _rules(
    grades_provided: bool,
    unique_emails: bool,
    student_id_field: str,
    eligibility_source: str,
    eligibility_field: str | None,
) -> DistrictRules:
    try:
        return DistrictRules(
            grades_provided=grades_provided,
            unique_emails=unique_emails,
            student_id_field=student_id_field,
            eligibility_source=EligibilitySource(eligibility_source),
            eligibility_field=eligibility_field,
        )
    except ValueError as exc:
        raise ConfigError(f"the district's sync answers are not usable: {exc}") from None


def _integration(row: Row[Any]) -> IntegrationRecord:
    values = dict(row._mapping)
    values["data_manager_emails"] = tuple(values["data_manager_emails"] or ())
    values["sync_days"] = tuple(values["sync_days"] or ())
    return IntegrationRecord(**values)


# Onboarding wizard: answers edited step by step after the district was created -----------------
# Columns a wizard step may change, by table; anything else (ids, status, credentials) has its own
# path, so a form can never reach it.
DISTRICT_FIELDS = frozenset(
    {"name", "display_name", "city", "state", "time_zone", "classlink_tenant_id", "go_live_date"}
)
INTEGRATION_FIELDS = frozenset(
    {
        "data_manager_emails",
        "grades_provided",
        "unique_emails_provided",
        "student_id_field",
        "eligibility_source",
        "eligibility_field",
        "sync_frequency",
        "sync_days",
        "sync_interval_days",
        "sync_time",
        "go_live_date",
    }
)


def update_district(conn: Connection, district_id: str, **values: Any) -> list[str]:
    """Change a district's own answers (name, display name, place, zone, tenant, go-live date).

    Args:
        conn: A connection; the caller commits (and audits).
        district_id: The district.
        **values: Columns of `DISTRICT_FIELDS` and their new values.

    Returns:
        The names of the columns whose value actually changed, sorted (for the audit row).

    Raises:
        ConfigError: A column that is not a district answer.
        NotFoundError: No such district.
    """
    _only(values, DISTRICT_FIELDS, "district")
    current = get_district(conn, district_id)
    changed = sorted(k for k, v in values.items() if getattr(current, k) != v)
    if changed:
        conn.execute(
            update(districts)
            .where(districts.c.id == district_id)
            .values({k: values[k] for k in changed})
        )
    return changed


def update_integration(
    conn: Connection, district_id: str, *, now: datetime | None = None, **values: Any
) -> list[str]:
    """Change a district's questionnaire answers and schedule (never its source or credentials).

    The answers after the change must still make valid sync rules, so a later sync can follow
    them; otherwise nothing is written.

    Args:
        conn: A connection; the caller commits (and audits).
        district_id: The district.
        now: When the change happened (defaults to the current time).
        **values: Columns of `INTEGRATION_FIELDS` and their new values.

    Returns:
        The names of the columns whose value actually changed, sorted (for the audit row).

    Raises:
        ConfigError: A column that is not an answer, or answers that make no valid rules.
        NotFoundError: The district has no integration.
    """
    _only(values, INTEGRATION_FIELDS, "integration")
    current = get_integration(conn, district_id)
    merged = {name: getattr(current, name) for name in INTEGRATION_FIELDS}
    for name, value in values.items():
        merged[name] = tuple(value) if name in ("data_manager_emails", "sync_days") else value
    _rules(
        merged["grades_provided"],
        merged["unique_emails_provided"],
        merged["student_id_field"],
        merged["eligibility_source"],
        merged["eligibility_field"],
    )
    changed = sorted(k for k in values if getattr(current, k) != merged[k])
    if changed:
        row = {k: list(v) if isinstance(v, tuple) else v for k, v in merged.items() if k in changed}
        conn.execute(
            update(integrations)
            .where(integrations.c.district_id == district_id)
            .values(**row, updated_at=now or datetime.now(UTC))
        )
    return changed


def update_credentials(
    conn: Connection,
    box: SecretBox,
    district_id: str,
    *,
    source_kind: str,
    source_url: str,
    key: str,
    secret: str,
    now: datetime | None = None,
) -> None:
    """Replace a district's source and its credentials, the key and secret encrypted with `box`.

    Args:
        conn: A connection; the caller commits (and audits, without the key or secret).
        box: Encrypts the key and secret.
        district_id: The district.
        source_kind: Which door (`oneroster-1.1`, `oneroster-1.2`, `classlink-proxy`, …).
        source_url: The source's base URL ("" for a kind that needs none).
        key: The key in plain text ("" for a kind that needs none).
        secret: The secret in plain text ("" for a kind that needs none).
        now: When the change happened (defaults to the current time).

    A change of kind (ClassLink to Clever, …) also forgets the district's last full sync
    (`store.delta.forget_full_sync`): deltas wait for the new source's first full sync, which
    may relink every account by student ID and email.

    Raises:
        NotFoundError: The district has no integration.
    """
    before = get_integration(conn, district_id)
    source = SourceIdentity.of(source_kind, source_url)
    if before.source_kind != source_kind:
        # Another provider's ids: its first full sync matches people afresh (decision 0043).
        store_delta.forget_full_sync(conn, district_id, now=now or datetime.now(UTC))
    conn.execute(
        update(integrations)
        .where(integrations.c.district_id == district_id)
        .values(
            source_kind=source_kind,
            source_url=source_url,
            key_ciphertext=seal_credential(box, key, source),
            secret_ciphertext=seal_credential(box, secret, source),
            updated_at=now or datetime.now(UTC),
        )
    )


def _only(values: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(
            f"{', '.join(unknown)} cannot be changed as a {what} answer; the fields that can are "
            f"{', '.join(sorted(allowed))}"
        )
