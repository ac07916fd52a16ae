"""A Twilio media stream on a Starlette/FastAPI `WebSocket`, served to a call in the trio guest run.

The websocket is asyncio's: only asyncio tasks may await it. `WebSocketCallerLine` runs two of
them, a reader and a writer, and gives the call a `TwilioCallerLine` (`.line`) over
`_GuestEnd`, a `TextTransport` whose methods run in trio. Messages cross between the two
sides as `callrt.aio.guest` says they must: inbound with `TrioToken.run_sync_soon` into a trio
channel, outbound with `loop.call_soon_threadsafe` into an asyncio queue.

Both directions are bounded, so a stalled side never piles up memory: the reader takes a credit
per message and the trio side hands credits back as it consumes them (a caller flooding the line
waits in its TCP window); the trio side stops sending when `window` messages are still unwritten
(a caller that stops reading holds up the call's audio, not the process's memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterable
from types import TracebackType

import attrs
import trio
from starlette.websockets import WebSocket

from actors.ports import LineClosed
from callrt.aio.guest import TrioGuest, current_guest
from callrt.net.asgi_transport import StarletteTransport
from callrt.net.transport import TransportClosed
from callrt.telephony.media import StreamStart, TwilioCallerLine

logger = logging.getLogger("callrt.aio.websocket_line")

WINDOW = 64
"""Messages in flight each way: 1.3 s of caller audio at 50 frames a second."""


@attrs.frozen
class _Close:
    """Queued after the last outbound message: the writer closes the websocket with `code` once it got there."""

    code: int


class _GuestEnd:
    """The trio side of the bridge: a `TextTransport` the `TwilioCallerLine` reads and writes in trio."""

    def __init__(self, host: WebSocketCallerLine, window: int) -> None:
        self._host = host
        self._window = window
        self._inbound_send, self._inbound = trio.open_memory_channel[str](math.inf)
        self._credits_owed = 0
        self._unwritten = 0
        self._written = trio.Event()
        self.closed_why: str | None = None

    # -- called in trio by the line ----------------------------------------

    async def receive(self) -> str:
        if self._inbound.statistics().current_buffer_used == 0:
            self._return_credits()  # about to wait: the reader must be free to read
        try:
            text = await self._inbound.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise TransportClosed(self.closed_why or "closed") from None
        self._credits_owed += 1
        if self._credits_owed >= self._window // 2:
            self._return_credits()
        return text

    async def send(self, text: str) -> None:
        await self.send_many((text,))

    async def send_many(self, texts: Iterable[str]) -> None:
        batch = list(texts)
        while self.closed_why is None and self._unwritten >= self._window:
            await self._written.wait()
        if self.closed_why is not None:
            raise TransportClosed(self.closed_why)
        self._unwritten += len(batch)
        self._host.to_host(self._host.outbox.put_nowait, batch)

    async def aclose(self, code: int = 1000) -> None:
        """Hang up: what was sent is written, then the websocket closes with `code` (the writer does both)."""
        if self.closed_why is None:
            self._ended("closed by the call")
            self._host.to_host(self._host.outbox.put_nowait, _Close(code))
        await trio.lowlevel.checkpoint()

    def _return_credits(self) -> None:
        if self._credits_owed:
            self._host.to_host(self._host.release_credits, self._credits_owed)
            self._credits_owed = 0

    # -- called in trio by the host, through run_sync_soon ----------------------

    def delivered(self, text: str) -> None:
        with contextlib.suppress(trio.ClosedResourceError):
            self._inbound_send.send_nowait(text)

    def written(self, count: int) -> None:
        self._unwritten -= count
        self._written.set()
        self._written = trio.Event()

    def ended(self, why: str) -> None:
        if self.closed_why is None:
            self._ended(why)

    def _ended(self, why: str) -> None:
        self.closed_why = why
        self._inbound_send.close()  # what was already received is still read, then TransportClosed
        self._written.set()


class WebSocketCallerLine:
    """`async with WebSocketCallerLine(websocket) as caller:` on an accepted Starlette/FastAPI websocket.

    `caller.line` is the `TwilioCallerLine` to pass to `callrt.aio.run_call` (`caller.transport`, the stream as a
    trio `TextTransport`, for trio code that builds its own line); `await caller.read_start()`
    reads up to the stream's `start` (its callSid and custom parameters, the stream token among them);
    `await caller.close(code)` refuses a stream. Leaving the block closes the websocket if the call did not.
    """

    def __init__(self, websocket: WebSocket, *, guest: TrioGuest | None = None, window: int = WINDOW) -> None:
        self.websocket = StarletteTransport(websocket)
        self.guest = guest
        self.outbox: asyncio.Queue[list[str] | _Close] = asyncio.Queue()
        self._credits = asyncio.Semaphore(window)
        self.transport = _GuestEnd(self, window)
        """The stream as a `TextTransport` for trio code (`aclose(code)` closes the websocket with `code`)."""
        self.line = TwilioCallerLine(self.transport)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> WebSocketCallerLine:
        self.guest = self.guest or current_guest()
        await self.guest.start()
        self._loop = asyncio.get_running_loop()
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._write())]
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.close()

    async def read_start(self, timeout_s: float = 10.0) -> StreamStart | None:
        """The stream's `start`, or None when it did not come within `timeout_s` or the caller left first."""
        assert self.guest is not None, "use the line in `async with`"
        return await self.guest.run(self._read_start, timeout_s)

    async def _read_start(self, timeout_s: float) -> StreamStart | None:
        with trio.move_on_after(timeout_s):
            try:
                return await self.line.read_start()
            except LineClosed:
                return None
        return None

    async def close(self, code: int = 1000) -> None:
        """Write what the call sent, then close the websocket with `code` (idempotent)."""
        if not self._tasks:
            await self.websocket.aclose(code)
            return
        reader, writer = self._tasks
        if not writer.done():
            self.outbox.put_nowait(_Close(code))
            await asyncio.wait([writer])
        reader.cancel()
        await asyncio.gather(reader, writer, return_exceptions=True)
        await self.websocket.aclose(code)

    # -- the asyncio side ------------------------------------------------------

    def to_host(self, fn: Callable[..., object], *args: object) -> None:
        """From trio: run `fn(*args)` on the asyncio loop (see callrt.aio.guest)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    def release_credits(self, count: int) -> None:
        for _ in range(count):
            self._credits.release()

    def _to_guest(self, fn: Callable[..., object], *args: object) -> None:
        assert self.guest is not None
        self.guest.call_soon(fn, *args)

    async def _read(self) -> None:
        why = "caller hung up"
        try:
            while True:
                await self._credits.acquire()
                text = await self.websocket.receive()
                self._to_guest(self.transport.delivered, text)
        except TransportClosed as exc:
            why = f"transport closed: {exc}"
        finally:
            with contextlib.suppress(Exception):
                self._to_guest(self.transport.ended, why)

    async def _write(self) -> None:
        try:
            while isinstance(batch := await self.outbox.get(), list):
                await self.websocket.send_many(batch)
                self._to_guest(self.transport.written, len(batch))
            await self.websocket.aclose(batch.code)
        except TransportClosed as exc:
            self._to_guest(self.transport.ended, f"transport closed: {exc}")
