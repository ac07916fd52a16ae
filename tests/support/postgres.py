"""The local PostgreSQL the store tests run on: reachable, or skipped (never on CI, where it must run)."""

from __future__ import annotations

import os

import pytest

POSTGRES_URL = os.environ.get("CALLRT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_reachable() -> bool:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def require_postgres() -> str:
    """The PostgreSQL URL; skips when unreachable, except on CI where it must run."""
    if postgres_reachable():
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL is unreachable on CI: its tests must run, not skip")
    pytest.skip("PostgreSQL unreachable (127.0.0.1:5432, database test)")
