"""The district the sync benchmarks roster: Springfield, onboarded into a fresh database with the
benchmarks' key and secret, eligibility read from a metadata field."""

from __future__ import annotations

KEY, SECRET = "bench-key", "bench-secret"
SLUG = "springfield"


def onboard(db_url: str, keys: str, source_url: str) -> None:
    """Migrate the database at `db_url` and onboard Springfield, pulling from `source_url`."""
    from rostersync.config import Settings
    from rostersync.services import Questionnaire, Services

    service = Services(Settings(database_url=db_url, secret_keys=keys))
    try:
        service.init_db()
        service.districts.add(
            Questionnaire(
                slug=SLUG,
                name="Springfield Unified School District",
                display_name="Springfield USD – Springfield, IL",
                city="Springfield",
                state="IL",
                source_url=source_url,
                key=KEY,
                secret=SECRET,
                eligibility_source="metadata",
                eligibility_field="eligibility",
            )
        )
    finally:
        service.close()
