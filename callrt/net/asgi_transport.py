"""A Starlette (ASGI) websocket as a `TextTransport`, so the Twilio line adapter runs
unchanged inside the ASGI server.
"""

from __future__ import annotations

import contextlib

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from callrt.net.transport import SendsOneByOne, TransportClosed


class StarletteTransport(SendsOneByOne):
    """Text messages over an accepted Starlette websocket; a binary message is decoded as UTF-8."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.close_code: int | None = None
        """The peer's close code once it closed (1009: a message exceeded the size limit)."""

    async def send(self, text: str) -> None:
        try:
            await self.websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError) as exc:
            # Starlette raises RuntimeError (WebSocketDisconnected) once either side has closed.
            raise TransportClosed(f"send failed: {exc!r}") from exc

    async def receive(self) -> str:
        try:
            message = await self.websocket.receive()
        except RuntimeError as exc:
            raise TransportClosed(f"receive failed: {exc}") from exc
        if message["type"] == "websocket.disconnect":
            self.close_code = int(message.get("code", 1005))
            raise TransportClosed(f"peer closed with code {self.close_code}")
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"").decode("utf-8", errors="replace")

    async def aclose(self, code: int = 1000) -> None:
        """Close from our side (idempotent; a no-op once either side closed)."""
        ws = self.websocket
        if ws.application_state == WebSocketState.CONNECTED and ws.client_state == WebSocketState.CONNECTED:
            # The peer's close may race ours: the socket is closed either way.
            with contextlib.suppress(RuntimeError):
                await ws.close(code)
