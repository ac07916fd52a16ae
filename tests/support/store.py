"""Shared helpers for the store's tests: the two databases, an isolated PostgreSQL schema per
module, the demo hours, and an invariant check on the slot claims."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from store import ISRAELI_HOURS, Store
from tests.support.postgres import require_postgres

T = TypeVar("T")
TZ = ZoneInfo("Asia/Jerusalem")
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=TZ)  # a Tuesday
TOMORROW_18 = dt.datetime(2026, 11, 25, 18, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for this test module (search_path set in the URL), dropped afterwards."""
    base = require_postgres()
    schema = f"callrt_store_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    instance = Store(db_url)
    instance.init_schema()
    yield instance
    instance.dispose()


def salon(store: Store, **overrides: object) -> int:
    settings: dict[str, object] = {"name": "מספרת דנה", "opening_hours": ISRAELI_HOURS}
    settings.update(overrides)
    return store.create_business(**settings)  # type: ignore[arg-type]


def assert_claims_consistent(store: Store, business_id: int) -> None:
    """Every active appointment holds exactly one claim per minute; nothing else holds claims."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.id, a.status, "
                "(SELECT count(*) FROM appointment_claims c WHERE c.appointment_id = a.id) "
                "FROM appointments a WHERE a.business_id = :b"
            ),
            {"b": business_id},
        ).all()
    minutes = {info.id: info.minutes for info in store.list_appointments(business_id, active_only=False)}
    for appointment_id, status, claims in rows:
        expected = minutes[appointment_id] if status == "booked" else 0
        assert claims == expected, (appointment_id, status, claims)


def run_concurrently(count: int, work: Callable[[int], T]) -> list[T]:
    """Run `work(i)` in `count` threads released together; any exception is re-raised here."""
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results.append(work(i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
