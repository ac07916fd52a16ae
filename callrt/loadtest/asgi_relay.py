"""A conventional asyncio relay: `callrt bench --baseline asgi-relay`'s measure of what callrt costs.

The relay most users start from, in its own process: FastAPI on uvicorn serves Twilio's media
websocket, and each call opens the Realtime API's websocket with the `websockets` asyncio client.
The model's server VAD decides the turns. Per call: on `start` it connects to the model,
configures the session (mu-law both ways, `turn_detection: server_vad`) and asks for a greeting;
every `media` becomes an `input_audio_buffer.append`; every audio delta becomes a `media` and a
`mark` to the caller; on `input_audio_buffer.speech_started` while the caller still plays audio
(marks not yet echoed) it sends `clear` and truncates the reply to what was heard. Messages are
read and written with the standard library's `json`. No actors, no local VAD, no store, no trace,
no stream token check.

Measurement, apart from the relay's logic: `/metrics` in callrt's names (the bench scrapes it as it
scrapes `callrt serve`), and each message stamped by the websocket protocol when it parsed it off
the socket (`StampedWebSocketProtocol`), so the frame lag (arrival -> append handed to the model's
socket) includes the wait for the call's task, as callrt's includes the wait for its AudioActor.
The barge-in reaction is the speech-onset frame's arrival -> `clear` sent; the onset frame is the
one at `audio_start_ms` plus the service's default prefix padding, which this session keeps.

    python -m callrt.loadtest.asgi_relay --port 0 --realtime-url ws://127.0.0.1:8765/v1/realtime
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import os
import socket
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from starlette.types import Message
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from actors.defaults import DEFAULT_REALTIME_MODELS
from callrt.logsafe import escape_for_log
from callrt.server.metrics import Metrics
from callrt.telephony.media import LineStats

READY = "asgi relay:"
RECEIVED_AT = "callrt.received_at"
"""The key `StampedWebSocketProtocol` adds to each received message: `time.perf_counter()` at parse."""
INSTRUCTIONS = "You are a phone assistant. Greet the caller briefly."
FRAME_MS = 20
PREFIX_PADDING_MS = 300
"""The service's default `prefix_padding_ms`: `speech_started`'s `audio_start_ms` is this much before the onset."""
ARRIVALS_KEPT = 500
"""Arrival times of a call's last 10 s of frames, to find a barge-in's onset frame."""
AUDIO_DELTA = "response.output_audio.delta"
CONNECT_TIMEOUT_S = 10.0

log = logging.getLogger(__name__)


class _StampingQueue(asyncio.Queue[Any]):
    def put_nowait(self, item: Any) -> None:
        if item.get("type") == "websocket.receive":
            item[RECEIVED_AT] = time.perf_counter()
        super().put_nowait(item)


class StampedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's default websocket protocol, each received message stamped with the time it was parsed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _StampingQueue()


def session_update() -> dict[str, Any]:
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "instructions": INSTRUCTIONS,
            "output_modalities": ["audio"],
            "audio": {
                "input": {"format": {"type": "audio/pcmu"}, "turn_detection": {"type": "server_vad"}},
                "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy"},
            },
        },
    }


class RelayCall:
    """One media stream relayed to one model session."""

    def __init__(self, caller: WebSocket, model_url: str, api_key: str, metrics: Metrics) -> None:
        self.caller = caller
        self.model_url = model_url
        self.api_key = api_key
        self.metrics = metrics
        self.stats = LineStats()
        self.stream_sid = ""
        self.marks: collections.deque[str] = collections.deque()
        """Marks sent and not echoed yet: the caller is still playing the reply."""
        self.arrivals: collections.deque[float] = collections.deque(maxlen=ARRIVALS_KEPT)
        self.latest_media_ms = 0
        self.reply_item: str | None = None
        self.reply_started_ms = 0
        """The caller's media timestamp when the current reply's first audio went out."""

    async def run(self) -> str:
        """Relay until either side leaves; who ended the call (`caller` or `model`)."""
        start = await self._read_start()
        if start is None:
            return "caller"
        self.stream_sid = str(start.get("streamSid") or "")
        headers = {"Authorization": f"Bearer {self.api_key}"}
        # The simulated model's script and call id ride on headers, as callrt's server sends them.
        parameters = start.get("customParameters")
        if isinstance(parameters, dict) and isinstance(parameters.get("sim_script"), str):
            headers["X-Callrt-Sim-Script"] = parameters["sim_script"]
        if isinstance(start.get("callSid"), str):
            headers["X-Callrt-Sim-Call"] = start["callSid"]
        async with connect(self.model_url, additional_headers=headers, open_timeout=CONNECT_TIMEOUT_S) as model:
            await model.send(json.dumps(session_update()))
            await model.send(json.dumps({"type": "response.create"}))
            to_model = asyncio.create_task(self._caller_to_model(model))
            to_caller = asyncio.create_task(self._model_to_caller(model))
            done, pending = await asyncio.wait((to_model, to_caller), return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                task.result()
        return "caller" if to_model in done else "model"

    async def _read_start(self) -> dict[str, Any] | None:
        while True:
            event = await self._next_event()
            if event is None:
                return None
            if event.get("event") == "start" and isinstance(event.get("start"), dict):
                start: dict[str, Any] = event["start"]
                return start

    async def _next_event(self) -> dict[str, Any] | None:
        """The caller's next well-formed message (None once it hung up); malformed ones are counted and skipped."""
        while True:
            message: Message = await self.caller.receive()
            if message["type"] == "websocket.disconnect":
                return None
            try:
                event = json.loads(message.get("text") or "")
            except ValueError:
                event = None
            if isinstance(event, dict):
                event[RECEIVED_AT] = message[RECEIVED_AT]
                return event
            self.stats.bad["json"] += 1

    async def _caller_to_model(self, model: ClientConnection) -> None:
        while (event := await self._next_event()) is not None:
            kind = event.get("event")
            if kind == "media":
                media = event.get("media")
                payload = media.get("payload") if isinstance(media, dict) else None
                if not isinstance(media, dict) or not isinstance(payload, str):
                    self.stats.bad["media"] += 1
                    continue
                with contextlib.suppress(TypeError, ValueError):
                    self.latest_media_ms = int(media["timestamp"])
                await model.send(json.dumps({"type": "input_audio_buffer.append", "audio": payload}))
                received = event[RECEIVED_AT]
                self.metrics.frame_lag.observe((time.perf_counter() - received) * 1000.0)
                self.arrivals.append(received)
                self.stats.frames_in += 1
            elif kind == "mark":
                self.stats.marks_in += 1
                if self.marks:
                    self.marks.popleft()
            elif kind == "stop":
                return

    async def _model_to_caller(self, model: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in model:
                event = json.loads(raw)
                kind = event.get("type")
                if kind == AUDIO_DELTA:
                    await self._play(event)
                elif kind == "input_audio_buffer.speech_started" and self.marks:
                    await self._barge_in(model, event)
                elif kind == "error":
                    log.warning("model error: %s", escape_for_log(str(event.get("error"))))

    async def _play(self, event: dict[str, Any]) -> None:
        if event.get("item_id") != self.reply_item:
            self.reply_item = event.get("item_id")
            self.reply_started_ms = self.latest_media_ms
        media = {"event": "media", "streamSid": self.stream_sid, "media": {"payload": event["delta"]}}
        await self.caller.send_text(json.dumps(media))
        await self.caller.send_text(json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": "ai"}}))
        self.marks.append("ai")
        self.stats.frames_out += 1
        self.stats.marks_out += 1

    async def _barge_in(self, model: ClientConnection, event: dict[str, Any]) -> None:
        """The caller talks over the reply: stop its playout, and tell the model how much of it was heard."""
        await self.caller.send_text(json.dumps({"event": "clear", "streamSid": self.stream_sid}))
        reacted = time.perf_counter()
        self.stats.clears += 1
        self.metrics.barge_ins_total += 1
        onset = self._arrival_of((int(event.get("audio_start_ms", 0)) + PREFIX_PADDING_MS) // FRAME_MS)
        if onset is not None:
            self.metrics.barge_in_reaction.observe((reacted - onset) * 1000.0)
        if self.reply_item is not None:
            heard_ms = max(0, self.latest_media_ms - self.reply_started_ms)
            truncate = {"item_id": self.reply_item, "content_index": 0, "audio_end_ms": heard_ms}
            await model.send(json.dumps({"type": "conversation.item.truncate", **truncate}))
        self.marks.clear()
        self.reply_item = None

    def _arrival_of(self, frame_index: int) -> float | None:
        """When the call's `frame_index`-th frame arrived, if it is among those kept."""
        first_kept = self.stats.frames_in - len(self.arrivals)
        offset = frame_index - first_kept
        return self.arrivals[offset] if 0 <= offset < len(self.arrivals) else None


def model_url_with_model(url: str) -> str:
    """The Realtime URL as a client gives it: with its `model` query parameter."""
    return url if "?" in url else f"{url}?model={DEFAULT_REALTIME_MODELS['ga']}"


def create_app(model_url: str, api_key: str, metrics_token: str | None) -> FastAPI:
    app = FastAPI()
    metrics = Metrics()
    url = model_url_with_model(model_url)

    @app.websocket("/media")
    async def media(websocket: WebSocket) -> None:
        await websocket.accept()
        call = RelayCall(websocket, url, api_key, metrics)
        metrics.calls_active += 1
        metrics.calls_total += 1
        metrics.line_opened(call.stats)
        ended_by = "error"
        try:
            ended_by = await call.run()
        except WebSocketDisconnect:  # the caller left while the reply was being sent
            ended_by = "caller"
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            log.warning("call could not reach the model: %s", escape_for_log(repr(exc)))
        finally:
            metrics.calls_ended[ended_by] += 1
            metrics.calls_active -= 1
            metrics.line_closed(call.stats)
            with contextlib.suppress(RuntimeError, OSError):
                await websocket.close()

    @app.get("/metrics")
    async def metrics_page(request: Request) -> Response:
        if metrics_token and request.headers.get("authorization") != f"Bearer {metrics_token}":
            return Response(status_code=401)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callrt.loadtest.asgi_relay", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--realtime-url", required=True, help="the model's websocket (ws://…/v1/realtime)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(
        args.realtime_url, os.environ.get("OPENAI_API_KEY") or "bench", os.environ.get("CALLRT_METRICS_TOKEN")
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(1024)  # connections wait in the backlog until uvicorn accepts them
    config = uvicorn.Config(app, ws=StampedWebSocketProtocol, log_level="warning", lifespan="off")
    print(f"{READY} http://{args.host}:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
