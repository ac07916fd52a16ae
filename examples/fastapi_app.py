"""The whole telephony server as a FastAPI app: callrt runs inside uvicorn's asyncio loop.

    uvicorn examples.fastapi_app:app --port 8080

    POST /twiml    Twilio's voice webhook: the business that owns the number called, `<Connect><Stream>`
                   with a one-time stream token (403 on a bad X-Twilio-Signature when TWILIO_AUTH_TOKEN is set)
    WS   /media    Twilio Media Streams: a call for each stream whose `start` brings its token back
    GET  /health, /metrics, /admin/..., /traces/...   as `callrt serve` (the console; traces for its users)

Configured like `callrt serve`, from the environment: CALLRT_DB_URL (default sqlite:///callrt.db),
CALLRT_DB_SCHEMA, OPENAI_API_KEY (none: the simulated model), CALLRT_REALTIME_URL (the simulated model
on a websocket, `callrt sim-peer --dialect ga`), TWILIO_AUTH_TOKEN, CALLRT_TRACE_DIR (default traces/),
CALLRT_PUBLIC_URL, CALLRT_FORWARDED_ALLOW_IPS, CALLRT_STREAM_SECRET, CALLRT_SECRET_KEY, CALLRT_METRICS_TOKEN.

It is `callrt serve`'s `TelephonyServer` on asyncio: its plain routes (the console, the trace viewer,
/health, /metrics) run on uvicorn's loop as they are; the webhook and the media streams, which are trio
code (the number's owner looked up in the database, the token's claim, the call), run in the process's
trio guest run (`callrt.aio`). The rest of the app stays plain asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

import callrt.aio
from callrt.cli.serve import prepare_database, tune_collector
from callrt.server.app import MAX_WEBHOOK_BODY, TelephonyServer
from callrt.server.config import ServerConfig
from callrt.server.http_limits import BodyTooLarge, limited_body
from store import Store

config = ServerConfig.from_env()
TRIO_ROUTES = ("/twiml", "/media")
"""The server's routes that are trio code: served below, through the guest run."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The schema on SQLite (PostgreSQL: `callrt db init`); a business to answer for must exist.
    prepare_database(config)
    store = Store(config.db_url, schema=config.db_schema)
    app.state.telephony = telephony = TelephonyServer(config, store, config.business_id)
    app.router.routes.extend(route for route in telephony.routes() if _path(route) not in TRIO_ROUTES)
    # As `callrt serve` does: what the app imported stays out of the collector's full passes, which
    # otherwise stop the whole loop, calls and endpoints alike (docs/performance.md).
    tune_collector()
    try:
        async with callrt.aio.lifespan():  # at shutdown: running calls are hung up, then the guest run ends
            yield
    finally:
        store.dispose()


app = FastAPI(lifespan=lifespan)


@app.post("/twiml")
async def twiml(request: Request) -> Response:
    # The body is asyncio's to read (uvicorn's receive); the webhook then runs in trio on a copy of it.
    try:
        body = await limited_body(request, MAX_WEBHOOK_BODY)
    except BodyTooLarge:
        return PlainTextResponse("request too large", status_code=413)
    except ClientDisconnect:
        return Response(status_code=408)  # the caller's side gave up: this answer goes nowhere
    replayed = Request(request.scope, receive=_replay(body))
    response: Response = await callrt.aio.current_guest().run(request.app.state.telephony.twiml, replayed)
    return response


@app.websocket("/media")
async def media(websocket: WebSocket) -> None:
    await websocket.accept()
    async with callrt.aio.WebSocketCallerLine(websocket) as caller:

        async def opened() -> Any:
            return caller.transport

        # The server's own media stream: the `start` and its token, a call slot, the claim of the CallSid,
        # the business, the trace, the call, and the stream closed with the right code when it is refused.
        await callrt.aio.current_guest().run(websocket.app.state.telephony.media_stream, opened)


def _replay(body: bytes) -> Any:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _path(route: BaseRoute) -> str | None:
    return getattr(route, "path", None)
