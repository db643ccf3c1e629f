"""Emails as data plus templates: a function builds each context, template files render it.

`templates/<name>/subject.txt`, `body.txt` and `body.html` render a context; the HTML part is
autoescaped (the records come from the district's source and may hold anything), the text parts
are not. `compose` makes the MIME message with both parts and any attachments.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from rostersync.domain.issue_groups import (
    Audience,
    problem_fix,
    problem_title,
    record_words,
    source_message,
)
from rostersync.domain.records import EntityKind
from rostersync.domain.references import split_skipped
from rostersync.notify.csvfile import Fix, issues_csv_file

# Per kind of record, the outcomes a summary shows, in this order.
OUTCOMES = ("created", "updated", "matched", "deactivated", "restored", "unchanged", "held")
# Records shown per kind of error; the CSV has them all.
EXAMPLES_PER_CODE = 3

_html = Environment(
    loader=PackageLoader("rostersync.notify", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# Plain text must not be HTML-escaped ("O'Brien" stays as written).
_text = Environment(
    loader=PackageLoader("rostersync.notify", "templates"),
    autoescape=False,  # noqa: S701 - text/plain parts, never rendered as HTML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Email:
    """A rendered email, not yet addressed from anyone."""

    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


def render(template: str, context: Mapping[str, Any], *, to: Sequence[str]) -> Email:
    """Render `templates/<template>/` with `context` for the recipients `to`."""
    subject = _text.get_template(f"{template}/subject.txt").render(context)
    return Email(
        to=tuple(to),
        # A header must be one line, whatever the data.
        subject=" ".join(subject.split()),
        text=_text.get_template(f"{template}/body.txt").render(context),
        html=_html.get_template(f"{template}/body.html").render(context),
    )


def compose(email: Email, *, mail_from: str) -> EmailMessage:
    """The MIME message: text and HTML alternatives, then the attachments."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = ", ".join(email.to)
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or "rostersync")
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    for item in email.attachments:
        message.add_attachment(
            item.content,
            maintype=item.maintype,
            subtype=item.subtype,
            filename=item.filename,
            # A text attachment says its encoding (the CSV is UTF-8, with a byte-order mark).
            params={"charset": "utf-8"} if item.maintype == "text" else {},
        )
    return message


def _base(portal_base_url: str) -> str:
    return portal_base_url.rstrip("/")


def run_link(portal_base_url: str, run_id: str) -> str:
    """The run's page in the portal (the admin page a data manager signs in to see); a held or
    previewed run is approved or discarded there."""
    return f"{_base(portal_base_url)}/admin/runs/{quote(run_id, safe='')}"


def district_link(portal_base_url: str, slug: str) -> str:
    """The district's page in the portal: its runs and questionnaire answers."""
    return f"{_base(portal_base_url)}/admin/districts/{quote(slug, safe='')}"


def issues_link(portal_base_url: str, slug: str, *, code: str = "", sourced_id: str = "") -> str:
    """The district's open issues in the portal, only those of `code` or of one record if given."""
    query = urlencode({k: v for k, v in (("code", code), ("sourced_id", sourced_id)) if v})
    return f"{district_link(portal_base_url, slug)}/issues" + (f"?{query}" if query else "")


def _common(
    district: Any, run: Any, portal_base_url: str, audience: Audience = Audience.CLASSLINK
) -> dict[str, Any]:
    return {
        "district": {"name": district.display_name or district.name, "slug": district.slug},
        # The templates word what to check and where to fix for the district's own source.
        "pushes_files": audience.files,
        # What the district's roster source is called ("ClassLink", "Clever").
        "source": audience.source,
        "run": {
            "id": run.id,
            "trigger": run.trigger,
            "status": run.status,
            "started_at": _when(run.started_at),
            "finished_at": _when(run.finished_at),
            "error": run.error,
        },
        "run_url": run_link(portal_base_url, run.id),
        "district_url": district_link(portal_base_url, district.slug),
        "issues_url": issues_link(portal_base_url, district.slug),
    }


def _kind_label(kind: str) -> str:
    """The district's word for a kind of record ("terms", not "academicSession")."""
    try:
        return EntityKind(kind).plural
    except ValueError:
        return kind


