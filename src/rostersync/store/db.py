"""Engines for the portal database, and its migrations.

SQLite (one file, WAL) serves a single host; PostgreSQL (psycopg 3) serves at scale. Both run
the same Alembic migrations, found next to this module so they work from an installed package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from rostersync.store.private_files import FILE_MODE, private_file

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# How long a sync's write transaction waits its turn for SQLite's one writer (another
# district's first sync may hold it for minutes); see `for_writing` and docs/decisions/0020.
SYNC_WRITER_WAIT_SECONDS = 30 * 60.0


def create_engine_for(url: str | URL, **kwargs: Any) -> Engine:
    """Make an engine for a portal database URL.

    SQLite gets WAL journaling, enforced foreign keys, a busy timeout, a parent directory and a
    database file only its owner can read (it holds encrypted credentials and pupils' names).
    PostgreSQL URLs without a driver use psycopg 3.

    Args:
        url: `sqlite:///path/to.db` or `postgresql+psycopg://user@host/db`.
        **kwargs: Passed on to `sqlalchemy.create_engine` (e.g. `connect_args`).

    Returns:
        The engine. Nothing is connected until first use.
    """
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        private_database(path)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Python < 3.12's sqlite3 neither BEGINs before SELECT/DDL nor nests SAVEPOINTs inside a
        # transaction; hand transaction control to SQLAlchemy (the recipe in its SQLite docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            record.info[_BUSY_TIMEOUT_SET] = SQLITE_BUSY_TIMEOUT_MS
            # Safe with WAL (a power cut may lose the last commit, never corrupt the file).
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A transaction that will write takes the write lock at BEGIN (`for_writing`): a
        # deferred one that reads first cannot become a writer once another commit moved the
        # WAL on, and fails with "database is locked" at once instead of waiting its turn.
        options = conn.get_execution_options()
        immediate = options.get(WRITES, False)
        # The wait is the connection's, so each transaction sets the one it asks for: a pooled
        # connection keeps no longer wait than its transaction asked for. The value set is
        # remembered with the connection, so the PRAGMA runs only when the wait changes (a
        # sign-in's transactions all ask for the default one).
        wait_ms = int(options.get(WAIT_MS, SQLITE_BUSY_TIMEOUT_MS))
        if conn.info.get(_BUSY_TIMEOUT_SET) != wait_ms:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
            conn.info[_BUSY_TIMEOUT_SET] = wait_ms
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


WRITES = "rostersync_writes"
WAIT_MS = "rostersync_wait_ms"
_BUSY_TIMEOUT_SET = "rostersync_busy_timeout_ms"  # in the pooled connection's `info`


def for_writing(engine: Engine, *, wait_seconds: float | None = None) -> Engine:
    """The same engine, whose transactions announce up front that they will write.

    On SQLite they BEGIN IMMEDIATE, so concurrent read-then-write transactions (sign-in under
    load, two districts' syncs) queue on the busy timeout instead of failing; on PostgreSQL
    nothing changes.

    Args:
        engine: The portal database.
        wait_seconds: How long to wait for SQLite's writer (the busy timeout, 10 s by default).
            A sync waits `SYNC_WRITER_WAIT_SECONDS`: longer than any other run's write.
    """
    options: dict[str, object] = {WRITES: True}
    if wait_seconds is not None:
        options[WAIT_MS] = int(wait_seconds * 1000)
    return engine.execution_options(**options)


def private_database(path: Path) -> None:
    """Create a SQLite database file (and missing folders) readable by its owner only.

    The file is made 0600 before SQLite opens it, whatever the umask; SQLite gives the `-wal`
    and `-shm` files the database file's mode, and any left from before are tightened too.
    """
    private_file(path)
    for extra in (path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        if extra.exists():
            extra.chmod(FILE_MODE)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations.

    Args:
        connection: When given, migrations run on it (inside the caller's transaction).
    """
    config = Config()
    # configparser treats % as interpolation; a path may contain one.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database schema to `revision` (the newest by default), in one transaction.

    Args:
        engine: The portal database.
        revision: An Alembic revision identifier.
    """
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
