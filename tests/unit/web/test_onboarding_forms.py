"""The onboarding wizard's form parsing: typed answers, and one actionable message per bad field."""

from __future__ import annotations

from rostersync.errors import (
    ConfigError,
    FatalSourceError,
    RetriableSourceError,
    SourceAuthError,
)
from rostersync.web.onboarding import (
    AnswersForm,
    ScheduleForm,
    explain_source_failure,
    parse_answers,
    parse_schedule,
)

GOOD = AnswersForm(
    slug="springfield-il",
    name="Springfield Unified School District",
    display_name="Springfield USD – Springfield, IL",
    city="Springfield",
    state="il",
    tenant_id=" 1001 ",
    data_manager_emails="a@springfield.example, b@springfield.example\nc@springfield.example",
    grades_provided="yes",
    unique_emails_provided="no",
    student_id_field="metadata",
    student_id_detail="studentNumber",
    eligibility_source="metadata",
    eligibility_field="eligibility",
)


class TestAnswers:
    """The questionnaire becomes `Questionnaire` fields, or says which field is wrong."""

    def test_good_answers_become_typed_fields(self) -> None:
        answers, errors = parse_answers(GOOD, creating=True)
        assert errors == {}
        assert answers["slug"] == "springfield-il" and answers["state"] == "IL"
        assert answers["tenant_id"] == "1001"
        assert answers["data_manager_emails"] == [
            "a@springfield.example",
            "b@springfield.example",
            "c@springfield.example",
        ]
        assert answers["grades_provided"] is True and answers["unique_emails_provided"] is False
        assert answers["student_id_field"] == "metadata.studentNumber"
        assert answers["eligibility_field"] == "eligibility"

    def test_the_slug_is_only_read_when_creating(self) -> None:
        answers, errors = parse_answers(GOOD.model_copy(update={"slug": "BAD!"}), creating=False)
        assert "slug" not in answers and errors == {}

    def test_eligibility_set_in_the_portal_drops_a_stray_metadata_field(self) -> None:
        form = GOOD.model_copy(update={"eligibility_source": "portal"})
        answers, errors = parse_answers(form, creating=True)
        assert errors == {} and answers["eligibility_field"] is None

    def test_a_userids_student_id_needs_its_type(self) -> None:
        form = GOOD.model_copy(update={"student_id_field": "userIds", "student_id_detail": ""})
        _answers, errors = parse_answers(form, creating=True)
        assert set(errors) == {"student_id_detail"}
        assert "StateID" in errors["student_id_detail"]

    def test_an_unknown_eligibility_source_is_refused(self) -> None:
        form = GOOD.model_copy(update={"eligibility_source": "guess"})
        _answers, errors = parse_answers(form, creating=True)
        assert set(errors) == {"eligibility_source"}


class TestSchedule:
    """The schedule keeps syncs under 30 days apart, at a real time, in a real zone."""

    def test_every_29_days_is_the_longest_interval(self) -> None:
        ok = ScheduleForm(
            sync_frequency="every_n_days",
            sync_interval_days="29",
            sync_time="05:30",
            time_zone="America/Chicago",
        )
        answers, errors = parse_schedule(ok)
        assert errors == {} and answers["sync_interval_days"] == 29
        _answers, errors = parse_schedule(ok.model_copy(update={"sync_interval_days": "0"}))
        assert set(errors) == {"sync_interval_days"}

    def test_days_are_kept_only_for_weekly_syncs(self) -> None:
        form = ScheduleForm(
            sync_frequency="daily",
            sync_days=["mon"],
            sync_time="23:59",
            time_zone="Pacific/Honolulu",
        )
        answers, errors = parse_schedule(form)
        assert errors == {} and answers["sync_days"] == []

    def test_a_time_past_the_hour_is_refused(self) -> None:
        form = ScheduleForm(sync_frequency="daily", sync_time="05:60", time_zone="UTC")
        _answers, errors = parse_schedule(form)
        assert set(errors) == {"sync_time"}


class TestSourceFailures:
    """A failed connection test names the field to check."""

    def test_each_credential_points_at_its_field(self) -> None:
        cases = {
            "secret": "secret",
            "key": "key",
            "partner key": "secret",
            "tenant sharing": "key",
            "client id and secret": "secret",
            "clock": "",
        }
        for credential, field in cases.items():
            error = SourceAuthError("refused (HTTP 401)", credential=credential, status=401)
            found, message = explain_source_failure(error)
            assert found == field, credential
            assert f"check the {credential}" in message

    def test_nothing_answering_is_about_the_url_and_a_busy_source_is_not(self) -> None:
        assert explain_source_failure(RetriableSourceError("no answer"))[0] == "source_url"
        busy = RetriableSourceError("busy", status=503)
        assert explain_source_failure(busy)[0] == ""
        assert explain_source_failure(FatalSourceError("404", status=404))[0] == "source_url"
        assert explain_source_failure(ConfigError("not a URL"))[0] == "source_url"
