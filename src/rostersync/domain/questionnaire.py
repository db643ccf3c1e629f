"""A district's onboarding questionnaire: one object from the form or the CLI to the store.

The checks here are the answers' own; whether the source kind is known and has the credentials
it needs is its provider's to say (`rostersync.services.answers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.schedule import schedule_from_answers
from rostersync.errors import ConfigError

SYNC_FREQUENCIES = ("daily", "weekdays", "weekly", "every_n_days")
# The ClassLink Roster Server's OneRoster 1.1 (`rostersync.providers.oneroster_v1p1`).
DEFAULT_SOURCE_KIND = "oneroster-1.1"


@dataclass(slots=True, kw_only=True)
class Questionnaire:
    """A district's onboarding answers and credentials, as a person fills them in."""

    slug: str
    name: str
    display_name: str
    city: str
    state: str
    # Empty, with source_kind "none", for a district that is not rostered (accounts by hand).
    source_url: str = ""
    key: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    source_kind: str = DEFAULT_SOURCE_KIND
    time_zone: str = "America/Chicago"
    tenant_id: str | None = None
    data_manager_emails: list[str] = field(default_factory=list)
    grades_provided: bool = True
    unique_emails_provided: bool = True
    student_id_field: str = "identifier"
    eligibility_source: str = "portal"
    eligibility_field: str | None = None
    sync_frequency: str = "daily"
    sync_days: list[str] = field(default_factory=list)
    sync_interval_days: int | None = None
    sync_time: str = "05:00"
    go_live_date: date | None = None

    def check(self) -> None:
        """Refuse answers that cannot work, with what to change (the source's part aside)."""
        if self.sync_frequency not in SYNC_FREQUENCIES:
            raise ConfigError(
                f"sync frequency {self.sync_frequency!r} is not one of "
                f"{', '.join(SYNC_FREQUENCIES)}"
            )
        if self.sync_frequency == "every_n_days" and not (
            self.sync_interval_days and 1 <= self.sync_interval_days < 30
        ):
            raise ConfigError(
                "syncs must run less than 30 days apart: choose an interval of 1 to 29 days"
            )
        if self.sync_frequency == "weekly" and not self.sync_days:
            raise ConfigError("a weekly sync needs at least one day, e.g. --sync-day mon")
        try:
            source = EligibilitySource(self.eligibility_source)
        except ValueError:
            raise ConfigError("eligibility source must be 'portal' or 'metadata'") from None
        if source is EligibilitySource.METADATA and not self.eligibility_field:
            raise ConfigError(
                "eligibility from ClassLink needs the metadata field's name, e.g. "
                "--eligibility-field eligibility"
            )
        hh, _, mm = self.sync_time.partition(":")
        if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ConfigError(f"sync time {self.sync_time!r} must be HH:MM, e.g. 05:30")

    def check_usable(self) -> None:
        """`check`, plus what a sync would refuse later: the student ID field, the time zone
        and the sync days (the onboarding wizard saves nothing a sync would refuse)."""
        self.check()
        try:
            DistrictRules(
                grades_provided=self.grades_provided,
                unique_emails=self.unique_emails_provided,
                student_id_field=self.student_id_field,
                eligibility_source=EligibilitySource(self.eligibility_source),
                eligibility_field=self.eligibility_field,
            )
        except ValueError as exc:
            raise ConfigError(f"the district's sync answers are not usable: {exc}") from None
        schedule_from_answers(
            frequency=self.sync_frequency,
            days=self.sync_days,
            interval_days=self.sync_interval_days,
            time_of_day=self.sync_time,
            time_zone=self.time_zone,
        )
