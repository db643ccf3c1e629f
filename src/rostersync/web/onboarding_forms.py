"""The onboarding wizard's forms: what each step posts, parsed into typed answers.

Every parser returns (answers, errors): one message per field, shown next to it by the page. The
source step's fields are its provider's (`rostersync.providers`); a failed connection test is
explained here in words a person can act on, never with what the server's network holds.
"""

# No `from __future__ import annotations`: FastAPI reads the forms' annotations at runtime.
import re
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from rostersync.domain.issue_groups import Audience
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.schedule import DAY_NAMES, MAX_INTERVAL_DAYS
from rostersync.errors import RetriableSourceError, SourceAuthError, SourceError
from rostersync.oneroster.outbound import OutboundRefused
from rostersync.providers import PROVIDERS, Provider, none
from rostersync.services import SYNC_FREQUENCIES

STUDENT_ID_CHOICES = (
    ("identifier", "identifier (the user's identifier field)"),
    ("sourcedId", "sourcedId"),
    ("userIds", "a userIds entry of a type (e.g. StateID)"),
    ("metadata", "a metadata field (e.g. studentNumber)"),
)
FREQUENCIES = (
    ("daily", "Every day"),
    ("weekdays", "Weekdays (Monday to Friday)"),
    ("weekly", "Weekly, on the days below"),
    ("every_n_days", "Every N days"),
)
TIME_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)
EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")

Text = Annotated[str, Field(max_length=300)]
Secret = Annotated[str, Field(max_length=2000, repr=False)]


class AnswersForm(BaseModel):
    """The questionnaire as posted: every field text, parsed by `parse_answers`."""

    csrf: Text = ""
    slug: Text = ""
    name: Text = ""
    display_name: Text = ""
    city: Text = ""
    state: Text = ""
    tenant_id: Text = ""
    data_manager_emails: Annotated[str, Field(max_length=3000)] = ""
    grades_provided: Text = ""
    unique_emails_provided: Text = ""
    student_id_field: Text = ""
    student_id_detail: Text = ""
    eligibility_source: Text = ""
    eligibility_field: Text = ""


class SourceForm(BaseModel):
    """The source step as posted; `action` is "test" or "save"."""

    csrf: Text = ""
    source_kind: Text = ""
    source_url: Annotated[str, Field(max_length=2000)] = ""
    key: Secret = ""
    secret: Secret = ""
    action: Text = "save"


class ScheduleForm(BaseModel):
    """The schedule step as posted."""

    csrf: Text = ""
    sync_frequency: Text = ""
    sync_days: list[Text] = Field(default_factory=list, max_length=7)
    sync_interval_days: Text = ""
    sync_time: Text = ""
    time_zone: Text = ""


class GoLiveForm(BaseModel):
    """The go-live step as posted; `action` is "date" or "now"."""

    csrf: Text = ""
    go_live_date: Text = ""
    action: Text = "date"


@dataclass(frozen=True, slots=True)
class AnswersWords:
    """How the questionnaire calls the district's sign-in tenant and its eligibility field: in
    ClassLink's words, or its own source's (`Provider.source_name`) once it has chosen one."""

    tenant_label: str
    tenant_hint: str
    metadata_choice: str  # the eligibility source's "from the roster" choice
    field_label: str
    field_hint: str


def _pulled_from(source: str) -> AnswersWords:
    """The words for a district pulled from `source`; only ClassLink's sign in by tenant."""
    classlink = source == Audience.CLASSLINK.source
    return AnswersWords(
        tenant_label="ClassLink tenant ID" + ("" if classlink else " (ClassLink districts only)"),
        tenant_hint="From ClassLink; students can sign in only once it is set."
        if classlink
        else f"Leave it empty: this district's people sign in through {source}.",
        metadata_choice=f"A {source} metadata field",
        field_label=f"{source} metadata field for eligibility",
        field_hint=f"Only if eligibility comes from {source}. Example: eligibility",
    )


# A new district, or one whose source is not chosen yet: it may be either provider's.
UNKNOWN_SOURCE_WORDS = AnswersWords(
    tenant_label="ClassLink tenant ID (ClassLink districts only)",
    tenant_hint=(
        "From ClassLink; a ClassLink district's students can sign in only once it is set. A "
        "Clever district leaves it empty."
    ),
    metadata_choice="A metadata field of the roster (from ClassLink or Clever)",
    field_label="Roster metadata field for eligibility",
    field_hint="Only if eligibility comes with the roster. Example: eligibility",
)
FILES_WORDS = AnswersWords(
    tenant_label="ClassLink tenant ID",
    tenant_hint="From ClassLink; students can sign in only once it is set.",
    metadata_choice="A metadata field of the roster files",
    field_label="Roster files' metadata field for eligibility",
    field_hint="Only if eligibility comes in the files. Example: eligibility",
)


