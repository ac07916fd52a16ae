"""The conventional relay (`callrt bench --baseline asgi-relay`) speaks Twilio's Media Streams to a caller and
the Realtime GA dialect to the simulated model, both real processes over loopback websockets."""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from callrt.loadtest import asgi_relay, procs, prom
from callrt.loadtest.wsclient import RawWebSocket
from callrt.sim.peer_script import SimScript
from callrt.sim.signals import silence_frames, speech_frames

TOKEN = secrets.token_urlsafe(16)
SCRIPT = SimScript(language="en", business_name="Bench Barbers", says=("What are your hours?",))


@pytest.fixture
def relay_url(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "OPENAI_API_KEY": "", "CALLRT_METRICS_TOKEN": TOKEN}
    peer = procs.start("sim-peer", ["sim-peer", "--port", "0", "--dialect", "ga"], tmp_path, env, None, "simulated")
    try:
        args = ["--port", "0", "--realtime-url", peer.url + "/v1/realtime"]
        relay = procs.start("asgi-relay", args, tmp_path, env, None, asgi_relay.READY, module=asgi_relay.__name__)
        try:
            yield relay.url
        finally:
            relay.stop()
    finally:
        peer.stop()


def metrics(url: str) -> dict[str, float]:
    return prom.parse(httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)


def media(frame: bytes, index: int) -> str:
    payload = base64.b64encode(frame).decode()
    body = {"track": "inbound", "chunk": str(index + 1), "timestamp": str(index * 20), "payload": payload}
    return json.dumps({"event": "media", "media": body, "streamSid": "MZ1"})


def test_greets_skips_bad_messages_and_clears_the_reply_the_caller_talks_over(relay_url: str) -> None:
    frames = trio.run(a_call_talking_over_the_greeting, relay_url)
    deadline = time.monotonic() + 10.0
    while metrics(relay_url).get("callrt_calls_active", 1) > 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the relay's handler ends a moment after the caller's stop
    samples = metrics(relay_url)
    assert samples['callrt_bad_messages_total{reason="json"}'] == 1
    assert samples['callrt_bad_messages_total{reason="media"}'] == 1
    assert samples["callrt_frames_total"] == samples["callrt_frame_lag_seconds_count"] == frames
    assert samples["callrt_barge_ins_total"] == 1 and samples["callrt_barge_in_reaction_seconds_count"] == 1
    assert samples['callrt_calls_ended_total{by="caller"}'] == 1
    assert httpx.get(relay_url + "/metrics").status_code == 401


async def a_call_talking_over_the_greeting(relay_url: str) -> int:
    """A caller that sends two malformed messages, 400 ms of line noise, then speech before echoing any mark;
    returns the frames it sent."""
    ws = await RawWebSocket.connect(relay_url.replace("http://", "ws://") + "/media")
    start = {"streamSid": "MZ1", "callSid": "CA1", "customParameters": {"sim_script": SCRIPT.to_json()}}
    await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    await ws.send(json.dumps({"event": "start", "start": start, "streamSid": "MZ1"}))
    await ws.send("not json")  # counted and skipped: the call goes on
    await ws.send(json.dumps({"event": "media", "media": {"track": "inbound"}, "streamSid": "MZ1"}))
    frames = silence_frames(400) + speech_frames("Hi, sorry, a quick question", 600)
    for index, frame in enumerate(frames[:20]):
        await ws.send(media(frame, index))
    with trio.fail_after(20):
        first = json.loads(await ws.receive())
        assert first["event"] == "media" and first["streamSid"] == "MZ1" and first["media"]["payload"]
        assert json.loads(await ws.receive()) == {"event": "mark", "streamSid": "MZ1", "mark": {"name": "ai"}}
        # The caller speaks before echoing any mark, so the greeting is still playing: the model's VAD hears
        # speech and the relay clears the caller's buffer.
        for index, frame in enumerate(frames[20:], start=20):
            await ws.send(media(frame, index))
        while (message := json.loads(await ws.receive()))["event"] != "clear":
            assert message["event"] in ("media", "mark")
        assert message == {"event": "clear", "streamSid": "MZ1"}
        await ws.send(json.dumps({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CA1"}}))
        await ws.aclose()
    return len(frames)
