"""callrt inside an asyncio server (FastAPI, Starlette on uvicorn), through trio's guest mode.

One trio run per process, on the host's own event loop and thread, hosts every call's nursery:
it starts with the first call and ends with the host's lifespan. The model connection and the
database work run there as they do under `callrt serve`; asyncio code only awaits results::

    app = FastAPI(lifespan=callrt.aio.lifespan)

    @app.websocket("/media")
    async def media(websocket: WebSocket) -> None:
        await websocket.accept()
        async with callrt.aio.WebSocketCallerLine(websocket) as caller:
            start = await caller.read_start()
            ...  # check the stream token, then:
            outcome = await callrt.aio.run_call(call_sid=start.call_sid, line=caller.line, ...)

How the two loops share one thread, and the rules for crossing between them, are in
`callrt.aio.guest`; examples/fastapi_app.py is a whole server; docs/embedding.md explains it.
"""

from callrt.aio.calls import run_call
from callrt.aio.guest import GuestStopped, TrioGuest, current_guest, lifespan
from callrt.aio.websocket_line import WebSocketCallerLine

__all__ = ["GuestStopped", "TrioGuest", "WebSocketCallerLine", "current_guest", "lifespan", "run_call"]
