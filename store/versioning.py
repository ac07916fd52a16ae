"""Where the store's migrations record their version, so callrt can share a database with the host app.

callrt keeps its Alembic version in a table of its own, `callrt_alembic_version`, and, when given a
PostgreSQL schema, keeps every table of its own in that schema: the host application's
`alembic_version`, `appointments` or `leads` are never touched.

Databases migrated before that have callrt's revision in `alembic_version`. `adopt_legacy_version`
moves it: the revision is copied into `callrt_alembic_version` and removed from `alembic_version`,
which is dropped if nothing else is left in it (it was callrt's alone). A revision callrt does not
know is never touched: that table belongs to someone else.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from .errors import StoreError

VERSION_TABLE = "callrt_alembic_version"
LEGACY_VERSION_TABLE = "alembic_version"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_schema_name(schema: str) -> str:
    """A schema name callrt accepts: a plain lower-case PostgreSQL identifier (no quoting needed)."""
    if not _SCHEMA_NAME.fullmatch(schema):
        raise StoreError(f"database schema {schema!r} is not a plain lower-case identifier ([a-z_][a-z0-9_]*)")
    return schema


def version_table(schema: str | None) -> sa.Table:
    """The table Alembic creates for `version_table=VERSION_TABLE` (same column, same key)."""
    return sa.Table(
        VERSION_TABLE,
        sa.MetaData(),
        sa.Column("version_num", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
        schema=schema,
    )


def current_revision(connection: sa.Connection, schema: str | None) -> str | None:
    """The revision callrt's migrations brought this database to; None when they never ran here."""
    if not sa.inspect(connection).has_table(VERSION_TABLE, schema=schema):
        return None
    table = version_table(schema)
    return connection.execute(sa.select(table.c.version_num)).scalar()


def adopt_legacy_version(connection: sa.Connection, schema: str | None, known_revisions: set[str]) -> str | None:
    """Move callrt's revision out of a legacy `alembic_version` (see the module's docstring); returns it."""
    inspector = sa.inspect(connection)
    if inspector.has_table(VERSION_TABLE, schema=schema):
        return None
    if not inspector.has_table(LEGACY_VERSION_TABLE, schema=schema):
        return None
    legacy = sa.table(LEGACY_VERSION_TABLE, sa.column("version_num"), schema=schema)
    revisions = {str(revision) for revision in connection.execute(sa.select(legacy.c.version_num)).scalars()}
    ours = sorted(revisions & known_revisions)
    if not ours:
        return None
    ours_table = version_table(schema)
    ours_table.create(connection)
    connection.execute(ours_table.insert(), [{"version_num": revision} for revision in ours])
    connection.execute(sa.delete(legacy).where(legacy.c.version_num.in_(ours)))
    if revisions <= set(ours):
        sa.Table(LEGACY_VERSION_TABLE, sa.MetaData(), schema=schema).drop(connection)
    return ours[0]
