"""Several businesses per server, live on loopback: the called number (`To`) picks the business, an
unknown number hears a short apology and a hang-up, and a stream cannot claim another business."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from actors.trace import read_trace
from store import Store
from tests.callrt.server.test_app import (
    STEP_S,
    closed_without_a_word,
    live,
    make_server,
    server_until,
    start_message,
)

SALON, BARBER = "+97231234567", "+442071234567"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")
    store.init_schema()
    return store


async def test_the_called_number_picks_the_business(store: Store, tmp_path: Path) -> None:
    salon = store.create_business(name="Salon", opening_hours={"sun": [["09:00", "19:00"]]}, phones=[SALON])
    barber = store.create_business(
        name="Barber", opening_hours={"mon": [["09:00", "17:00"]]}, language="en", phones=[BARBER]
    )
    server = make_server(store, None, tmp_path)  # type: ignore[arg-type]
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        for call_sid, number, business in (("CAsalon", SALON, salon), ("CAbarber", BARBER, barber)):
            response = await client.post(base + "/twiml", data={"CallSid": call_sid, "To": number, "From": "+1"})
            assert f'<Parameter name="business" value="{business}"/>' in response.text
        stream_url = base.replace("http://", "ws://") + "/media"
        response = await client.post(base + "/twiml", data={"CallSid": "CAbarber2", "To": BARBER, "From": "+1"})
        token = response.text.split('name="token" value="')[1].split('"')[0]
        async with open_websocket_url(stream_url) as ws:
            # The barber's token, presented as a call for the salon: refused.
            await ws.send_message(start_message("CAbarber2", token=token, caller="+1", business=str(salon)))
            assert await closed_without_a_word(ws) == 1008
        async with open_websocket_url(stream_url) as ws:
            await ws.send_message(start_message("CAbarber2", token=token, caller="+1", business=str(barber)))
            await ws.send_message(json.dumps({"event": "stop", "stop": {}}))
            with trio.fail_after(STEP_S):
                await server_until(server, lambda: server.metrics.calls_total >= 1 and not server.metrics.calls_active)
    events = read_trace(tmp_path / "traces" / "CAbarber2.jsonl")
    assert events[0].get("meta")["business_id"] == barber
    assert next(e for e in events if e.ev == "call_start").get("business_id") == barber


async def test_an_unknown_number_hears_a_short_apology(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store.create_business(name="Salon", opening_hours={"sun": [["09:00", "19:00"]]}, phones=[SALON])
    server = make_server(store, None, tmp_path)  # type: ignore[arg-type]
    caplog.set_level(logging.WARNING, "callrt.server.app")
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        response = await client.post(base + "/twiml", data={"CallSid": "CAlost\r\nforged", "To": "+1555000\x1b1111"})
    assert response.status_code == 200
    assert response.text.endswith(
        "<Response><Say>Sorry, this number is not in service. Goodbye.</Say><Hangup/></Response>"
    )
    assert "<Connect>" not in response.text
    assert [r.getMessage() for r in caplog.records if "no business has this number" in r.getMessage()] == [
        "call CAlost\\u000d\\u000aforged to +1555000\\u001b1111: no business has this number; said sorry, hung up"
    ]
    assert server.metrics.calls_refused["unknown_number"] == 1
