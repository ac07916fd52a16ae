"""Limits on what an HTTP client sends: a body must arrive whole within a deadline, and no larger
than the route allows. A body dribbled a byte a second otherwise holds a connection as long as the
client likes."""

from __future__ import annotations

import trio
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class BodyDeadline:
    """ASGI middleware: the request body must be complete `timeout_s` after the request reached the app.

    Past it the client gets `408 Request Timeout` (when nothing was answered yet) and the app sees a
    disconnect; the connection is closed, since its unread body makes it unusable. Reading after the
    body (a streamed response listening for a disconnect) is never limited."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = trio.current_time() + self.timeout_s
        body_done = False
        answered = False
        timed_out = False

        async def bounded_receive() -> Message:
            nonlocal body_done, timed_out
            if body_done:
                return await receive()
            if not timed_out:
                with trio.move_on_at(deadline):
                    message = await receive()
                    body_done = message["type"] != "http.request" or not message.get("more_body", False)
                    return message
                timed_out = True
                if not answered:
                    await _answer_408(send)
            return {"type": "http.disconnect"}

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if timed_out:
                return  # the 408 is the answer
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        await self.app(scope, bounded_receive, guarded_send)


async def _answer_408(send: Send) -> None:
    body = b"request body too slow\n"
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def limited_body(request: Request, limit: int) -> bytes:
    """The whole body; `BodyTooLarge` beyond `limit` bytes, `ClientDisconnect` when it never came whole."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


__all__ = ["BodyDeadline", "BodyTooLarge", "ClientDisconnect", "limited_body"]
