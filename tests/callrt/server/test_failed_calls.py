"""A call the caller could not use, live on loopback: the server logs it at ERROR once it ends and counts
it in `callrt_calls_failed_total{reason}`, with the reason `callrt.scenario.call_failure` gives; a call
that went well is neither logged nor counted as failed."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from actors.trace import read_trace
from callrt.sim.peer_script import SimScript
from callrt.sim.signals import silence_frames
from store import Store
from tests.callrt.server.test_app import business_id, live_call, make_server, store

__all__ = ["business_id", "store"]  # fixtures used by this module

REFUSE_EVERY_SESSION = {"at_ms": 0, "kind": "refuse_session", "field": "*"}
REFUSING = SimScript.from_scenario(
    {"language": "en", "business": {"name": "Test salon"}, "faults": [REFUSE_EVERY_SESSION]}
)


def failed_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "callrt.server.app" and record.levelno == logging.ERROR and "failed (" in record.getMessage()
    ]


async def test_a_model_that_refuses_every_session_is_a_failed_call(
    store: Store, business_id: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(store, business_id, tmp_path)
    async with live_call(server, "CAfailed1", REFUSING) as twilio:
        await twilio.send_frames(silence_frames(200))
        await twilio.hang_up(server)  # after the handoff line the AI has hung up already: this only waits
    assert twilio.received_bytes > 0, "the caller heard the handoff line"
    assert server.metrics.calls_failed == {"session_refused": 1}
    assert 'callrt_calls_failed_total{reason="session_refused"} 1' in server.metrics.render()
    [line] = failed_lines(caplog)
    assert re.fullmatch(
        r"call CAfailed1 failed \(session_refused\): failed: the model refused every session configuration;"
        rf" the caller heard the handoff line \(business={business_id} duration=[0-9]+\.[0-9]s appointment=none\)",
        line,
    ), line
    events = read_trace(tmp_path / "traces" / "CAfailed1.jsonl")
    assert [e.get("reason") for e in events if e.ev == "call_failed"] == ["session_refused"]


async def test_a_business_with_broken_settings_is_a_failed_call(
    store: Store, business_id: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE appointment_settings SET slot_size_min = 0 WHERE business_id = :id"), {"id": business_id}
        )
    server = make_server(store, business_id, tmp_path)
    script = SimScript(language="en", business_name="Test salon")
    async with live_call(server, "CAfailed2", script) as twilio:
        await twilio.send_frames(silence_frames(200))
        await twilio.hang_up(server)
    assert server.metrics.calls_failed == {"invalid_settings": 1}
    [line] = failed_lines(caplog)
    assert line.startswith("call CAfailed2 failed (invalid_settings): failed: the business's settings are invalid")
    assert f"business {business_id} has invalid settings" in line


async def test_a_call_that_went_well_is_not_counted_as_failed(
    store: Store, business_id: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(store, business_id, tmp_path)
    async with live_call(server, "CAfine", SimScript(language="en", business_name="Test salon")) as twilio:
        await twilio.send_frames(silence_frames(1000))
        await twilio.hang_up(server)
    assert server.metrics.calls_ended == {"caller": 1}
    assert server.metrics.calls_failed == {}
    assert failed_lines(caplog) == []
