"""The whole check of a questionnaire: the answers' own, and its source's by its provider."""

from __future__ import annotations

from rostersync.domain.questionnaire import Questionnaire
from rostersync.providers import PROVIDERS


def check(answers: Questionnaire) -> None:
    """Refuse answers that cannot work, with what to change.

    Raises:
        ConfigError: An unknown source kind, a credential it needs is missing, or an answer
            cannot work.
    """
    # The source's part is its provider's: a known kind, and the credentials it needs.
    PROVIDERS.get(answers.source_kind).check(answers)
    answers.check()


def check_usable(answers: Questionnaire) -> None:
    """`check`, plus what a sync would refuse later: the student ID field, the time zone and
    the sync days (the onboarding wizard saves nothing a sync would refuse)."""
    PROVIDERS.get(answers.source_kind).check(answers)
    answers.check_usable()
