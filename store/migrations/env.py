"""Alembic environment: runs migrations on the connection `Store.init_schema()` passes in,
or, from the `alembic` command line, on CALLRT_DB_URL (in the PostgreSQL schema CALLRT_DB_SCHEMA, if set).

The version is kept in `callrt_alembic_version` (in the schema, if any), never in the host's
`alembic_version`: see store/versioning.py.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context

from store.engine import make_engine
from store.models import Base
from store.versioning import VERSION_TABLE, check_schema_name

config = context.config
target_metadata = Base.metadata


def run_on(connection: sa.Connection, schema: str | None) -> None:
    if schema is not None and connection.dialect.name == "postgresql":
        # Operations that name a table without building one (ALTER TABLE … ADD COLUMN) escape the
        # engine's schema_translate_map: the migration's transaction looks in the schema first.
        connection.execute(sa.text(f'SET LOCAL search_path TO "{check_schema_name(schema)}"'))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        version_table_schema=schema,
        # SQLite cannot ALTER most things: batch mode recreates tables when a migration needs it.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection, config.attributes.get("schema"))
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    schema = os.environ.get("CALLRT_DB_SCHEMA") or None
    engine = make_engine(os.environ.get("CALLRT_DB_URL", "sqlite:///callrt.db"), schema=schema)
    with engine.begin() as conn:
        run_on(conn, schema)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against a database")
run_online()
