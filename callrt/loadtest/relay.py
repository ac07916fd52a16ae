"""The bare relay (`callrt serve --relay`): the benchmark's baseline for what the actors cost.

The same server stack as a real call (the front door's media websocket, `TwilioCallerLine`
parsing Twilio's JSON, the call's model connector), with no actors, no VAD, no mailboxes
and no trace: every caller frame is appended to the model as it arrives, and the model's
audio is forwarded to the caller as it arrives. The session is configured like a call's
(mu-law both ways) and asked for one response, so outbound audio flows as in a greeting.
The frame lag it reports is a frame's arrival -> its append handed to the model socket.
"""

from __future__ import annotations

import contextlib

import trio

from actors import realtime_protocol as rp
from actors.config import CallConfig
from actors.messages import CallerFrame
from actors.ports import LineClosed, ModelClosed, ModelConnection, ModelConnector
from callrt.server.metrics import Metrics
from callrt.telephony.media import TwilioCallerLine

RELAY_INSTRUCTIONS = "You are a phone assistant. Greet the caller briefly."
CLOSE_TIMEOUT_S = 1.0


async def relay_call(
    line: TwilioCallerLine, model: ModelConnector, metrics: Metrics, *, language: str, config: CallConfig
) -> str:
    """Relay one call until either side leaves; returns who ended it (`caller` or `model`)."""
    dialect = rp.check_dialect(model.dialect)
    try:
        conn = await model.connect()
    except ModelClosed:
        return "model"
    ended_by = "model"
    try:
        await conn.send(rp.session_update(dialect, config, RELAY_INSTRUCTIONS, language))
        await conn.send(rp.response_create())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_model_to_caller, conn, line, dialect, nursery.cancel_scope)
            ended_by = await _caller_to_model(line, conn, metrics)
            nursery.cancel_scope.cancel()
    except ModelClosed:
        pass
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT_S), contextlib.suppress(ModelClosed):
            await conn.aclose()
    return ended_by


async def _caller_to_model(line: TwilioCallerLine, conn: ModelConnection, metrics: Metrics) -> str:
    observe = metrics.frame_lag.observe
    try:
        while True:
            event = await line.receive()
            if isinstance(event, CallerFrame):
                await conn.send(rp.input_audio_append(event.payload))
                observe((trio.current_time() - event.received_at) * 1000.0)
    except LineClosed:
        return "caller"


async def _model_to_caller(
    conn: ModelConnection, line: TwilioCallerLine, dialect: rp.Dialect, scope: trio.CancelScope
) -> None:
    try:
        while True:
            event = rp.parse_server_event(dialect, await conn.receive())
            if isinstance(event, rp.AudioDelta):
                await line.send_audio(event.audio)
    except (ModelClosed, LineClosed):
        scope.cancel()  # either side gone: the call is over
