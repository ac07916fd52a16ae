"""One listening port, two stacks: Twilio's media streams on the lean websocket, the rest on hypercorn.

Each new connection's request line is peeked (`MSG_PEEK`: nothing is consumed). A `GET /media`
goes to the media handler over `callrt.net.websocket`, the path every call's audio takes 50 times a
second; anything else goes, untouched, to hypercorn's connection handler and the Starlette app
(the webhook, /health, /metrics, the trace viewer). A keep-alive connection that asks for /media
in a later request still reaches the app's own /media route, which runs the same handler
through Starlette: the front door is a fast path, never the only one.

hypercorn's per-connection server is driven directly (`hypercorn.trio.tcp_server.TCPServer`, as
its own `worker_serve` does), so the pinned hypercorn version matters; the app has no lifespan
handlers, so none are run.
"""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Awaitable, Callable

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import wrap_app
from starlette.types import ASGIApp

logger = logging.getLogger("callrt.server.front_door")

PEEK_BYTES = 1024
PEEK_RETRY_S = 0.005
PEEK_TIMEOUT_S = 5.0
MEDIA_PATH = b"/media"

StreamHandler = Callable[[trio.SocketStream], Awaitable[None]]


def is_media_request(head: bytes) -> bool:
    """True for a request line `GET /media` (with or without a query string)."""
    method, _, rest = head.partition(b" ")
    path = rest.split(b" ", 1)[0]
    return method == b"GET" and (path == MEDIA_PATH or path.startswith(MEDIA_PATH + b"?"))


async def peek_request_line(stream: trio.SocketStream) -> bytes:
    """The connection's first bytes, up to its first line, left unread; b"" when none came in time."""
    with trio.move_on_after(PEEK_TIMEOUT_S):
        while True:
            head: bytes = await stream.socket.recv(PEEK_BYTES, socket.MSG_PEEK)
            if not head or b"\n" in head or len(head) >= PEEK_BYTES:
                return head
            await trio.sleep(PEEK_RETRY_S)  # half a line so far: the rest is still on its way
    return b""


async def open_listeners(bind: str, backlog: int) -> list[trio.SocketListener]:
    """Listeners for `host:port` (port 0: any free port) or `fd://N` (an inherited bound socket)."""
    if bind.startswith("fd://"):
        sock = socket.socket(fileno=int(bind.removeprefix("fd://")))
        sock.listen(backlog)
        return [trio.SocketListener(trio.socket.from_stdlib_socket(sock))]
    host, _, port = bind.rpartition(":")
    return await trio.open_tcp_listeners(int(port), host=host.strip("[]") or None, backlog=backlog)


def listener_urls(listeners: list[trio.SocketListener]) -> list[str]:
    urls = []
    for listener in listeners:
        host, port = listener.socket.getsockname()[:2]
        urls.append(f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}")
    return urls


async def serve_front_door(
    app: ASGIApp,
    media: StreamHandler,
    config: HypercornConfig,
    listeners: list[trio.SocketListener],
    *,
    shutdown_trigger: Callable[[], Awaitable[object]] | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serves until `shutdown_trigger` returns (or forever), then stops accepting and gives running
    connections `config.graceful_timeout` seconds to end."""
    context = WorkerContext(None)
    asgi = wrap_app(app, config.wsgi_max_body_size, "asgi")  # type: ignore[arg-type]  # Starlette's ASGI types are looser
    http = functools.partial(TCPServer, asgi, config, context)

    async def dispatch(stream: trio.SocketStream) -> None:
        if is_media_request(await peek_request_line(stream)):
            await media(stream)
        else:
            # TCPServer takes a plain socket stream too (hypercorn's own listeners hand it one without TLS).
            await http(ConnectionState({}), stream)  # type: ignore[arg-type]

    async with trio.open_nursery() as connections:
        async with trio.open_nursery() as front:
            front.start_soon(functools.partial(trio.serve_listeners, dispatch, listeners, handler_nursery=connections))
            task_status.started(listener_urls(listeners))
            if shutdown_trigger is None:
                await trio.sleep_forever()
            await shutdown_trigger()
            front.cancel_scope.cancel()
        for listener in listeners:
            await listener.aclose()
        await context.terminated.set()  # idle keep-alive HTTP connections close now
        connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
