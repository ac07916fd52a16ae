"""The Realtime websocket connector against a local trio-websocket server on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from trio_websocket import WebSocketRequest, serve_websocket

from actors.defaults import DEFAULT_REALTIME_MODELS
from actors.ports import ModelClosed
from actors.realtime_protocol import check_dialect
from callrt.model.realtime import OpenAIRealtimeConnector


async def serve(nursery: trio.Nursery, handler: Any) -> int:
    server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
    return int(server.port)


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_headers_url_and_json_both_ways(dialect: str) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: WebSocketRequest) -> None:
        seen["path"] = request.path
        seen["headers"] = {k.decode().lower(): v.decode() for k, v in request.headers}
        ws = await request.accept()
        seen["first"] = json.loads(await ws.get_message())
        await ws.send_message("not json")  # skipped by the client
        await ws.send_message("[1, 2]")  # not an object: skipped
        await ws.send_message(json.dumps({"type": "session.created", "session": {"id": "s"}}))
        await ws.aclose()

    async with trio.open_nursery() as nursery:
        port = await serve(nursery, handler)
        connector = OpenAIRealtimeConnector("sk-test", dialect=dialect, url=f"ws://127.0.0.1:{port}/v1/realtime")
        conn = await connector.connect()
        await conn.send({"type": "session.update", "session": {"instructions": "שלום"}})
        assert await conn.receive() == {"type": "session.created", "session": {"id": "s"}}
        with pytest.raises(ModelClosed):
            await conn.receive()
        with pytest.raises(ModelClosed):
            await conn.send({"type": "response.create"})
        nursery.cancel_scope.cancel()
    assert seen["path"] == f"/v1/realtime?model={DEFAULT_REALTIME_MODELS[check_dialect(dialect)]}"
    assert seen["headers"]["authorization"] == "Bearer sk-test"
    assert ("openai-beta" in seen["headers"]) == (dialect == "beta")
    if dialect == "beta":
        assert seen["headers"]["openai-beta"] == "realtime=v1"
    assert seen["first"] == {"type": "session.update", "session": {"instructions": "שלום"}}


async def test_an_oversized_message_is_refused_and_closes_the_connection() -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message(json.dumps({"type": "x", "blob": "a" * 5000}))
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await serve(nursery, handler)
        connector = OpenAIRealtimeConnector("k", url=f"ws://127.0.0.1:{port}/v1/realtime", max_message_size=1024)
        conn = await connector.connect()
        with trio.fail_after(5), pytest.raises(ModelClosed):
            await conn.receive()
        nursery.cancel_scope.cancel()


async def test_an_unreachable_server_is_model_closed() -> None:
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    connector = OpenAIRealtimeConnector("k", url=f"ws://127.0.0.1:{port}/v1/realtime")
    with pytest.raises(ModelClosed):
        await connector.connect()


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError):
        OpenAIRealtimeConnector("k", dialect="v2")
