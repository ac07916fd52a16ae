"""The telephony server live on loopback (hypercorn's trio worker, real sockets, real clock):
health, metrics, signed webhooks, stream tokens, limits, and bad input on the media socket.

Real sockets need the real clock, so these tests bound every wait with `trio.fail_after`
instead of using the virtual one; each finishes in well under a second.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, open_websocket_url, serve_websocket

from actors.call_supervisor import CallOutcome, run_call
from actors.db import StoreGateway
from actors.ports import LineClosed
from actors.trace import read_trace
from callrt.cli.serve import stop_workers
from callrt.net.transport import WebSocketTransport
from callrt.server.app import TelephonyServer, serve, token_subject
from callrt.server.config import ServerConfig
from callrt.server.metrics import Metrics
from callrt.sim.peer_script import SimScript
from callrt.sim.realtime_peer import InMemoryModelConnector
from callrt.sim.signals import silence_frames, speech_frames
from callrt.telephony.media import LineStats, TwilioCallerLine
from callrt.telephony.webhook import StreamTokens, compute_signature, parse_stream_twiml
from store import Store
from tests.support.waiting import Changes, NotifyingList

TOKEN = "twilio-auth-token"
METRICS_TOKEN = "metrics-bearer-token"
STEP_S = 5.0
"""Upper bound for any single network step on loopback."""


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")
    store.init_schema()
    return store


@pytest.fixture
def business_id(store: Store) -> int:
    return store.create_business(name="Test salon", opening_hours={"sun": [["09:00", "19:00"]]})


@asynccontextmanager
async def live(server: TelephonyServer) -> AsyncIterator[str]:
    """Serve on a free loopback port; yields the base URL (http://127.0.0.1:PORT)."""
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(partial(serve, server, bind="127.0.0.1:0"))
        yield urls[0]
        nursery.cancel_scope.cancel()


class WatchedMetrics(Metrics):
    """The server's metrics, notifying `changes` when a line opens or closes or a call starts or ends."""

    def __init__(self) -> None:
        self.changes = Changes()
        super().__init__()

    @property
    def calls_active(self) -> int:
        return self._calls_active

    @calls_active.setter
    def calls_active(self, value: int) -> None:
        self._calls_active = value
        self.changes.notify()

    def line_opened(self, stats: LineStats) -> None:
        super().line_opened(stats)
        self.changes.notify()

    def line_closed(self, stats: LineStats) -> None:
        super().line_closed(stats)
        self.changes.notify()


def make_server(store: Store, business_id: int, tmp_path: Path, **overrides: Any) -> TelephonyServer:
    config = ServerConfig(trace_dir=tmp_path / "traces", **overrides)
    return TelephonyServer(config, store, business_id, metrics=WatchedMetrics())


async def server_until(server: TelephonyServer, condition: Callable[[], bool]) -> None:
    """Wait until `condition()` holds; checked on every line and call the server opens or ends."""
    assert isinstance(server.metrics, WatchedMetrics)
    await server.metrics.changes.until(condition)


def start_message(call_sid: str, **params: str) -> str:
    return json.dumps(
        {
            "event": "start",
            "streamSid": "MZ" + call_sid,
            "start": {"streamSid": "MZ" + call_sid, "callSid": call_sid, "customParameters": params},
        }
    )


async def closed_without_a_word(ws: WebSocketConnection) -> int:
    """Waits for the server to close; fails if it sends anything first. Returns the close code."""
    with trio.fail_after(STEP_S):
        try:
            message = await ws.get_message()
        except ConnectionClosed as closed:
            assert closed.reason is not None
            return int(closed.reason.code)
    raise AssertionError(f"the server spoke before closing: {message!r}")


async def twiml_for(client: httpx.AsyncClient, base: str, call_sid: str, **extra: str) -> tuple[str, dict[str, str]]:
    params = {"CallSid": call_sid, "From": "+972501234567", **extra}
    signature = compute_signature(TOKEN, base + "/twiml", params)
    response = await client.post(base + "/twiml", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.text
    return parse_stream_twiml(response.text)


# -- HTTP routes --------------------------------------------------------------


async def test_health_and_metrics(store: Store, business_id: int, tmp_path: Path) -> None:
    server = make_server(store, business_id, tmp_path, max_calls=7, metrics_token=METRICS_TOKEN)
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        health = (await client.get(base + "/health")).json()
        # Load only: nothing about the process, its model or its businesses.
        assert health == {"status": "ok", "calls_active": 0, "max_calls": 7, "streams_pending": 0, "max_pending": 32}
        assert (await client.get(base + "/metrics")).status_code == 403
        wrong = await client.get(base + "/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 403
        response = await client.get(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        samples = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in response.text.splitlines()
            if line and not line.startswith("#")
        }
        for name in (
            "callrt_calls_active",
            "callrt_calls_total",
            "callrt_frames_total",
            "callrt_frames_dropped_total",
            "callrt_barge_ins_total",
            "callrt_restarts_total",
        ):
            assert samples[name] == 0.0
            assert f"# TYPE {name} " in response.text
        assert "# TYPE callrt_bad_messages_total counter" in response.text
        assert samples['callrt_calls_refused_total{reason="token"}'] == 0.0


async def test_twiml_needs_a_valid_signature_when_a_token_is_set(
    store: Store, business_id: int, tmp_path: Path
) -> None:
    server = make_server(store, business_id, tmp_path, auth_token=TOKEN)
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        params = {"CallSid": "CA1", "From": "+972501234567"}
        url = base + "/twiml"
        assert (await client.post(url, data=params)).status_code == 403
        wrong = compute_signature("another-token", url, params)
        assert (await client.post(url, data=params, headers={"X-Twilio-Signature": wrong})).status_code == 403
        good = compute_signature(TOKEN, url, params)
        tampered = {**params, "From": "+15550000000"}
        assert (await client.post(url, data=tampered, headers={"X-Twilio-Signature": good})).status_code == 403

        response = await client.post(url, data=params, headers={"X-Twilio-Signature": good})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        assert response.text.endswith("</Connect><Hangup/></Response>")
        stream_url, stream_params = parse_stream_twiml(response.text)
        assert stream_url == base.replace("http://", "ws://") + "/media"
        assert stream_params["caller"] == "+972501234567"
        assert stream_params["business"] == str(business_id)
        subject = token_subject("CA1", business_id)
        assert server.tokens.expiry(subject, stream_params["token"], caller="+972501234567") is not None
        # The token binds the caller line of the signed webhook: a client cannot claim another one.
        assert server.tokens.expiry(subject, stream_params["token"], caller="+972529876543") is None
        # And the business it was routed to.
        assert server.tokens.expiry("CA1", stream_params["token"], caller="+972501234567") is None
        assert "sim_script" not in stream_params

        stream_url, stream_params = await twiml_for(client, base, "CA2", sim_script='{"l":"en","s":["hi"]}')
        assert stream_params["sim_script"] == '{"l":"en","s":["hi"]}'


async def test_twiml_is_open_without_an_auth_token(store: Store, business_id: int, tmp_path: Path) -> None:
    server = make_server(store, business_id, tmp_path)
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        response = await client.post(base + "/twiml", data={"CallSid": "CA9"})
        assert response.status_code == 200
        assert (await client.post(base + "/twiml", data={"From": "+1"})).status_code == 400
        assert (await client.post(base + "/twiml", content=b"x" * 70_000)).status_code == 413


async def test_twiml_behind_a_proxy_uses_forwarded_headers(store: Store, business_id: int, tmp_path: Path) -> None:
    server = make_server(store, business_id, tmp_path, auth_token=TOKEN)
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        params = {"CallSid": "CA3", "From": "+972501234567"}
        public = "https://calls.example.com/twiml?biz=1"
        headers = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "calls.example.com",
            "X-Twilio-Signature": compute_signature(TOKEN, public, params),
        }
        response = await client.post(base + "/twiml?biz=1", data=params, headers=headers)
        assert response.status_code == 200
        assert parse_stream_twiml(response.text)[0] == "wss://calls.example.com/media"
        # Signed for the loopback URL, it no longer matches what Twilio called.
        headers["X-Twilio-Signature"] = compute_signature(TOKEN, base + "/twiml?biz=1", params)
        assert (await client.post(base + "/twiml?biz=1", data=params, headers=headers)).status_code == 403


async def test_twiml_with_a_configured_public_url(store: Store, business_id: int, tmp_path: Path) -> None:
    server = make_server(store, business_id, tmp_path, auth_token=TOKEN, public_url="https://edge.example.org/callrt/")
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        params = {"CallSid": "CA4"}
        signature = compute_signature(TOKEN, "https://edge.example.org/callrt/twiml", params)
        headers = {"X-Twilio-Signature": signature, "X-Forwarded-Host": "ignored.example.net"}
        response = await client.post(base + "/twiml", data=params, headers=headers)
        assert response.status_code == 200
        assert parse_stream_twiml(response.text)[0] == "wss://edge.example.org/callrt/media"


# -- the media socket -----------------------------------------------------------


async def test_streams_without_a_valid_token_are_closed_without_a_word(
    store: Store, business_id: int, tmp_path: Path
) -> None:
    server = make_server(store, business_id, tmp_path)
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        media = base.replace("http://", "ws://") + "/media"
        _, issued = await twiml_for(client, base, "CA10")
        foreign_token = issued["token"]
        for start in (
            start_message("CA11"),
            start_message("CA11", token="123.forged"),
            start_message("CA11", token=foreign_token),  # a genuine token, for another call
        ):
            async with open_websocket_url(media) as ws:
                await ws.send_message(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
                await ws.send_message(start)
                assert await closed_without_a_word(ws) == 1008
        assert server.metrics.calls_refused["token"] == 3
        assert server.metrics.calls_total == 0
        assert server.metrics.calls_active == 0


async def test_a_stream_that_never_starts_is_closed(store: Store, business_id: int, tmp_path: Path) -> None:
    server = make_server(store, business_id, tmp_path, start_timeout_s=0.2)
    async with live(server) as base:
        async with open_websocket_url(base.replace("http://", "ws://") + "/media") as ws:
            await ws.send_message("not even json")
            assert await closed_without_a_word(ws) == 1008
        assert server.metrics.bad_messages == {"bad_json": 1}


async def test_concurrent_call_limit(store: Store, business_id: int, tmp_path: Path) -> None:
    """Slots are taken by calls with a valid `start`; a third such call is refused with 1013."""
    server = make_server(store, business_id, tmp_path, max_calls=2)
    script = SimScript(language="en", business_name="Test salon").to_json()
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        calls = []
        for call_sid in ("CA20", "CA21", "CA22"):
            calls.append((call_sid, *(await twiml_for(client, base, call_sid, sim_script=script))))
        async with contextlib.AsyncExitStack() as running:
            for call_sid, stream_url, params in calls[:2]:
                ws = await running.enter_async_context(open_websocket_url(stream_url))
                await ws.send_message(start_message(call_sid, **params))
            with trio.fail_after(STEP_S):
                await server_until(server, lambda: server.admission.calls == 2)
            call_sid, stream_url, params = calls[2]
            async with open_websocket_url(stream_url) as third:
                await third.send_message(start_message(call_sid, **params))
                assert await closed_without_a_word(third) == 1013
            assert server.metrics.calls_refused["capacity"] == 1
        with trio.fail_after(STEP_S):
            await server_until(server, lambda: server.admission.calls == 0)
        # The slots are free again: a new stream gets as far as the token check.
        async with open_websocket_url(base.replace("http://", "ws://") + "/media") as fourth:
            await fourth.send_message(start_message("CA23"))
            assert await closed_without_a_word(fourth) == 1008


async def test_oversized_messages_close_the_stream(store: Store, business_id: int, tmp_path: Path) -> None:
    server = make_server(store, business_id, tmp_path, max_message_bytes=4096)
    async with live(server) as base, open_websocket_url(base.replace("http://", "ws://") + "/media") as ws:
        await ws.send_message(json.dumps({"event": "connected", "padding": "x" * 5000}))
        assert await closed_without_a_word(ws) == 1009


def test_config_from_environment() -> None:
    config = ServerConfig.from_env(
        {
            "CALLRT_DB_URL": "sqlite:///elsewhere.db",
            "TWILIO_AUTH_TOKEN": "abc",
            "CALLRT_TRACE_DIR": "out/traces",
            "CALLRT_STREAM_SECRET": "s" * 32,
            "CALLRT_PUBLIC_URL": "https://x.example",
        },
        port=9000,
        max_calls=None,
    )
    assert (config.db_url, config.auth_token, config.trace_dir, config.port) == (
        "sqlite:///elsewhere.db",
        "abc",
        Path("out/traces"),
        9000,
    )
    assert config.stream_secret == b"s" * 32 and config.public_url == "https://x.example"
    assert config.max_calls == ServerConfig().max_calls and config.openai_api_key is None
    shown = repr(attrs.evolve(config, openai_api_key="sk-123"))
    assert "sk-123" not in shown and "sss" not in shown


# -- a whole call over the socket ---------------------------------------------


def media_message(payload: bytes, timestamp: int) -> str:
    media = {"track": "inbound", "timestamp": str(timestamp), "payload": base64.b64encode(payload).decode()}
    return json.dumps({"event": "media", "media": media})


class TwilioSide:
    """Plays Twilio's part of a media socket: the AI's audio plays out in real time, each mark comes
    back once the audio queued before it has played, `clear` drops what is still queued."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.received_bytes = 0
        self.clears = 0
        self.play_until = 0.0
        self.pending_marks: list[tuple[float, str]] = []
        self.frames_sent = 0

    async def run(self) -> None:
        """Until the server closes the socket."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._acknowledge_marks)
            with contextlib.suppress(ConnectionClosed):
                while True:
                    message = json.loads(await self.ws.get_message())
                    now = trio.current_time()
                    if message["event"] == "media":
                        payload = base64.b64decode(message["media"]["payload"])
                        self.received_bytes += len(payload)
                        self.play_until = max(now, self.play_until) + len(payload) / 8000
                    elif message["event"] == "mark":
                        self.pending_marks.append((self.play_until, message["mark"]["name"]))
                    elif message["event"] == "clear":
                        self.clears += 1
                        self.play_until = now
                        self.pending_marks = [(now, name) for _, name in self.pending_marks]
            nursery.cancel_scope.cancel()

    async def _acknowledge_marks(self) -> None:
        # Twilio stops echoing marks once the server has closed the socket (a hang-up with audio still
        # queued); `run` sees the close and ends this task, unless this one is woken first.
        with contextlib.suppress(ConnectionClosed):
            while True:
                await trio.sleep(0.005)
                while self.pending_marks and self.pending_marks[0][0] <= trio.current_time():
                    _, name = self.pending_marks.pop(0)
                    await self.ws.send_message(json.dumps({"event": "mark", "mark": {"name": name}}))

    def playing(self) -> bool:
        return trio.current_time() < self.play_until

    async def send_frames(self, frames: list[bytes], extra: dict[int, str] | None = None) -> None:
        """Caller audio at real-time pacing; `extra` slips other messages in after the given frames."""
        for i, frame in enumerate(frames):
            await self.ws.send_message(media_message(frame, 20 * self.frames_sent))
            self.frames_sent += 1
            if extra and i in extra:
                await self.ws.send_message(extra[i])
            await trio.sleep(0.02)

    async def hang_up(self, server: TelephonyServer) -> None:
        await self.ws.send_message(json.dumps({"event": "stop", "stop": {}}))
        await server_until(server, lambda: server.metrics.calls_active == 0)


@asynccontextmanager
async def live_call(server: TelephonyServer, call_sid: str, script: SimScript) -> AsyncIterator[TwilioSide]:
    """A call through the whole edge: signed webhook, TwiML, media socket with its token."""
    async with live(server) as base, httpx.AsyncClient(timeout=STEP_S) as client:
        stream_url, params = await twiml_for(client, base, call_sid, sim_script=script.to_json())
        async with open_websocket_url(stream_url) as ws, trio.open_nursery() as nursery:
            await ws.send_message(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            await ws.send_message(start_message(call_sid, **params))
            twilio = TwilioSide(ws)
            nursery.start_soon(twilio.run)
            with trio.fail_after(30):
                yield twilio
            nursery.cancel_scope.cancel()


async def test_live_call_greets_the_caller_and_survives_bad_frames(
    store: Store, business_id: int, tmp_path: Path
) -> None:
    server = make_server(store, business_id, tmp_path, auth_token=TOKEN)
    bad = {
        5: "{ not json",
        30: json.dumps({"event": "hologram"}),
        55: json.dumps({"event": "media", "media": {"payload": "%%%", "timestamp": "0"}}),
        80: media_message(b"\xff" * 161, 0),
    }
    async with live_call(server, "CAlive1", SimScript(language="en", business_name="Test salon")) as twilio:
        await twilio.send_frames(silence_frames(2000), extra=bad)
        assert twilio.playing(), "the greeting should still be playing after 2 s"
        assert server.metrics.calls_active == 1
        await twilio.hang_up(server)
    assert twilio.received_bytes >= 8000 * 2, "less than two seconds of greeting"
    assert twilio.clears == 0
    assert server.metrics.calls_total == 1 and server.metrics.calls_ended == {"caller": 1}
    assert server.metrics.frames_total == 100
    assert server.metrics.bad_messages == {"bad_json": 1, "unknown_event": 1, "bad_base64": 1, "bad_frame_size": 1}
    metrics = server.metrics.render()
    assert 'callrt_bad_messages_total{reason="bad_frame_size"} 1' in metrics
    assert "callrt_frames_total 100" in metrics
    events = read_trace(tmp_path / "traces" / "CAlive1.jsonl")
    assert events[0].ev == "trace_start" and events[-1].ev == "trace_end"
    assert events[0].get("meta") == {
        "stream_sid": "MZCAlive1",
        "business_id": business_id,
        "model": "InMemoryModelConnector",
        "dialect": "ga",
        "language": "en",
        "caller_phone": "+972*****4567",
    }
    assert any(e.ev == "call_end" and e.get("by") == "caller" for e in events)
    assert sum(1 for e in events if e.ev == "line" and e.get("kind") == "bad_message") == 4


async def test_a_call_end_is_one_info_line_with_the_peers_call_sid_escaped(
    store: Store, business_id: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="callrt.server")  # what `callrt serve` does without -v
    server = make_server(store, business_id, tmp_path, auth_token=TOKEN)
    call_sid = "CAlog\x1b[2J\r\n2026-01-01 ERROR forged"
    async with live_call(server, call_sid, SimScript(language="en", business_name="Test salon")) as twilio:
        await twilio.send_frames(silence_frames(400))
        await twilio.hang_up(server)
    ends = [r for r in caplog.records if r.name == "callrt.server.app" and r.getMessage().startswith("call ")]
    assert [r.levelno for r in ends] == [logging.INFO]
    assert re.fullmatch(
        r"call CAlog\\u001b\[2J\\u000d\\u000a2026-01-01 ERROR forged ended: caller hung up before saying"
        rf" anything; nothing booked \(business={business_id} duration=[0-9]+\.[0-9]s appointment=none\)",
        ends[0].getMessage(),
    ), ends[0].getMessage()
    assert not any(c in record.getMessage() for record in caplog.records for c in "\x1b\r\n")


async def test_live_barge_in_clears_the_caller_and_is_counted(store: Store, business_id: int, tmp_path: Path) -> None:
    server = make_server(store, business_id, tmp_path)
    script = SimScript(language="en", business_name="Test salon", says=("I would like an appointment",))
    async with live_call(server, "CAlive2", script) as twilio:
        await twilio.send_frames(silence_frames(600))
        assert twilio.playing() and twilio.clears == 0
        await twilio.send_frames(speech_frames("I would like an appointment", 1200))
        assert twilio.clears >= 1, "speaking over the greeting did not clear it"
        assert server.metrics.barge_ins_total == 1
        await twilio.send_frames(silence_frames(400))
        await twilio.hang_up(server)
    assert "callrt_barge_ins_total 1" in server.metrics.render()
    assert server.metrics.frames_total == 110 and server.metrics.frames_dropped_total == 0


def test_workers_share_one_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'workers.db'}"
    command = [sys.executable, "-m", "callrt", "serve", "--port", "0", "--workers", "2", "--db", db_url]
    seeded = Store(db_url)
    seeded.init_schema()
    seeded.create_business(name="Workers", opening_hours={"sun": [["09:00", "19:00"]]}, phones=["+97231234567"])
    seeded.dispose()
    env = {**os.environ, "CALLRT_TRACE_DIR": str(tmp_path / "traces"), "CALLRT_METRICS_TOKEN": METRICS_TOKEN}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as parent:
        try:
            assert parent.stdout is not None
            banner = parent.stdout.readline()
            base = re.search(r"http://[\d.]+:\d+", banner)
            assert base, banner
            pids: set[int] = set()
            deadline = time.monotonic() + 20
            while len(pids) < 2 and time.monotonic() < deadline:
                try:
                    # A fresh connection each time, so the kernel picks a worker each time.
                    scrape = httpx.get(
                        base.group(0) + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=STEP_S
                    )
                    pids.add(int(re.search(r'callrt_process_info\{pid="(\d+)"\}', scrape.text).group(1)))  # type: ignore[union-attr]
                except httpx.TransportError:
                    time.sleep(0.05)  # a worker is still starting (real processes, real clock)
            assert len(pids) == 2 and parent.pid not in pids  # two worker processes answer; the parent serves nothing
        finally:
            parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=20) == 0, parent.stderr.read() if parent.stderr else ""


async def test_embedding_run_call_in_a_plain_trio_websocket_server(store: Store, business_id: int) -> None:
    """What docs/telephony.md shows: TwilioCallerLine over trio-websocket, run_call, no ASGI at all."""
    outcomes = NotifyingList[CallOutcome]()
    tokens = StreamTokens(b"the same secret your webhook uses")
    limiter = trio.CapacityLimiter(8)

    async def media_stream(request: WebSocketRequest) -> None:
        ws = await request.accept()
        line = TwilioCallerLine(WebSocketTransport(ws))
        try:
            start = await line.read_start()
        except LineClosed:
            return
        params = start.custom_parameters  # the token binds the caller line: never trust `caller` alone
        if tokens.expiry(start.call_sid, params.get("token"), caller=params.get("caller", "")) is None:
            await ws.aclose(code=1008)
            return
        outcome = await run_call(
            call_sid=start.call_sid,
            business_id=business_id,
            line=line,
            model=InMemoryModelConnector(SimScript(language="en"), "ga"),
            store=store,
            caller_phone=start.custom_parameters.get("caller"),
            gateway=StoreGateway(limiter),
        )
        outcomes.append(outcome)

    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(serve_websocket, media_stream, "127.0.0.1", 0, None))
        url = f"ws://127.0.0.1:{server.port}/"
        async with open_websocket_url(url) as ws:
            await ws.send_message(start_message("CAforged", token="1.x"))
            assert await closed_without_a_word(ws) == 1008
        async with open_websocket_url(url) as ws, trio.open_nursery() as call:
            await ws.send_message(
                start_message("CAembed", token=tokens.issue("CAembed", "+972501234567"), caller="+972501234567")
            )
            twilio = TwilioSide(ws)
            call.start_soon(twilio.run)
            with trio.fail_after(STEP_S):
                await twilio.send_frames(silence_frames(600))
                await ws.send_message(json.dumps({"event": "stop", "stop": {}}))
                await outcomes.changes.until(lambda: bool(outcomes))
            call.cancel_scope.cancel()
        nursery.cancel_scope.cancel()
    assert twilio.received_bytes > 0
    assert [(o.call_sid, o.ended_by) for o in outcomes] == [("CAembed", "caller")]


def test_with_an_api_key_calls_book_through_gpt_4o_mini_with_the_rules_as_fallback() -> None:
    from actors.appointment_nlp import RuleExtractor
    from callrt.model.llm_extractor import LlmExtractor
    from callrt.model.realtime import OpenAIRealtimeConnector
    from callrt.server.plan import plan_call
    from callrt.telephony.media import StreamStart

    start = StreamStart(stream_sid="MZ1", call_sid="CA1")
    offline = plan_call(ServerConfig(), start)
    assert isinstance(offline.model, InMemoryModelConnector) and offline.extractor is None
    online = plan_call(ServerConfig(openai_api_key="sk-test"), start)
    assert isinstance(online.model, OpenAIRealtimeConnector)
    assert isinstance(online.extractor, LlmExtractor) and isinstance(online.extractor.fallback, RuleExtractor)
    assert online.extractor.model == "gpt-4o-mini"


def _exits_on_sigterm(ready: Any) -> None:
    ready.set()
    time.sleep(60)


def _ignores_sigterm(ready: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    time.sleep(60)


def test_stopping_workers_kills_one_that_does_not_stop_in_time() -> None:
    context = multiprocessing.get_context("fork")
    ready = [context.Event(), context.Event()]
    polite = context.Process(target=_exits_on_sigterm, args=(ready[0],))
    stubborn = context.Process(target=_ignores_sigterm, args=(ready[1],))
    polite.start()
    stubborn.start()
    assert all(event.wait(10) for event in ready)
    started = time.monotonic()
    stop_workers([polite, stubborn], timeout_s=1.0)
    assert not polite.is_alive() and not stubborn.is_alive()
    assert polite.exitcode == -signal.SIGTERM and stubborn.exitcode == -signal.SIGKILL
    assert time.monotonic() - started < 5.0