def outcome_rows(counts: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Per kind of record, its outcome counts (zeros where the run had none)."""
    entities = (counts or {}).get("entities") or {}
    return [
        {"kind": _kind_label(kind), **{name: int(row.get(name, 0)) for name in OUTCOMES}}
        for kind, row in entities.items()
    ]


def fix_words(audience: Audience) -> Fix:
    """How an issue's fix is worded for the district, in its email and the attached CSV.

    A district that pushes files gets the fix in its files' words (`problem_fix`), never "in
    ClassLink"; a pulled district gets the fix stored with the issue, which the validators
    write for a ClassLink district, in its own source's name (`source_message`: "in Clever").
    """
    if audience.files:
        return lambda issue: problem_fix(issue.code, [issue.entity], audience, issue.fix)
    return lambda issue: source_message(str(issue.fix), audience)


def group_issues(
    issues: Iterable[Any],
    *,
    audience: Audience = Audience.CLASSLINK,
    examples: int = EXAMPLES_PER_CODE,
) -> list[dict[str, Any]]:
    """Issues grouped by kind (`code`), errors before warnings, the largest group first.

    Each group is counted in plain words ("12 students have no grade", `problem_title`), says
    how to fix it in the district's words (`fix_words`), and shows its first few records, each
    by name (with its role, student ID, grade and school; an enrollment as "student in class
    (code)") when known, then its kind and ClassLink sourcedId.
    """
    groups: OrderedDict[str, dict[str, Any]] = OrderedDict()
    kinds: dict[str, dict[str, int]] = {}
    for issue in issues:
        group = groups.setdefault(
            issue.code,
            {
                "code": issue.code,
                "severity": issue.severity,
                "stored_fix": issue.fix,
                "count": 0,
                "examples": [],
            },
        )
        group["count"] += 1
        entities = kinds.setdefault(issue.code, {})
        entities[issue.entity] = entities.get(issue.entity, 0) + 1
        if issue.severity == "error":
            group["severity"] = "error"
        if len(group["examples"]) < examples:
            # The record as people know it, when the issue has it (`IssueRecord.subject`).
            words = record_words(issue.entity, getattr(issue, "subject", None))
            group["examples"].append(
                {
                    "name": words.name,
                    "details": words.details,
                    "entity": issue.entity,
                    "sourced_id": issue.sourced_id,
                    "field": issue.field,
                    "message": source_message(issue.message, audience),
                }
            )
    for code, group in groups.items():
        group["title"] = problem_title(code, kinds[code])
        stored = group.pop("stored_fix")
        # The same words as `fix_words`, for the group's kinds of record at once.
        files = audience.files
        group["fix"] = (
            problem_fix(code, kinds[code], audience, stored)
            if files
            else source_message(str(stored), audience)
        )
    return sorted(groups.values(), key=lambda g: (g["severity"] != "error", -g["count"], g["code"]))


def _linked(groups: list[dict[str, Any]], portal_base_url: str, slug: str) -> list[dict[str, Any]]:
    """Each group with the link to its issues in the portal, each example with its record's."""
    for group in groups:
        group["url"] = issues_link(portal_base_url, slug, code=group["code"])
        for example in group["examples"]:
            example["url"] = issues_link(portal_base_url, slug, sourced_id=example["sourced_id"])
    return groups


def _issue_section(
    district: Any, open_issues: Sequence[Any], portal_base_url: str, audience: Audience
) -> dict[str, Any]:
    """The context of the open issues' part of an email (`templates/_issues.*`)."""
    groups = group_issues(open_issues, audience=audience)
    return {
        "groups": _linked(groups, portal_base_url, district.slug),
        "open_issue_count": len(open_issues),
        "examples_per_code": EXAMPLES_PER_CODE,
    }


def _with_issues_csv(
    email: Email, district: Any, run: Any, open_issues: Sequence[Any], audience: Audience
) -> Email:
    """The email with every open issue attached as CSV, each fix in the district's words."""
    if not open_issues:
        return email
    csv_file = Attachment(
        filename=f"{district.slug}-open-issues-{run.id[:8]}.csv",
        content=issues_csv_file(
            open_issues,
            fix=fix_words(audience),
            message=lambda issue: source_message(issue.message, audience),
        ),
        maintype="text",
        subtype="csv",
    )
    return Email(
        to=email.to,
        subject=email.subject,
        text=email.text,
        html=email.html,
        attachments=(csv_file,),
    )


def summary_email(
    *,
    district: Any,
    run: Any,
    open_issues: Sequence[Any],
    portal_base_url: str,
    to: Sequence[str],
    audience: Audience = Audience.CLASSLINK,
) -> Email:
    """What a finished sync did and which records need fixing, with every open issue as CSV.

    `audience` words each fix and what to check for the district's source: a district that
    pushes files is told to fix its files, never to share anything in ClassLink.
    """
    counts = run.counts or {}
    # Records held for another record's error wait for it; they were not skipped by design.
    skipped, waiting = split_skipped(counts.get("skipped") or {})
    context = {
        **_common(district, run, portal_base_url, audience),
        **_issue_section(district, open_issues, portal_base_url, audience),
        "outcomes": outcome_rows(counts),
        "outcome_names": OUTCOMES,
        "skipped": skipped,
        "waiting": waiting,
    }
    email = render("summary", context, to=to)
    return _with_issues_csv(email, district, run, open_issues, audience)


# Planned deactivations a held email names; the run's page lists them all.
HELD_EXAMPLES = 10
# A kind of record as people say one of it.
_ONE = {"org": "school", "academicSession": "term"}


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedChange:
    """A planned change of a held run, by its record as people know it, then its kind and
    ClassLink sourcedId (`name` and `details` empty when the portal does not hold it)."""

    kind: str
    sourced_id: str
    name: str = ""
    details: str = ""


def held_email(
    *,
    district: Any,
    run: Any,
    held_reason: str | None,
    portal_base_url: str,
    to: Sequence[str],
    open_issues: Sequence[Any] = (),
    audience: Audience = Audience.CLASSLINK,
    deactivations: Sequence[NamedChange] = (),
    deactivation_count: int = 0,
) -> Email:
    """A run held by a safeguard: what tripped it, the first of the records it would
    deactivate by name, and the run's page where it is approved or discarded (a data manager
    gets no command to type); then the district's open issues, as the summary groups them, with
    the CSV attached."""
    context = {
        **_common(district, run, portal_base_url, audience),
        **_issue_section(district, open_issues, portal_base_url, audience),
        "deactivations": [{**asdict(c), "kind": _ONE.get(c.kind, c.kind)} for c in deactivations],
        "deactivation_count": max(deactivation_count, len(deactivations)),
        "held_reason": held_reason or "the planned changes exceeded the district's safeguards",
        "outcomes": outcome_rows(run.counts),
        "outcome_names": OUTCOMES,
    }
    email = render("held", context, to=to)
    return _with_issues_csv(email, district, run, open_issues, audience)


def failed_email(
    *,
    district: Any,
    run: Any,
    attempts: int,
    portal_base_url: str,
    to: Sequence[str],
    audience: Audience = Audience.CLASSLINK,
) -> Email:
    """A run that failed: what failed and what to check at the district's source."""
    context = {**_common(district, run, portal_base_url, audience), "attempts": attempts}
    return render("failed", context, to=to)


def quarantined_email(
    *,
    district: Any,
    run: Any | None,
    failures: int,
    reason: str,
    schedule: str,
    portal_base_url: str,
    to: Sequence[str],
    audience: Audience = Audience.CLASSLINK,
) -> Email:
    """A district whose source keeps failing: backed off to daily until a sync succeeds."""
    context = {
        "district": {"name": district.display_name or district.name, "slug": district.slug},
        "pushes_files": audience.files,
        "source": audience.source,
        "failures": failures,
        "reason": reason,
        "schedule": schedule,
        "run_url": run_link(portal_base_url, run.id) if run is not None else None,
        "district_url": district_link(portal_base_url, district.slug),
    }
    return render("quarantined", context, to=to)


def stale_email(
    *,
    district: Any,
    run: Any,
    newest_change: datetime,
    stale_after_days: int,
    now: datetime,
    portal_base_url: str,
    to: Sequence[str],
    audience: Audience = Audience.CLASSLINK,
) -> Email:
    """The source's newest change is older than the configured number of days."""
    context = {
        **_common(district, run, portal_base_url, audience),
        "newest_change": _when(newest_change),
        "days_old": (now - newest_change).days,
        "stale_after_days": stale_after_days,
    }
    return render("stale", context, to=to)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "–"
