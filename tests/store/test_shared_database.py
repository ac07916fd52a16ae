"""Sharing a database with the host application: callrt's tables in a PostgreSQL schema of their own, next
to the host's `appointments`; callrt's version in `callrt_alembic_version`, never the host's `alembic_version`;
and databases migrated before that, whose `alembic_version` held callrt's revision, adopted in place."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from store import Store, StoreError
from tests.store.test_db import migrations_head
from tests.support.postgres import POSTGRES_URL, require_postgres
from tests.support.store import NOW, TOMORROW_18, salon

HOST_REVISION = "host_0001"


@pytest.fixture
def host_database() -> Iterator[str]:
    """A database of its own, as a host application left it: `appointments` and `alembic_version` in `public`."""
    admin_url = sa.make_url(require_postgres())
    name = f"callrt_host_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    host = sa.create_engine(url)
    with host.begin() as conn:
        conn.execute(sa.text("CREATE TABLE appointments (id serial PRIMARY KEY, patient text NOT NULL, room int)"))
        conn.execute(sa.text("INSERT INTO appointments (patient, room) VALUES ('host patient', 3)"))
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES (:v)"), {"v": HOST_REVISION})
    host.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(connection: sa.Connection, schema: str | None) -> set[str]:
    return set(sa.inspect(connection).get_table_names(schema=schema))


@pytest.mark.postgres
def test_a_schema_keeps_callrt_apart_from_the_host_tables(host_database: str) -> None:
    store = Store(host_database, schema="callrt")
    try:
        store.init_schema()
        store.init_schema()  # repeatable
        business = salon(store)
        booked = store.create_appointment_from_realtime(
            business_id=business, call_sid="CAshared", start=TOMORROW_18, name="דנה", phone=None, now=NOW
        )
        assert booked.created
        assert [a.call_sid for a in store.list_appointments(business)] == ["CAshared"]
    finally:
        store.dispose()

    host = sa.create_engine(host_database)
    with host.connect() as conn:
        public = _tables(conn, "public")
        assert public == {"appointments", "alembic_version"}, "callrt created nothing in the host's schema"
        rows = conn.execute(sa.text("SELECT patient, room FROM appointments")).all()
        assert rows == [("host patient", 3)]
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [HOST_REVISION]
        ours = _tables(conn, "callrt")
        assert {"appointments", "businesses", "leads", "callback_requests", "callrt_alembic_version"} <= ours
        assert "alembic_version" not in ours
        head = conn.execute(sa.text("SELECT version_num FROM callrt.callrt_alembic_version")).scalar_one()
        assert head == migrations_head()
        starts = conn.execute(sa.text("SELECT start_at FROM callrt.appointments")).scalars().all()
        assert starts == [TOMORROW_18.astimezone(dt.UTC)]
    host.dispose()


def _legacy(store: Store) -> None:
    """The layout before callrt had a version table of its own: its revision in `alembic_version`."""
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE callrt_alembic_version RENAME TO alembic_version"))


def test_a_database_migrated_before_keeps_working(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'legacy.db'}")
    try:
        store.init_schema()
        business = salon(store)
        _legacy(store)
        store.init_schema()
        with store.engine.connect() as conn:
            assert "alembic_version" not in _tables(conn, None), "callrt's alone: dropped once empty"
            head = conn.execute(sa.text("SELECT version_num FROM callrt_alembic_version")).scalar_one()
        assert head == migrations_head()
        assert store.get_business(business).id == business, "the data stays"
    finally:
        store.dispose()


@pytest.mark.postgres
def test_adopting_a_legacy_version_leaves_the_host_revision_alone(host_database: str) -> None:
    """callrt and the host once shared `alembic_version`: callrt takes its own revision and nothing else."""
    store = Store(host_database)
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE appointments"))  # callrt used to live in `public`
        store.init_schema()
        with store.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO alembic_version SELECT version_num FROM callrt_alembic_version"))
            conn.execute(sa.text("DROP TABLE callrt_alembic_version"))
        store.init_schema()
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [HOST_REVISION]
            head = conn.execute(sa.text("SELECT version_num FROM callrt_alembic_version")).scalar_one()
        assert head == migrations_head()
    finally:
        store.dispose()


def test_a_schema_needs_postgresql(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="needs PostgreSQL"):
        Store(f"sqlite:///{tmp_path / 'x.db'}", schema="callrt")


@pytest.mark.parametrize("schema", ["Callrt", "call-rt", "x; DROP TABLE appointments", "", "a" * 64])
def test_a_schema_name_must_be_a_plain_identifier(schema: str) -> None:
    with pytest.raises(StoreError, match="plain lower-case identifier"):
        Store(POSTGRES_URL, schema=schema)  # refused before any connection