def answers_words(source_kind: str | None) -> AnswersWords:
    """The questionnaire's words for a district of this source kind (None: a new district)."""
    if source_kind is None or source_kind == none.PENDING_KIND:
        return UNKNOWN_SOURCE_WORDS
    audience = PROVIDERS.audience(source_kind)
    return FILES_WORDS if audience.files else _pulled_from(audience.source)


def parse_answers(form: AnswersForm, *, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The questionnaire's answers as `Questionnaire` fields, and a message per bad field.

    Args:
        form: What was posted.
        creating: The slug is asked for (a new district); it is fixed afterwards.

    Returns:
        (answers, errors): errors maps a form field's name to what is wrong and how to fix it.
    """
    errors: dict[str, str] = {}
    answers: dict[str, Any] = {}
    if creating:
        slug = form.slug.strip()
        if not SLUG.fullmatch(slug):
            errors["slug"] = (
                "Enter a short name of lower-case letters, digits and hyphens, such as "
                "springfield-il (at most 64 characters)."
            )
        answers["slug"] = slug
    required = (
        ("name", "the district's official name, e.g. Springfield Unified School District"),
        ("display_name", "the name on the login drop-down, e.g. Springfield USD – Springfield, IL"),
        ("city", "the city, e.g. Springfield"),
        ("state", "the state's two-letter code, e.g. IL"),
    )
    for name, example in required:
        value = getattr(form, name).strip()
        if not value:
            errors[name] = f"Enter {example}."
        answers[name] = value
    state = answers["state"].upper()
    if state and not re.fullmatch(r"[A-Z]{2}", state):
        errors["state"] = "Enter the state's two-letter code, e.g. IL."
    answers["state"] = state
    answers["tenant_id"] = form.tenant_id.strip() or None
    emails = [e for e in re.split(r"[\s,;]+", form.data_manager_emails.strip()) if e]
    bad = [e for e in emails if not EMAIL.fullmatch(e)]
    if not emails:
        errors["data_manager_emails"] = (
            "Enter the email of at least one data manager who gets the sync summaries."
        )
    elif bad:
        errors["data_manager_emails"] = (
            f"{len(bad)} of these is not an email address; write one per line, like "
            "name@district.org."
        )
    answers["data_manager_emails"] = emails
    for name, what in (
        ("grades_provided", "whether the district provides grade levels"),
        ("unique_emails_provided", "whether every person has a unique email"),
    ):
        value = getattr(form, name)
        if value not in ("yes", "no"):
            errors[name] = f"Choose yes or no: {what}."
        answers[name] = value == "yes"
    answers["student_id_field"] = _student_id_field(form, errors)
    eligibility = form.eligibility_source
    field = form.eligibility_field.strip()
    if eligibility not in (EligibilitySource.PORTAL, EligibilitySource.METADATA):
        errors["eligibility_source"] = (
            "Choose where eligibility comes from: a field of the roster, or set later in the "
            "portal."
        )
    elif eligibility == EligibilitySource.METADATA and not field:
        errors["eligibility_field"] = (
            "Enter the roster's metadata field that holds eligibility, e.g. eligibility."
        )
    answers["eligibility_source"] = eligibility or EligibilitySource.PORTAL.value
    answers["eligibility_field"] = field if eligibility == EligibilitySource.METADATA else None
    return answers, errors


def _student_id_field(form: AnswersForm, errors: dict[str, str]) -> str:
    choice, detail = form.student_id_field, form.student_id_detail.strip()
    if choice in ("identifier", "sourcedId"):
        return choice
    if choice in ("userIds", "metadata") and not detail:
        errors["student_id_detail"] = (
            "Enter the userIds type (e.g. StateID)"
            if choice == "userIds"
            else "Enter the metadata field's name (e.g. studentNumber)"
        ) + " that holds the unique student ID."
        return "identifier"
    if choice == "userIds":
        value = f"userIds:{detail}"
    elif choice == "metadata":
        value = f"metadata.{detail}"
    else:
        errors["student_id_field"] = "Choose which field holds the unique student ID."
        return "identifier"
    try:
        DistrictRules(student_id_field=value)
    except ValueError as exc:
        errors["student_id_detail"] = f"{exc}."
    return value


def parse_schedule(form: ScheduleForm) -> tuple[dict[str, Any], dict[str, str]]:
    """The schedule step's answers as `Questionnaire` fields, and a message per bad field.

    The rules are `Questionnaire.check`'s and the scheduler's (syncs less than 30 days apart).
    """
    errors: dict[str, str] = {}
    frequency = form.sync_frequency
    if frequency not in SYNC_FREQUENCIES:
        errors["sync_frequency"] = "Choose how often to sync."
    days = [d for d in form.sync_days if d]
    if frequency == "weekly":
        if not days:
            errors["sync_days"] = "Choose at least one day for a weekly sync."
        elif any(d not in DAY_NAMES for d in days):
            errors["sync_days"] = "Choose days from the list."
    interval: int | None = None
    if frequency == "every_n_days":
        text = form.sync_interval_days.strip()
        interval = int(text) if text.isdigit() else None
        if interval is None or not 1 <= interval <= MAX_INTERVAL_DAYS:
            errors["sync_interval_days"] = (
                f"Enter a whole number of days from 1 to {MAX_INTERVAL_DAYS}: syncs must run "
                "less than 30 days apart."
            )
    hh, _, mm = form.sync_time.strip().partition(":")
    if not (len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit() and int(hh) < 24) or (
        mm.isdigit() and int(mm) >= 60
    ):
        errors["sync_time"] = "Enter the time of day as HH:MM in 24-hour time, e.g. 05:30."
    zone = form.time_zone.strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = (
            "Enter the district's time zone as an IANA name, e.g. America/Chicago."
        )
    return {
        "sync_frequency": frequency,
        "sync_days": days if frequency == "weekly" else [],
        "sync_interval_days": interval,
        "sync_time": form.sync_time.strip(),
        "time_zone": zone,
    }, errors


UNREACHABLE = (
    "No OneRoster server could be reached at this address: check the source URL (the district's "
    "public https:// address, as ClassLink's console shows it) and that the server is up."
)


def source_errors(form: SourceForm, provider: Provider | None, stored_kind: str) -> dict[str, str]:
    """The key and secret the chosen provider asks for and the form left empty, by field.

    An empty field keeps the stored value. A provider with a secret leaves it to the service to
    refuse a changed source without its secret typed again; a provider without one (the proxy)
    keeps a stored key only for its own kind.
    """
    errors: dict[str, str] = {}
    if provider is None:
        return errors
    if provider.asks_secret:
        kept = stored_kind in PROVIDERS.pulling_kinds()
    else:
        kept = stored_kind == provider.kind
    for field in provider.fields:
        if field.name != "source_url" and not getattr(form, field.name).strip() and not kept:
            errors[field.name] = field.missing
    return errors


def explain_source_failure(exc: Exception, provider: Provider | None = None) -> tuple[str, str]:
    """What a failed connection test means for the person, and the field they should check.

    `provider` is the source tested: its fields are the only ones a message is tied to (a
    refused vendor setting, e.g. the Clever app's secret, is the form's, not a field's), and
    its `source_name` says who refused.

    Returns:
        (field, message): field is "source_url", "key", "secret" or "" (the form as a whole).
    """
    field, message = _explain(exc, provider.source_name if provider else "ClassLink")
    if provider is not None and field not in {f.name for f in provider.fields}:
        field = ""  # e.g. the Clever app's secret, or a vendor setting: not the district's
    return field, message


def _explain(exc: Exception, source: str) -> tuple[str, str]:
    if isinstance(exc, SourceAuthError):
        credential = exc.credential.lower()
        if credential == "district sharing":
            # The vendor's app works, but the district has not shared its data with it (Clever):
            # the message says where the district shares it.
            return "key", _sentence(exc)
        if "secret" in credential or "partner" in credential:
            field = "secret"
        elif "key" in credential or "client id" in credential or "tenant" in credential:
            field = "key"
        else:
            field = ""
        return field, f"{source} refused the credentials: check the {exc.credential}. {exc}"
    if isinstance(exc, OutboundRefused) or (
        isinstance(exc, RetriableSourceError) and exc.status is None
    ):
        # One sentence whatever happened (refused, not resolved, nothing listening, timed out):
        # the form must not tell a person what the server's network holds.
        if source != "ClassLink":
            return "", f"{source} could not be reached: check the vendor's {source} settings."
        return "source_url", UNREACHABLE
    if isinstance(exc, RetriableSourceError):
        return "", f"The source is busy or failing right now: test again in a few minutes. {exc}"
    if isinstance(exc, SourceError):
        return (
            "source_url",
            f"The source answered, but not as a OneRoster API: check the URL. {exc}",
        )
    if source != "ClassLink":
        # A provider read with the vendor's settings (Clever): its message names them.
        return "", _sentence(exc)
    return "source_url", f"Check the source URL: {exc}"


def _sentence(exc: Exception) -> str:
    """An error's message as a sentence (capitalised, with a full stop)."""
    text = str(exc)
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else f"{text}."
