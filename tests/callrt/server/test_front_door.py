"""The front door: /media on the lean websocket, everything else on hypercorn, one port."""

from __future__ import annotations

import base64
import json
import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from callrt.server.app import TelephonyServer, serve
from callrt.server.config import ServerConfig
from callrt.server.front_door import is_media_request
from store import Store

STEP_S = 5.0
UPGRADE = (
    "GET /media HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
START_WITHOUT_TOKEN = json.dumps({"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1"}}).encode()


@pytest.mark.parametrize(
    ("line", "media"),
    [
        (b"GET /media HTTP/1.1\r\n", True),
        (b"GET /media?x=1 HTTP/1.1\r\n", True),
        (b"GET /mediathing HTTP/1.1\r\n", False),
        (b"POST /media HTTP/1.1\r\n", False),
        (b"GET /twiml HTTP/1.1\r\n", False),
        (b"", False),
    ],
)
def test_only_get_media_takes_the_fast_path(line: bytes, media: bool) -> None:
    assert is_media_request(line) is media


METRICS_TOKEN = "front-door-metrics"


@asynccontextmanager
async def live_server(tmp_path: Path) -> AsyncIterator[tuple[TelephonyServer, int]]:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")
    store.init_schema()
    business = store.create_business(name="Front door", opening_hours={"sun": [["09:00", "19:00"]]})
    config = ServerConfig(trace_dir=tmp_path / "traces", metrics_token=METRICS_TOKEN)
    server = TelephonyServer(config, store, business)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(partial(serve, server, bind="127.0.0.1:0"))
        yield server, int(urls[0].rsplit(":", 1)[1])
        nursery.cancel_scope.cancel()
    store.dispose()


def masked_text(payload: bytes) -> bytes:
    assert len(payload) < 126
    mask = os.urandom(4)
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def read_head(stream: trio.SocketStream, buffer: bytearray) -> bytes:
    while b"\r\n\r\n" not in buffer:
        buffer += await stream.receive_some(4096)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    return head


async def close_code(stream: trio.SocketStream, buffer: bytearray) -> int:
    """The code of the server's close frame, the first frame it sends."""
    while len(buffer) < 4:
        buffer += await stream.receive_some(4096)
    assert buffer[0] == 0x88, f"expected a close frame first, got {bytes(buffer[:8])!r}"
    return int(struct.unpack("!H", buffer[2:4])[0])


async def test_a_request_line_that_arrives_in_pieces_still_takes_the_fast_path(tmp_path: Path) -> None:
    async with live_server(tmp_path) as (server, port):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        request = UPGRADE.format(key=base64.b64encode(os.urandom(16)).decode()).encode()
        buffer = bytearray()
        with trio.fail_after(STEP_S):
            await stream.send_all(request[:6])  # "GET /m"
            await trio.sleep(0.05)
            await stream.send_all(request[6:])
            head = await read_head(stream, buffer)
            assert head.startswith(b"HTTP/1.1 101")
            assert b"hypercorn" not in head.lower()  # the sans-I/O server answered
            await stream.send_all(masked_text(START_WITHOUT_TOKEN))
            assert await close_code(stream, buffer) == 1008
        assert server.metrics.calls_refused["token"] == 1
        await stream.aclose()


async def test_a_keep_alive_connection_that_upgrades_later_reaches_the_same_handler(tmp_path: Path) -> None:
    async with live_server(tmp_path) as (server, port):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        buffer = bytearray()
        with trio.fail_after(STEP_S):
            await stream.send_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await read_head(stream, buffer)
            assert head.startswith(b"HTTP/1.1 200")
            length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))[15:])
            while len(buffer) < length:
                buffer += await stream.receive_some(4096)
            assert json.loads(bytes(buffer[:length]))["status"] == "ok"
            del buffer[:length]
            await stream.send_all(UPGRADE.format(key=base64.b64encode(os.urandom(16)).decode()).encode())
            head = await read_head(stream, buffer)
            assert head.startswith(b"HTTP/1.1 101") and b"server: hypercorn" in head.lower()  # hypercorn this time
            await stream.send_all(masked_text(START_WITHOUT_TOKEN))
            assert await close_code(stream, buffer) == 1008
        assert server.metrics.calls_refused["token"] == 1
        await stream.aclose()


async def test_http_routes_and_a_plain_get_of_media(tmp_path: Path) -> None:
    async with live_server(tmp_path) as (_server, port):
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=STEP_S) as client:
            assert (await client.get(base + "/health")).json()["status"] == "ok"
            scrape = await client.get(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert "callrt_calls_active" in scrape.text
        async with httpx.AsyncClient(timeout=STEP_S) as client:  # a new connection: the front door sees it
            response = await client.get(base + "/media")
        assert response.status_code == 426  # Upgrade Required: a websocket route, not a page
