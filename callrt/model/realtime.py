"""The OpenAI Realtime API over a websocket (callrt.net.websocket), as an `actors.ports.ModelConnector`.

The openai SDK's realtime client is asyncio-only, so the websocket is ours: the URL with the
model, `Authorization: Bearer <key>`, and for the beta dialect `OpenAI-Beta: realtime=v1`.
Messages are JSON objects both ways. A server message larger than `max_message_size` closes
the connection (1009, message too big): the actor sees `ModelClosed`
and reconnects. A text message that is not a JSON object is logged and skipped.

While the connection is quiet it is pinged (`PING_INTERVAL_S` after the last thing received); a pong
missing `PONG_TIMEOUT_S` later means a dead connection nothing else would reveal (a network path
gone, a peer that stopped reading): the actor sees `ModelUnresponsive` and handles it as a frozen
model (docs/realtime.md, "Keepalive").
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson
import trio

from actors.defaults import DEFAULT_DIALECT, DEFAULT_REALTIME_MODELS, Dialect
from actors.ports import ModelClosed, ModelUnresponsive
from actors.realtime_protocol import check_dialect
from callrt.net.transport import TransportClosed
from callrt.net.websocket import HandshakeFailed, Keepalive, PeerUnresponsive, SansIOWebSocket, connect_websocket

log = logging.getLogger(__name__)

OPENAI_REALTIME_URL = "wss://api.openai.com/v1/realtime"
MAX_MESSAGE_SIZE = 4 * 1024 * 1024
"""Largest server message accepted (the session echo carries the instructions; audio deltas are small)."""
CONNECT_TIMEOUT_S = 10.0
PING_INTERVAL_S = 10.0
"""A quiet connection is pinged this long after the last thing it received."""
PONG_TIMEOUT_S = 5.0
"""A ping's pong must arrive within this; otherwise the connection is dead (`ModelUnresponsive`)."""


class RealtimeWsConnection:
    """One Realtime websocket session as JSON objects (`actors.ports.ModelConnection`)."""

    def __init__(self, ws: SansIOWebSocket) -> None:
        self.ws = ws

    async def send(self, event: Mapping[str, Any]) -> None:
        try:
            await self.ws.send(orjson.dumps(event).decode())
        except TransportClosed as exc:
            raise self._closed("send failed", exc) from exc

    async def receive(self) -> dict[str, Any]:
        while True:
            try:
                message = await self.ws.receive()
            except TransportClosed as exc:
                raise self._closed("connection closed", exc) from exc
            try:
                event = orjson.loads(message)
            except orjson.JSONDecodeError as exc:
                log.warning("Realtime message that is not JSON skipped (%d chars): %s", len(message), exc)
                continue
            if isinstance(event, dict):
                return event
            log.warning("Realtime message that is not a JSON object skipped: %s", type(event).__name__)

    @staticmethod
    def _closed(what: str, exc: TransportClosed) -> ModelClosed:
        if isinstance(exc, PeerUnresponsive):
            return ModelUnresponsive(f"{what}: {exc}")
        return ModelClosed(f"{what}: {exc}")

    async def aclose(self) -> None:
        await self.ws.aclose()


class OpenAIRealtimeConnector:
    """Opens Realtime websocket sessions (`actors.ports.ModelConnector`). `extra_headers` go into
    the handshake as well (the simulated peer reads its script and call id from them).
    `ping_interval_s=None` sends no keepalive pings."""

    def __init__(
        self,
        api_key: str,
        model: str | None = None,
        dialect: str = DEFAULT_DIALECT,
        *,
        url: str = OPENAI_REALTIME_URL,
        max_message_size: int = MAX_MESSAGE_SIZE,
        ssl_context: ssl.SSLContext | None = None,
        extra_headers: Mapping[str, str] | None = None,
        ping_interval_s: float | None = PING_INTERVAL_S,
        pong_timeout_s: float = PONG_TIMEOUT_S,
    ) -> None:
        self.dialect: Dialect = check_dialect(dialect)
        self.api_key = api_key
        self.model = model or DEFAULT_REALTIME_MODELS[self.dialect]
        self.url = url
        self.max_message_size = max_message_size
        self.ssl_context = ssl_context
        self.extra_headers = dict(extra_headers or {})
        self.keepalive = Keepalive(ping_interval_s, pong_timeout_s) if ping_interval_s is not None else None

    def connect_url(self) -> str:
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}{urlencode({'model': self.model})}"

    def headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if self.dialect == "beta":
            headers["OpenAI-Beta"] = "realtime=v1"
        headers.update(self.extra_headers)
        return headers

    async def connect(self) -> RealtimeWsConnection:
        try:
            ws = await connect_websocket(
                self.connect_url(),
                self.headers(),
                max_message_bytes=self.max_message_size,
                ssl_context=self.ssl_context,
                timeout_s=CONNECT_TIMEOUT_S,
                keepalive=self.keepalive,
            )
        except (HandshakeFailed, OSError, trio.TooSlowError) as exc:
            raise ModelClosed(f"cannot connect to {self.url}: {type(exc).__name__}: {exc}") from exc
        return RealtimeWsConnection(ws)
