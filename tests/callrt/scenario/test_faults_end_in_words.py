"""Faults that used to mean dead air end in words, and the promise of a callback is a stored record.

Scenario calls (virtual time, the simulated model) against SQLite and PostgreSQL: a business whose
settings were broken by hand in the database, and a database that refuses connections while the AI
promises a callback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import trio
import trio.testing

from actors.config import CallConfig
from callrt.scenario.model import load_scenario, parse_scenario
from callrt.scenario.runner import RunOptions, ScenarioCall, create_business
from store import Store
from store.errors import BrokenSettings
from tests.support.paths import SCENARIOS_DIR
from tests.support.store import db_url, pg_url, store

__all__ = ["db_url", "pg_url", "store"]  # fixtures used by this module


def run(scenario_name: str, store: Store, business_id: int | None, tmp_path: Path, **changes: object) -> dict:
    """One scenario call; its call sid is unique within the database (PostgreSQL's is shared by the module)."""
    raw = dict(load_scenario(SCENARIOS_DIR / f"{scenario_name}.json").raw)
    raw.update(changes)
    scenario = parse_scenario(raw)
    business_id = business_id if business_id is not None else create_business(store, scenario)
    call = ScenarioCall(scenario, store, business_id, RunOptions(trace_dir=tmp_path), index=business_id)
    report: dict = trio.run(call.run, clock=trio.testing.MockClock(autojump_threshold=0))
    return report


@pytest.mark.parametrize(
    "column, value",
    [("opening_hours_json", '{"mon": [["nine", "five"]]}'), ("slot_size_min", "0")],
)
def test_a_business_with_hand_broken_settings_still_answers_and_hands_off(
    store: Store, tmp_path: Path, column: str, value: str
) -> None:
    scenario = load_scenario(SCENARIOS_DIR / "booking-en.json")
    business_id = create_business(store, scenario)
    with store.engine.begin() as conn:
        literal = f"'{value}'" if column == "opening_hours_json" else value
        conn.execute(sa.text(f"UPDATE appointment_settings SET {column} = {literal} WHERE business_id = {business_id}"))
    with pytest.raises(BrokenSettings, match=f"business {business_id} has invalid settings"):
        store.get_business(business_id)
    report = run("booking-en", store, business_id, tmp_path)
    assert report["violations"] == []
    assert report["appointments"] == [], "no booking with settings nobody can read"
    assert report["ai_turns"], "the caller is greeted"
    assert report["callbacks_recorded"] == ["invalid_settings"]
    [request] = store.callback_requests(business_id)
    assert request.reason == "invalid_settings" and request.phone == scenario.caller_phone
    assert report["hangup"]["by"] == "ai"
    assert report["failed"]["reason"] == "invalid_settings", "a call nobody could book on is a failed call"


def test_a_callback_promised_while_the_database_is_down_is_stored_when_it_returns(store: Store, tmp_path: Path) -> None:
    """db-down-long with a 25 s outage: the booking fails and the AI promises a callback; the request waits in
    memory, is retried, and is in the database once it is back (before the call's end)."""
    report = run("db-down-long", store, None, tmp_path, faults=[{"at_ms": 5000, "kind": "db_down", "ms": 25000}])
    assert report["violations"] == []
    assert report["appointments"] == []
    assert report["callbacks_recorded"] == ["db_unavailable"]
    business_id = store.business_ids()[-1]
    [request] = store.callback_requests(business_id)
    assert request.phone == "+972501234567"
    assert request.request == "אני רוצה פגישה מחר בשש בערב, קוראים לי דנה"
    assert request.call_sid is not None and request.call_sid.endswith("db-down-long")


def test_no_call_outlives_its_maximum_duration(store: Store, tmp_path: Path) -> None:
    scenario = parse_scenario(load_scenario(SCENARIOS_DIR / "booking-en.json").raw)
    business_id = create_business(store, scenario)
    options = RunOptions(trace_dir=tmp_path, config=CallConfig(max_call_s=12.0))
    call = ScenarioCall(scenario, store, business_id, options, index=business_id)
    report = trio.run(call.run, clock=trio.testing.MockClock(autojump_threshold=0))
    assert report["violations"] == []
    assert report["hangup"]["by"] == "ai" and report["hangup"]["reason"] == "max_duration"
    [goodbye] = report["runtime_lines"]
    assert goodbye["line"] == "goodbye" and 12_000 <= goodbye["at_ms"] < 12_100
    assert report["hangup"]["at_ms"] < 12_000 + 10_000, "the goodbye is heard, then the line closes"


def test_the_session_end_is_retried_while_the_database_is_down_at_the_end(store: Store, tmp_path: Path) -> None:
    """The database refuses connections from a second before the call ends until 1.5 s after: the session's
    end is retried with backoff inside the call and written once it is back (not left open)."""
    baseline = run("caller-hangs-up", store, None, tmp_path / "baseline")
    end_ms = baseline["hangup"]["at_ms"]
    outage = [{"at_ms": end_ms - 1000, "kind": "db_down", "ms": 2500}]
    report = run("caller-hangs-up", store, None, tmp_path, faults=outage, name="caller-hangs-up-db-down-at-end")
    assert report["violations"] == []
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT outcome, ended_at FROM call_sessions WHERE call_sid LIKE '%caller-hangs-up-db-down-at-end'")
        ).one()
    assert row.ended_at is not None and row.outcome.startswith("caller:")
    logged = Path(report["trace"]).read_text(encoding="utf-8")
    assert "end_call_session failed" in logged and "retrying in" in logged, "the outage was met, and waited out"
