"""No record left hanging: sessions a dead process left open are closed as `interrupted` at startup."""

from __future__ import annotations

import sqlalchemy as sa

from store import Store
from tests.support.store import db_url, pg_url, salon, store

__all__ = ["db_url", "pg_url", "store"]  # fixtures used by this module


def outcomes(store: Store) -> dict[str, str | None]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT call_sid, outcome FROM call_sessions")).all()
    return {row.call_sid: row.outcome for row in rows}


def test_open_sessions_of_the_deployment_are_closed_as_interrupted(store: Store) -> None:
    ours, other = salon(store), salon(store, name="another business")
    store.start_call_session("CAended", ours, "+972501234567")
    store.end_call_session("CAended", "caller:hangup")
    store.start_call_session("CAdied1", ours, None)
    store.start_call_session("CAdied2", ours, "+972501234568")
    store.start_call_session("CAothers", other, None)
    assert store.close_open_sessions([ours]) == 2
    seen = outcomes(store)
    assert {sid: seen[sid] for sid in ("CAended", "CAdied1", "CAdied2", "CAothers")} == {
        "CAended": "caller:hangup",
        "CAdied1": "interrupted",
        "CAdied2": "interrupted",
        "CAothers": None,
    }
    assert store.close_open_sessions([ours]) == 0, "closing again changes nothing"
