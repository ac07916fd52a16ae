"""SIGTERM during live calls, over loopback: `callrt serve` drains instead of cutting calls off.

/health turns 503 "draining" at once, a new media stream is refused, and the running call (a caller who
keeps listening) goes on for `--drain-s`, then hears the runtime's goodbye before the line closes; the
process then exits cleanly. Real processes, sockets and clock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from callrt.net.transport import WebSocketTransport
from callrt.sim.caller import SimulatedCaller
from callrt.sim.peer_script import SimScript
from callrt.telephony.webhook import parse_stream_twiml
from tests.support.live_server import prepare_database
from tests.support.paths import REPO_ROOT

DRAIN_S = 2.0
SCRIPT = [{"wait": "ai_done"}, {"silence_ms": 30_000}]
"""A caller who listens to the greeting, then says nothing for longer than the drain."""


async def stream_params(http: httpx.AsyncClient, call_sid: str) -> tuple[str, dict[str, str]]:
    form = {"CallSid": call_sid, "From": "+972501234567", "sim_script": SimScript(language="en").to_json()}
    response = await http.post("/twiml", data=form)
    assert response.status_code == 200, response.text
    return parse_stream_twiml(response.text)


async def test_sigterm_drains_live_calls_with_a_goodbye(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "TWILIO_AUTH_TOKEN")}
    env |= {"CALLRT_TRACE_DIR": str(tmp_path / "traces"), "PYTHONPATH": str(REPO_ROOT)}
    db_url = f"sqlite:///{tmp_path / 'drain.db'}"
    business_id = prepare_database(db_url)
    command = [sys.executable, "-m", "callrt", "serve", "--port", "0", "--drain-s", str(DRAIN_S)]
    command += ["--db", db_url, "--business-id", str(business_id)]
    process = await trio.lowlevel.open_process(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE)
    assert process.stdout is not None
    with trio.fail_after(30):
        line = (await process.stdout.receive_some(4096)).decode()
    base = line.split("listening on ", 1)[1].split(",")[0].strip()
    async with httpx.AsyncClient(base_url=base, timeout=10.0) as http:
        url, params = await stream_params(http, "CAdrain1")
        async with open_websocket_url(url) as ws:
            caller = SimulatedCaller(WebSocketTransport(ws), SCRIPT, parameters=params, call_sid="CAdrain1")
            async with trio.open_nursery() as nursery:
                report_box: list[object] = []

                async def call() -> None:
                    report_box.append(await caller.run())

                nursery.start_soon(call)
                await trio.sleep(3.0)  # the greeting is over; the caller listens
                process.send_signal(signal.SIGTERM)
                await trio.sleep(0.3)
                health = await http.get("/health")
                assert health.status_code == 503 and health.json()["status"] == "draining"
                late_url, _params = await stream_params(http, "CAdrain2")
                async with open_websocket_url(late_url) as late:
                    try:
                        await late.send_message(json.dumps({"event": "connected"}))
                        with trio.fail_after(5):
                            await late.get_message()
                        raise AssertionError("a stream was served while draining")
                    except ConnectionClosed as closed:
                        assert closed.reason is not None and closed.reason.code == 1013
        assert report_box, "the caller's script ran"
    with trio.fail_after(30):
        assert await process.wait() == 0
    events = [json.loads(x) for x in (tmp_path / "traces" / "CAdrain1.jsonl").read_text().splitlines()]
    end = next(e for e in events if e["ev"] == "call_end")
    assert end["by"] == "ai" and end["reason"] == "draining"
    goodbye = next(e for e in events if e["ev"] == "runtime_line")
    assert goodbye["line"] == "goodbye"
    assert goodbye["t"] >= (3.0 + DRAIN_S) * 1000 - 500, "the call went on for the drain's grace first"
    assert end["t"] - goodbye["t"] >= goodbye["ms"] - 100, "the goodbye was heard before the line closed"
    assert not (tmp_path / "traces" / "CAdrain2.jsonl").exists()
