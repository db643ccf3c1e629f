"""A portal with Springfield onboarded, and bundles written from simulated districts."""

from __future__ import annotations

import io
from pathlib import Path

from cryptography.fernet import Fernet

from rostersync.config import Settings
from rostersync.services import Questionnaire, Services
from rostersync.simulator import DistrictData
from rostersync.simulator.bundle_writer import write_bundle

KEY, SECRET = "springfield-key", "springfield-secret-9Zq"


def bundle_of(data: DistrictData, **kw: str) -> bytes:
    buf = io.BytesIO()
    write_bundle(data, buf, **kw)
    return buf.getvalue()


def make_portal(url: str, directory: Path, **overrides: object) -> Services:
    settings = Settings(
        data_dir=directory,
        database_url=url,
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
        **overrides,  # type: ignore[arg-type]
    )
    service = Services(settings)
    service.init_db()
    service.districts.add(
        Questionnaire(
            slug="springfield",
            name="Springfield Unified School District",
            display_name="Springfield USD – Springfield, IL",
            city="Springfield",
            state="IL",
            source_url="https://springfield.invalid/ims/oneroster/v1p1",
            key=KEY,
            secret=SECRET,
            eligibility_source="metadata",
            eligibility_field="eligibility",
        )
    )
    return service
