"""Alembic environment for the portal database.

`rostersync.store.db.migrate` hands in an open connection (`config.attributes["connection"]`) so
the upgrade runs inside the caller's transaction. From the command line
(`alembic -c src/rostersync/store/alembic.ini upgrade head`) the URL comes from `-x url=…`, else
from `sqlalchemy.url`, else from rostersync's Settings.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from rostersync.store.schema import metadata

config = context.config
# Only the command line configures logging; an application calling migrate() keeps its own.
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite can only change most constraints by copying the table; batch mode does that.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if url:
        return url
    from rostersync.config import get_settings

    return get_settings().resolved_database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from rostersync.store.db import create_engine_for

    engine = create_engine_for(_database_url())
    try:
        with engine.begin() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
