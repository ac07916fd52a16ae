"""The OpenAI Realtime API over trio-websocket, as an `actors.ports.ModelConnector`.

The openai SDK's realtime client is asyncio-only, so the websocket is ours: the URL with the
model, `Authorization: Bearer <key>`, and for the beta dialect `OpenAI-Beta: realtime=v1`.
Messages are JSON objects both ways. A server message larger than `max_message_size` makes
trio-websocket close the connection (1009, message too big): the actor sees `ModelClosed`
and reconnects. A text message that is not a JSON object is logged and skipped.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    connect_websocket_url,
)

from actors.ports import ModelClosed
from actors.realtime_protocol import Dialect, check_dialect

log = logging.getLogger(__name__)

OPENAI_REALTIME_URL = "wss://api.openai.com/v1/realtime"
DEFAULT_MODELS: dict[Dialect, str] = {"beta": "gpt-4o-realtime-preview", "ga": "gpt-realtime"}
MAX_MESSAGE_SIZE = 4 * 1024 * 1024
"""Largest server message accepted (the session echo carries the instructions; audio deltas are small)."""
CONNECT_TIMEOUT_S = 10.0
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
"""One encoder for every client event: `json.dumps` with options builds a new one per call."""


class RealtimeWsConnection:
    """One Realtime websocket session as JSON objects (`actors.ports.ModelConnection`)."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws

    async def send(self, event: Mapping[str, Any]) -> None:
        try:
            await self.ws.send_message(_ENCODE(event))
        except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ModelClosed(f"send failed: {exc}") from exc

    async def receive(self) -> dict[str, Any]:
        while True:
            try:
                message = await self.ws.get_message()
            except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ModelClosed(f"connection closed: {exc}") from exc
            try:
                event = json.loads(message)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                log.warning("Realtime message that is not JSON skipped (%d chars): %s", len(message), exc)
                continue
            if isinstance(event, dict):
                return event
            log.warning("Realtime message that is not a JSON object skipped: %s", type(event).__name__)

    async def aclose(self) -> None:
        await self.ws.aclose()


class OpenAIRealtimeConnector:
    """Opens Realtime websocket sessions (`actors.ports.ModelConnector`).

    trio-websocket runs a reader task per connection: it lives in `nursery` when given,
    otherwise in a nursery hosted by a trio system task (one per trio run, shared by all
    connectors), so the connector needs only a running trio loop. `extra_headers` go into
    the handshake as well (the simulated peer reads its script and call id from them).
    """

    def __init__(
        self,
        api_key: str,
        model: str | None = None,
        dialect: str = "beta",
        *,
        url: str = OPENAI_REALTIME_URL,
        nursery: trio.Nursery | None = None,
        max_message_size: int = MAX_MESSAGE_SIZE,
        ssl_context: ssl.SSLContext | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.dialect: Dialect = check_dialect(dialect)
        self.api_key = api_key
        self.model = model or DEFAULT_MODELS[self.dialect]
        self.url = url
        self.max_message_size = max_message_size
        self.ssl_context = ssl_context
        self.extra_headers = dict(extra_headers or {})
        self._nursery = nursery

    def connect_url(self) -> str:
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}{urlencode({'model': self.model})}"

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"Authorization", f"Bearer {self.api_key}".encode())]
        if self.dialect == "beta":
            headers.append((b"OpenAI-Beta", b"realtime=v1"))
        headers.extend((name.encode("latin-1"), value.encode("latin-1")) for name, value in self.extra_headers.items())
        return headers

    async def connect(self) -> RealtimeWsConnection:
        nursery = await self._background_nursery()
        try:
            with trio.fail_after(CONNECT_TIMEOUT_S):
                ws = await connect_websocket_url(
                    nursery,
                    self.connect_url(),
                    ssl_context=self.ssl_context,
                    extra_headers=self.headers(),
                    max_message_size=self.max_message_size,
                )
        except (HandshakeError, ConnectionRejected, OSError, trio.TooSlowError) as exc:
            raise ModelClosed(f"cannot connect to {self.url}: {type(exc).__name__}: {exc}") from exc
        return RealtimeWsConnection(ws)

    async def _background_nursery(self) -> trio.Nursery:
        if self._nursery is None:
            self._nursery = await _shared_host_nursery()
        return self._nursery


class _Host:
    def __init__(self) -> None:
        self.ready = trio.Event()
        self.nursery: trio.Nursery | None = None

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            self.ready.set()
            await trio.sleep_forever()


_HOST: trio.lowlevel.RunVar[_Host] = trio.lowlevel.RunVar("callrt_realtime_ws_host")


async def _shared_host_nursery() -> trio.Nursery:
    """One nursery per trio run, hosted by a system task, shared by every connector without its own:
    a server that makes a connector per call must not leave a task behind per call."""
    try:
        host = _HOST.get()
    except LookupError:
        host = _Host()
        _HOST.set(host)  # before any await: concurrent first calls share this host
        trio.lowlevel.spawn_system_task(host.run)
    await host.ready.wait()
    assert host.nursery is not None
    return host.nursery
