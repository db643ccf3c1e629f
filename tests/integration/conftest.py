"""Database fixtures: every store test runs on SQLite and on PostgreSQL.

Each test database is a database of its own: on PostgreSQL one created on the shared server
(`rs_<xdist worker>_<random>`, so neither parallel workers nor other test runs ever meet), on
SQLite a file under the session's directory; all are dropped at the end (on PostgreSQL by a
detached process, so the worker need not wait). Most tests get a copy of a template migrated
once per session (`CREATE DATABASE … TEMPLATE`, a file copy), which their `init_db` finds
already at the newest revision; tests marked `empty_database` (the migration tests) get empty
ones. A missing PostgreSQL skips those tests on a laptop but fails them under `CI=true`, where
skipping would hide a gap.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError

from rostersync.config import Settings
from rostersync.domain.questionnaire import Questionnaire
from rostersync.services import Services
from rostersync.store.db import create_engine_for, migrate
from rostersync.store.districts import DistrictRecord, create_district
from rostersync.store.private_files import FILE_MODE
from rostersync.store.runs import create_run
from rostersync.store.secrets import SecretBox

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# The xdist worker running this session ("gw0", "gw1", …), or "main" without xdist.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

DatabaseMaker = Callable[[], str]
DROPPER = str(Path(__file__).with_name("drop_databases.py"))
DETACHED = 'nohup "$0" "$@" >/dev/null 2>&1 &'


def _postgres_or_skip() -> Engine:
    """An autocommit engine on the shared PostgreSQL server (to create and drop databases), or
    skip (fail under CI) when it is down."""
    admin = create_engine_for(
        POSTGRES_URL, connect_args={"connect_timeout": 5}, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run, not skip)")
        pytest.skip(reason)
    return admin


class _Databases:
    """Makes fresh databases of one backend, empty or migrated, and removes them at the end."""

    def __init__(self, backend: str, directory: Path) -> None:
        self.backend = backend
        self.directory = directory
        self.names: list[str] = []
        self.admin = _postgres_or_skip() if backend == "postgresql" else None
        self._template: str | None = None

    def _name(self) -> str:
        return f"rs_{WORKER}_{secrets.token_hex(6)}"

    def _create(self, template: str | None = None) -> str:
        """A new database (a copy of `template` when given); its URL."""
        name = self._name()
        if self.admin is None:
            path = self.directory / f"portal-{name}.db"
            if template is not None:
                shutil.copyfile(template, path)
                path.chmod(FILE_MODE)
            return f"sqlite:///{path}"
        source = f' TEMPLATE "{template}"' if template is not None else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{source}'))
        self.names.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def empty(self) -> str:
        """The URL of a new, empty database."""
        return self._create()

    def new(self) -> str:
        """The URL of a new database migrated to the newest revision (a copy of the template)."""
        if self._template is None:
            url = self._create()
            engine = create_engine_for(url)
            try:
                migrate(engine)
            finally:
                engine.dispose()  # a template takes no copies while anyone is connected to it
            database = make_url(url).database
            assert database is not None
            self._template = database
        return self._create(self._template)

    def close(self) -> None:
        """Drop this session's databases in a detached process (`drop_databases.py`)."""
        if self.admin is None:
            return
        self.admin.dispose()
        if self.names:
            # `sh` backgrounds the dropper and returns at once; the dropper outlives the worker.
            subprocess.run(
                [
                    "sh",
                    "-c",
                    'nohup "$0" "$@" >/dev/null 2>&1 &',
                    sys.executable,
                    DROPPER,
                    *self.names,
                ],
                check=True,
            )


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> _Databases:
    """One maker per backend for the whole session: pytest sets this fixture up again each time
    the backend changes (at most files' boundaries), and its template and databases are kept
    across those switches; `pytest_sessionfinish` drops them all once."""
    backend: str = request.param
    if backend not in _MAKERS:
        _MAKERS[backend] = _Databases(backend, tmp_path_factory.mktemp(backend))
    return _MAKERS[backend]


_MAKERS: dict[str, _Databases] = {}


def pytest_sessionfinish() -> None:
    """Drop every test database of this process, once, after the last test."""
    while _MAKERS:
        _MAKERS.popitem()[1].close()


@pytest.fixture(scope="session")
def db_url(databases: _Databases) -> str:
    """The URL of this session's database (one per backend), not yet migrated."""
    return databases.empty()


@pytest.fixture
def fresh_db_url(databases: _Databases, request: pytest.FixtureRequest) -> DatabaseMaker:
    """Makes another database of the same backend, for tests that need a clean slate: migrated
    to the newest revision, or empty for a test marked `empty_database`."""
    if request.node.get_closest_marker("empty_database") is not None:
        return databases.empty
    return databases.new


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    """The session's engine, migrated once."""
    eng = create_engine_for(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection whose work is rolled back after the test.

    The test runs inside a SAVEPOINT within an outer transaction, so a test may provoke an
    error, roll back to the savepoint and carry on; nothing is ever committed.
    """
    with engine.connect() as connection:
        outer = connection.begin()
        connection.begin_nested()
        try:
            yield connection
        finally:
            outer.rollback()


@pytest.fixture(scope="session")
def secret_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def box(secret_key: str) -> SecretBox:
    return SecretBox([secret_key])


DISTRICT_ANSWERS: dict[str, Any] = {
    "slug": "springfield",
    "name": "Springfield Unified School District",
    "display_name": "Springfield USD – Springfield, IL",
    "city": "Springfield",
    "state": "IL",
    "time_zone": "America/Chicago",
    "tenant_id": "cl-1234",
    "source_kind": "oneroster-1.1",
    "source_url": "https://oneroster.example/springfield/ims/oneroster/v1p1",
    "key": "consumer-key-8f3a",
    "secret": "consumer-secret-Zq81-plaintext",
    "data_manager_emails": ["data.manager@springfield.example"],
    "grades_provided": True,
    "unique_emails_provided": True,
    "student_id_field": "identifier",
    "eligibility_source": "metadata",
    "eligibility_field": "eligibility",
    "sync_frequency": "weekdays",
    "sync_days": [],
    "sync_interval_days": None,
    "sync_time": "05:30",
    "go_live_date": date(2026, 8, 17),
}

DistrictMaker = Callable[..., DistrictRecord]


@pytest.fixture
def make_district(conn: Connection, box: SecretBox) -> DistrictMaker:
    """Onboards a district with Springfield's answers, any of them overridden."""

    def make(**overrides: Any) -> DistrictRecord:
        return create_district(conn, box, Questionnaire(**{**DISTRICT_ANSWERS, **overrides}))

    return make


@pytest.fixture
def district(make_district: DistrictMaker) -> DistrictRecord:
    return make_district()


@pytest.fixture
def run_id(conn: Connection, district: DistrictRecord) -> str:
    return create_run(conn, district_id=district.id, trigger="manual", mode="apply")


@pytest.fixture
def portal(fresh_db_url: DatabaseMaker, tmp_path: Path) -> Iterator[Services]:
    """A migrated, empty portal on a fresh database of this backend, through the service API."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=fresh_db_url(),
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
    )
    service = Services(settings)
    service.init_db()
    yield service
    service.close()
