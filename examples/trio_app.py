import os

import trio
from trio_websocket import serve_websocket

from actors import LineClosed, Trace, run_call, trace_file
from callrt import OpenAIRealtimeConnector, StreamTokens, TwilioCallerLine, WebSocketTransport
from store import Store

store = Store(os.environ.get("CALLRT_DB_URL", "sqlite:///callrt.db"))  # or postgresql+psycopg://…
store.init_schema()
if not store.business_ids():
    raise SystemExit("no business in the database: create one with `callrt business create --name NAME`")
business_id = store.business_ids()[0]  # or the id of the business your number belongs to
# Your webhook gives each call <Parameter name="token" value="{tokens.issue(CallSid, From)}"/> and "caller"
tokens = StreamTokens(os.environ["CALLRT_STREAM_SECRET"].encode())
model = OpenAIRealtimeConnector(
    os.environ["OPENAI_API_KEY"],
    "gpt-realtime",
    dialect="ga",
    url=os.environ.get("CALLRT_REALTIME_URL", "wss://api.openai.com/v1/realtime"),  # or `callrt sim-peer`
)


async def media_stream(request):
    line = TwilioCallerLine(WebSocketTransport(await request.accept()))
    try:
        with trio.fail_after(10):
            start = await line.read_start()
    except (LineClosed, trio.TooSlowError):
        return await line.hang_up()
    params = start.custom_parameters  # the token binds the caller's line: never trust `caller` without it
    if tokens.expiry(start.call_sid, params.get("token"), caller=params.get("caller", "")) is None:
        return await line.hang_up()  # not a call your webhook answered
    await run_call(
        call_sid=start.call_sid,
        business_id=business_id,
        line=line,
        model=model,
        store=store,
        caller_phone=params.get("caller"),
        trace=Trace(start.call_sid, trace_file("traces", start.call_sid)),  # without a trace: kept in memory
    )


trio.run(serve_websocket, media_stream, "127.0.0.1", int(os.environ.get("PORT", "8080")), None)
