"""Engines and transactions: SQLite and PostgreSQL set-up, retries, and the mapping of
database failures to `StoreError` / `StoreUnavailable`.

SQLite: WAL (readers never wait for the writer), a busy timeout, foreign keys on, and every
write transaction opened with `BEGIN IMMEDIATE`, which takes the database's write lock up front.
Writers are therefore serialised across threads and processes, and a transaction never has to
upgrade a read lock into a write lock (the deadlock-prone case in SQLite's default DEFERRED mode).
PostgreSQL: READ COMMITTED; the unique keys (slot claims, one active appointment per call) are what
stops a conflicting commit, and the losing transaction is retried from the start, now seeing the winner.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .errors import InvalidDatabaseUrl, StoreError, StoreUnavailable
from .versioning import check_schema_name

R = TypeVar("R")
T = TypeVar("T", sa.Connection, Session)
Executor = sa.Connection | Session
"""What a function made only of Core statements runs them on: a connection, or a session it shares."""
logger = logging.getLogger("callrt.store")

MAX_ATTEMPTS = 8
"""Attempts of one transaction when it loses a race (unique key, deadlock, serialization failure)."""
SQLITE_BUSY_TIMEOUT_MS = 15_000
_READ_ONLY = "callrt_read_only"
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_UNIQUE_VIOLATION = "23505"
POSTGRES_CONNECT_TIMEOUT_S = 5
"""A database that does not answer is unavailable, not a call that waits for ever."""


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event, not the driver, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


POSTGRES_DRIVER = "postgresql+psycopg"
"""The PostgreSQL driver callrt depends on (psycopg 3); SQLAlchemy's own default for `postgresql://` is psycopg2."""


def database_url(url: str) -> sa.URL:
    """`url` parsed, with PostgreSQL spelled the way callrt connects to it: Heroku-style `postgres://` and a bare
    `postgresql://` both mean psycopg 3. Raises `InvalidDatabaseUrl` naming what is wrong."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise InvalidDatabaseUrl(
            "the database URL is not a URL: write it like sqlite:///callrt.db or postgresql://user@host/db"
        ) from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername=POSTGRES_DRIVER)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidDatabaseUrl(
            f"database URL {parsed.render_as_string()!r}: callrt stores its data in SQLite (sqlite:///FILE) "
            f"or PostgreSQL (postgresql://…), not {parsed.get_backend_name()}"
        )
    try:
        parsed.get_dialect().import_dbapi()
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise InvalidDatabaseUrl(
            f"database URL {parsed.render_as_string()!r}: its driver cannot be loaded ({exc}); "
            f"use {POSTGRES_DRIVER}:// or sqlite://"
        ) from None
    return parsed


def make_engine(url: str, *, schema: str | None = None) -> Engine:
    """An engine for `url` (see `database_url`); with `schema` (PostgreSQL only), every table of the store lives
    in that schema (SQLAlchemy's `schema_translate_map`), next to whatever the host application keeps elsewhere."""
    parsed = database_url(url)
    if schema is not None and parsed.get_backend_name() != "postgresql":
        raise StoreError(f"a database schema ({schema!r}) needs PostgreSQL, not {parsed.get_backend_name()}")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise StoreError("the store needs a SQLite file (sqlite:///path.db): an in-memory database is per thread")
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(
        parsed,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
        execution_options={"schema_translate_map": {None: check_schema_name(schema)}} if schema is not None else {},
    )


class LostRace(StoreError):
    """Raised inside a transaction that saw a concurrent commit invalidate what it read: retry it."""


def _is_race(exc: sa.exc.DBAPIError) -> bool:
    """Lost to a concurrent transaction: a unique key another one took (a slot claim, the call's
    one active appointment), a serialization failure or a deadlock. Other integrity errors (a
    missing row, a NOT NULL) are bugs or bad input, and retrying them would only hide that."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _RETRYABLE_SQLSTATES or sqlstate == _UNIQUE_VIOLATION
    return isinstance(exc, sa.exc.IntegrityError) and "UNIQUE constraint failed" in str(exc.orig)


class Transactions:
    """Runs a function in one transaction, retrying it from scratch when it lost a race."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read_engine = engine.execution_options(**{_READ_ONLY: True})

    def write(self, work: Callable[[Session], R]) -> R:
        return self._run(lambda: _session(self.engine), work)

    def read(self, work: Callable[[Session], R]) -> R:
        return self._run(lambda: _session(self._read_engine), work)

    def write_statements(self, work: Callable[[sa.Connection], R]) -> R:
        """`write` for work made only of Core statements, on a connection's own transaction: an ORM
        session's setup, execution pipeline and teardown cost about a third of a turn's write."""
        return self._run(self.engine.begin, work)

    def read_statements(self, work: Callable[[sa.Connection], R]) -> R:
        return self._run(self._read_engine.begin, work)

    def _run(self, begin: Callable[[], contextlib.AbstractContextManager[T]], work: Callable[[T], R]) -> R:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with begin() as transaction:
                    return work(transaction)
            except (sa.exc.DBAPIError, LostRace) as exc:
                if isinstance(exc, sa.exc.DBAPIError) and not _is_race(exc):
                    raise translate_error(exc) from exc
                if attempt == MAX_ATTEMPTS:
                    raise StoreUnavailable(f"transaction kept conflicting after {attempt} attempts: {exc}") from exc
                logger.debug("transaction lost a race (attempt %d): %s", attempt, exc)
                # A little jitter so that the losers of one race do not collide again in lockstep.
                time.sleep(random.uniform(0, 0.002 * attempt))
            except sa.exc.TimeoutError as exc:
                raise StoreUnavailable(f"no database connection available: {exc}") from exc
            except sa.exc.SQLAlchemyError as exc:
                raise StoreError(str(exc)) from exc
        raise AssertionError("unreachable: the loop returns or raises")


@contextlib.contextmanager
def _session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def translate_error(exc: sa.exc.DBAPIError) -> StoreError:
    """Connection-level failures are transient (`StoreUnavailable`); anything else is a `StoreError`."""
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) or exc.connection_invalidated:
        return StoreUnavailable(f"database unavailable: {exc.orig}")
    return StoreError(f"database error: {exc.orig}")
