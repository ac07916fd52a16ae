"""The example FastAPI app with test-only routes: `GET /ping`, an asyncio endpoint whose latency shows
whether the calls block the host's loop; `GET /loop`, how long trio's batches held the loop (CPU ms); and
`WS /media-open`, the media stream without a webhook or token
(a host with no webhook, for `callrt call --media-url` alone)."""

from __future__ import annotations

import trio
from fastapi import WebSocket
from fastapi.responses import PlainTextResponse

import callrt.aio
from callrt.server.plan import plan_call
from examples.fastapi_app import app, config

__all__ = ["app"]


@app.get("/ping")
async def ping() -> PlainTextResponse:
    return PlainTextResponse("pong")


@app.get("/loop")
async def loop_holds() -> dict[str, float]:
    return callrt.aio.current_guest().holds.summary()


@app.websocket("/media-open")
async def media_open(websocket: WebSocket) -> None:
    await websocket.accept()
    async with callrt.aio.WebSocketCallerLine(websocket) as caller:
        start = await caller.read_start()
        if start is None:
            return
        plan = plan_call(config, start)
        store = app.state.telephony.store
        guest = callrt.aio.current_guest()
        [business_id, *_] = await guest.run(trio.to_thread.run_sync, store.business_ids)  # the database: trio's
        await callrt.aio.run_call(
            call_sid=start.call_sid,
            business_id=business_id,
            line=caller.line,
            model=plan.model,
            store=store,
            caller_phone=start.custom_parameters.get("caller") or None,
            language=plan.language or "en",
        )
