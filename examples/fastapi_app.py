"""The whole telephony server as a FastAPI app: callrt runs inside uvicorn's asyncio loop.

    uvicorn examples.fastapi_app:app --port 8080

    POST /twiml    Twilio's voice webhook: `<Connect><Stream>` with a one-time stream token
                   (403 on a bad X-Twilio-Signature when TWILIO_AUTH_TOKEN is set)
    WS   /media    Twilio Media Streams: a call for each stream whose `start` brings its token back
    GET  /traces   the trace viewer (`callrt call --server` reads each call's trace there)

Configured like `callrt serve`, from the environment: CALLRT_DB_URL (default sqlite:///callrt.db),
CALLRT_DB_SCHEMA, OPENAI_API_KEY (none: the simulated model), CALLRT_REALTIME_URL (the simulated model
on a websocket, `callrt sim-peer --dialect ga`), TWILIO_AUTH_TOKEN, CALLRT_TRACE_DIR (default traces/),
CALLRT_PUBLIC_URL, CALLRT_FORWARDED_ALLOW_IPS, CALLRT_STREAM_SECRET. The webhook and the stream's admission
are `callrt serve`'s own (`TelephonyServer.twiml`, `.claims`); every call runs in the process's trio
guest run (callrt.aio), and the rest of the app stays plain asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response, WebSocket

import callrt.aio
from actors import Trace, trace_file
from callrt.cli.serve import prepare_database, tune_collector
from callrt.server.app import CLOSE_POLICY, ServerConfig, TelephonyServer
from callrt.server.plan import plan_call
from callrt.viewer.routes import viewer_routes
from store import Store

config = ServerConfig.from_env()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The schema on SQLite (PostgreSQL: `callrt db init`), and a business to answer for (the demo one if none).
    business_id = prepare_database(config)
    store = Store(config.db_url, schema=config.db_schema)
    app.state.telephony = TelephonyServer(config, store, business_id)
    # As `callrt serve` does: what the app imported stays out of the collector's full passes, which
    # otherwise stop the whole loop, calls and endpoints alike (docs/performance.md).
    tune_collector()
    try:
        async with callrt.aio.lifespan():  # at shutdown: running calls are hung up, then the guest run ends
            yield
    finally:
        store.dispose()


app = FastAPI(lifespan=lifespan)
app.router.routes.extend(viewer_routes(config.trace_dir))


@app.post("/twiml")
async def twiml(request: Request) -> Response:
    return await request.app.state.telephony.twiml(request)


@app.websocket("/media")
async def media(websocket: WebSocket) -> None:
    telephony: TelephonyServer = websocket.app.state.telephony
    await websocket.accept()
    async with callrt.aio.WebSocketCallerLine(websocket) as caller:
        start = await caller.read_start(timeout_s=config.start_timeout_s)
        # A token from our webhook, for this call and caller, and the first stream of its callSid (a database
        # claim: trio's side, like all of the call's database work).
        guest = callrt.aio.current_guest()
        if start is None or not telephony.claims.genuine(start) or not await guest.run(telephony.claims.claim, start):
            await caller.close(CLOSE_POLICY)
            return
        plan = plan_call(config, start)  # the model: OpenAI, or the simulated one
        path = trace_file(config.trace_dir, start.call_sid) if config.write_traces else None
        caller.line.trace = trace = Trace(start.call_sid, path)
        await callrt.aio.run_call(
            call_sid=start.call_sid,
            business_id=telephony.business_id,
            line=caller.line,
            model=plan.model,
            store=telephony.store,
            extractor=plan.extractor,
            caller_phone=start.custom_parameters.get("caller") or None,
            language=plan.language,
            trace=trace,
        )

