"""The simulated peer on a real loopback websocket, spoken to the way the official openai client does.

The SDK's own realtime client is asyncio-only (and needs the `websockets` package), so these tests
reproduce its handshake (URL, headers) and serialise client events with the SDK's models exactly as
its `connection.send()` does. Real clock: the peer streams ten times faster than real time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
from openai.types.realtime import (
    InputAudioBufferAppendEvent,
    InputAudioBufferCommitEvent,
    ResponseCreateEvent,
    SessionUpdateEvent,
)
from trio_websocket import ConnectionRejected, WebSocketConnection, open_websocket_url

from callrt.sim.peer_script import SimScript
from callrt.sim.realtime_peer import serve_sim_peer
from tests.support.sim_peer import session_config, ulaw_append, validate_server_event

SCRIPT = SimScript(language="en", business_name="Dana's Salon", says=("Tomorrow at six please", "Dana"))


def sdk_headers(
    *, beta: bool = False, script: SimScript | None = SCRIPT, call: str | None = None
) -> list[tuple[str, str]]:
    """What `AsyncOpenAI(api_key=…, websocket_base_url=…).realtime.connect(model=…)` sends, plus our two."""
    headers = [
        ("Authorization", "Bearer sk-test"),
        ("User-Agent", "AsyncOpenAI/Python 3.57.0"),
        ("X-Stainless-Lang", "python"),
    ]
    if beta:
        headers.append(("OpenAI-Beta", "realtime=v1"))
    if script is not None:
        headers.append(("X-Callrt-Sim-Script", script.to_json()))
    if call is not None:
        headers.append(("X-Callrt-Sim-Call", call))
    return [(name.encode(), value.encode()) for name, value in headers]


class Peer:
    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, model: str) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime?model={model}"


@pytest.fixture
async def ga_peer(nursery: trio.Nursery) -> AsyncIterator[Peer]:
    yield Peer(await nursery.start(functools.partial(serve_sim_peer, "127.0.0.1", 0, "ga")))


@pytest.fixture
async def beta_peer(nursery: trio.Nursery) -> AsyncIterator[Peer]:
    yield Peer(await nursery.start(functools.partial(serve_sim_peer, "127.0.0.1", 0, "beta")))


async def receive(ws: WebSocketConnection, dialect: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await ws.get_message())
    validate_server_event(event, dialect)
    return event


async def until(ws: WebSocketConnection, dialect: str, event_type: str) -> dict[str, Any]:
    with trio.fail_after(10):
        while (event := await receive(ws, dialect))["type"] != event_type:
            pass
    return event


async def test_ga_exchange_with_sdk_built_events(ga_peer: Peer) -> None:
    async with open_websocket_url(ga_peer.url("gpt-realtime"), extra_headers=sdk_headers()) as ws:
        created = await receive(ws, "ga")
        assert created["type"] == "session.created" and created["session"]["model"] == "gpt-realtime"
        update = SessionUpdateEvent.model_validate({"type": "session.update", "session": session_config("ga")})
        await ws.send_message(update.to_json(use_api_names=True, exclude_defaults=True, exclude_unset=True))
        updated = await until(ws, "ga", "session.updated")
        assert updated["session"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
        await ws.send_message(ResponseCreateEvent(type="response.create").to_json(exclude_unset=True))
        done = await until(ws, "ga", "response.done")
        assert done["response"]["status"] == "completed"
        assert done["response"]["output"][0]["content"][0]["transcript"].startswith(
            "Hello, you've reached Dana's Salon"
        )
        append = InputAudioBufferAppendEvent.model_validate(ulaw_append(1500))
        await ws.send_message(append.to_json(exclude_unset=True))
        await ws.send_message(InputAudioBufferCommitEvent(type="input_audio_buffer.commit").to_json(exclude_unset=True))
        completed = await until(ws, "ga", "conversation.item.input_audio_transcription.completed")
        assert completed["transcript"] == "Tomorrow at six please"


async def test_beta_exchange(beta_peer: Peer) -> None:
    url = beta_peer.url("gpt-4o-realtime-preview")
    async with open_websocket_url(url, extra_headers=sdk_headers(beta=True)) as ws:
        assert (await receive(ws, "beta"))["session"]["model"] == "gpt-4o-realtime-preview"
        await ws.send_message(json.dumps({"type": "session.update", "session": session_config("beta")}))
        await until(ws, "beta", "session.updated")
        await ws.send_message(json.dumps({"type": "response.create"}))
        kinds = []
        with trio.fail_after(10):
            while (event := await receive(ws, "beta"))["type"] != "response.done":
                kinds.append(event["type"])
        assert kinds[:4] == [
            "response.created",
            "response.output_item.added",
            "conversation.item.created",
            "response.content_part.added",
        ]
        assert "response.audio.delta" in kinds and "response.audio_transcript.done" in kinds


async def test_handshake_is_refused_like_the_service(ga_peer: Peer, beta_peer: Peer) -> None:
    cases = [
        (ga_peer.url("gpt-realtime"), [h for h in sdk_headers() if h[0] != b"Authorization"], 401),
        (ga_peer.url("gpt-realtime").replace("/v1/realtime", "/v1/chat"), sdk_headers(), 404),
        (ga_peer.url("gpt-realtime"), sdk_headers(beta=True), 400),  # beta header on a GA peer
        (beta_peer.url("gpt-4o-realtime-preview"), sdk_headers(), 400),  # beta peer without the header
        (ga_peer.url("gpt-realtime"), [*sdk_headers(script=None), (b"X-Callrt-Sim-Script", b"{oops")], 400),
    ]
    for url, headers, status in cases:
        with pytest.raises(ConnectionRejected) as rejected:
            async with open_websocket_url(url, extra_headers=headers):
                pass
        assert rejected.value.status_code == status
        assert json.loads(rejected.value.body or b"{}")["error"]["type"] == "invalid_request_error"


async def test_without_a_script_the_greeting_still_works(ga_peer: Peer) -> None:
    async with open_websocket_url(ga_peer.url("gpt-realtime"), extra_headers=sdk_headers(script=None)) as ws:
        await receive(ws, "ga")
        await ws.send_message(json.dumps({"type": "session.update", "session": session_config("ga")}))
        await until(ws, "ga", "session.updated")
        await ws.send_message(json.dumps({"type": "response.create"}))
        done = await until(ws, "ga", "response.done")
        assert done["response"]["output"][0]["content"][0]["transcript"].endswith("איך אפשר לעזור?")
        await ws.send_message(json.dumps(ulaw_append(500)))
        await ws.send_message(json.dumps({"type": "input_audio_buffer.commit"}))
        failed = await until(ws, "ga", "conversation.item.input_audio_transcription.failed")
        assert failed["error"]["code"] == "audio_unintelligible"


async def test_connections_of_one_call_share_the_script(ga_peer: Peer) -> None:
    transcripts = []
    for _ in range(2):
        headers = sdk_headers(call="CA123")
        async with open_websocket_url(ga_peer.url("gpt-realtime"), extra_headers=headers) as ws:
            await receive(ws, "ga")
            await ws.send_message(json.dumps({"type": "session.update", "session": session_config("ga")}))
            await until(ws, "ga", "session.updated")
            await ws.send_message(json.dumps(ulaw_append(500)))
            await ws.send_message(json.dumps({"type": "input_audio_buffer.commit"}))
            completed = await until(ws, "ga", "conversation.item.input_audio_transcription.completed")
            transcripts.append(completed["transcript"])
    assert transcripts == ["Tomorrow at six please", "Dana"]
