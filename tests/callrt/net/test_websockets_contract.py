"""What callrt uses of the `websockets` library, checked against the installed release.

websockets makes only its documented API public ("Undocumented, private APIs may change without
notice", its backwards-compatibility policy), and raises its major version when a documented API
changes. callrt pins one major version; these tests are the check to run when that pin moves.
Each failure names the name that went away. Two lists are kept in step with the code: the names
callrt imports from `websockets` (found by reading callrt's source) and the members it reads on a
protocol object in `callrt.net` (found the same way), so nothing used can escape the contract.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, Side, State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

import callrt

CALLRT = Path(callrt.__file__).parent

IMPORTED: dict[tuple[str, str], str] = {
    # The load test's asyncio relay (callrt/loadtest/asgi_relay.py): the conventional client it stands for.
    ("websockets.asyncio.client", "ClientConnection"): "documented",
    ("websockets.asyncio.client", "connect"): "documented",
    ("websockets.client", "ClientProtocol"): "documented",
    ("websockets.exceptions", "ConnectionClosed"): "documented",
    ("websockets.exceptions", "InvalidHandshake"): "documented",
    ("websockets.exceptions", "InvalidURI"): "documented",
    ("websockets.frames", "Frame"): "documented",
    ("websockets.frames", "Opcode"): "documented",
    ("websockets.http11", "Request"): "documented",
    ("websockets.http11", "Response"): "documented",
    ("websockets.protocol", "Protocol"): "documented",
    ("websockets.protocol", "State"): "documented",
    ("websockets.server", "ServerProtocol"): "documented",
    ("websockets.uri", "parse_uri"): "documented",
    # Undocumented: the C unmasking the frame splitter's fast path calls (with the pure-Python fallback).
    ("websockets.speedups", "apply_mask"): "private, optional: absent when built without the C extension",
    ("websockets.utils", "apply_mask"): "private",
}
"""Every name callrt imports from websockets, and its standing in websockets' documentation."""

PROTOCOL_MEMBERS = {
    # Protocol (both sides)
    "receive_data",
    "receive_eof",
    "send_text",
    "send_close",
    "send_ping",
    "events_received",
    "data_to_send",
    "close_expected",
    "state",
    "close_exc",
    # ServerProtocol / ClientProtocol
    "handshake_exc",
    "accept",
    "reject",
    "send_response",
    "connect",
    "send_request",
}
"""The documented members callrt.net reads on a protocol object."""


def imports_from_websockets() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in CALLRT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "websockets":
                found.update((node.module, alias.name) for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update((alias.name, "") for alias in node.names if alias.name.split(".")[0] == "websockets")
    return found


def protocol_members_read() -> set[tuple[str, str]]:
    """(module, member) for every `protocol.X` and `self._protocol.X` in callrt/net."""
    found: set[tuple[str, str]] = set()
    for path in (CALLRT / "net").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "protocol") or (
                isinstance(owner, ast.Attribute) and owner.attr == "_protocol"
            ):
                found.add((path.name, node.attr))
    return found


def test_every_websockets_import_in_callrt_is_in_the_contract() -> None:
    unlisted = imports_from_websockets() - IMPORTED.keys()
    assert not unlisted, f"callrt imports {sorted(unlisted)} from websockets: add them to IMPORTED, checked below"


def test_every_protocol_member_callrt_net_reads_is_in_the_contract() -> None:
    unlisted = {(module, member) for module, member in protocol_members_read() if member not in PROTOCOL_MEMBERS}
    assert not unlisted, (
        f"callrt.net reads {sorted(unlisted)} on a websockets protocol: use a documented member "
        "(websockets' docs/reference/sansio) and add it to PROTOCOL_MEMBERS"
    )


@pytest.mark.parametrize(("module", "name"), sorted(IMPORTED))
def test_each_imported_name_still_exists(module: str, name: str) -> None:
    if IMPORTED[module, name].startswith("private, optional"):
        pytest.importorskip(module)
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"websockets no longer has the module {module} (callrt imports {name} from it): {exc}")
    assert hasattr(imported, name), f"websockets no longer provides {module}.{name} ({IMPORTED[module, name]})"


def members(protocol: Protocol) -> set[str]:
    """The contract's members `protocol` has (`dir`, not `hasattr`: `close_exc` asserts until CLOSED)."""
    return PROTOCOL_MEMBERS & set(dir(protocol))


def test_the_protocols_still_have_every_member_callrt_reads() -> None:
    server = ServerProtocol(state=State.OPEN, max_size=1000)
    client = ClientProtocol(parse_uri("ws://example.invalid/"), max_size=1000)
    common = PROTOCOL_MEMBERS - {"accept", "reject", "send_response", "connect", "send_request"}
    assert common | {"accept", "reject", "send_response"} <= members(server), (
        f"websockets' ServerProtocol lost {sorted(common | {'accept', 'reject', 'send_response'} - members(server))}"
    )
    assert common | {"connect", "send_request"} <= members(client), (
        f"websockets' ClientProtocol lost {sorted(common | {'connect', 'send_request'} - members(client))}"
    )


def test_a_frame_is_read_with_its_opcode_fin_and_data() -> None:
    protocol = Protocol(Side.CLIENT, state=State.OPEN, max_size=1000)
    protocol.receive_data(b"\x01\x02hi")  # a server's first fragment of a text message
    (frame,) = protocol.events_received()
    assert isinstance(frame, Frame)
    assert (frame.opcode, frame.fin, bytes(frame.data)) == (Opcode.TEXT, False, b"hi")


def test_a_ping_goes_out_and_its_pong_comes_back_as_a_frame() -> None:
    """What the keepalive (`SansIOWebSocket`) relies on: `send_ping` queues the frame, a pong is an event with
    the ping's payload, and an end of stream on an open connection leaves it CLOSED (sends refused)."""
    protocol = Protocol(Side.CLIENT, state=State.OPEN, max_size=1000)
    protocol.send_ping(b"7")
    (ping,) = protocol.data_to_send()
    assert ping[0] == 0x89 and ping[1] == 0x80 | 1  # FIN + ping, masked, one byte of payload
    protocol.receive_data(b"\x8a\x017")
    (pong,) = protocol.events_received()
    assert isinstance(pong, Frame) and (pong.opcode, bytes(pong.data)) == (Opcode.PONG, b"7")
    protocol.receive_eof()
    assert protocol.state is State.CLOSED


def test_a_closed_protocol_says_who_closed_with_which_code() -> None:
    """What `SansIOWebSocket` reports when a connection ends: `close_exc`'s sent/rcvd and their order."""
    protocol = ServerProtocol(state=State.OPEN, max_size=1000)
    protocol.send_close(4000)
    protocol.receive_data(b"\x88\x84abcd" + bytes(b ^ m for b, m in zip(b"\x0f\xa0ok", b"abcd", strict=True)))
    protocol.receive_eof()
    assert protocol.state is State.CLOSED
    closed = protocol.close_exc
    assert isinstance(closed.sent, Close) and closed.sent.code == 4000
    assert isinstance(closed.rcvd, Close) and closed.rcvd.code == 4000
    assert closed.rcvd_then_sent is False
    assert protocol.close_code == 4000


def test_a_protocol_error_is_chained_to_the_close_it_caused() -> None:
    """An oversized frame: the protocol closes with 1009 and `close_exc` carries the parser's reason."""
    protocol = ServerProtocol(state=State.OPEN, max_size=10)
    protocol.receive_data(b"\x81\x8b" + b"abcd" + b"x" * 11)
    protocol.receive_eof()
    closed = protocol.close_exc
    assert closed.sent is not None and closed.sent.code == 1009
    assert closed.rcvd is None
    assert closed.__cause__ is not None, "websockets no longer chains the parser's error to close_exc"


@pytest.mark.parametrize("module", ["websockets.speedups", "websockets.utils"])
def test_the_unmasking_the_fast_path_uses_still_unmasks(module: str) -> None:
    apply_mask = pytest.importorskip(module).apply_mask  # existence is checked above; this is behaviour
    assert apply_mask(b"\x00\x01\x02\x03\x04", b"abcd") == bytes([0x61, 0x63, 0x61, 0x67, 0x65])


def test_a_handshake_gives_the_request_path_and_headers_and_a_response_status() -> None:
    """What the refusals (`callrt.sim.realtime_peer`) and `accept_websocket` read of the handshake."""
    server = ServerProtocol()
    server.receive_data(
        b"GET /media?model=m HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    (request,) = server.events_received()
    assert isinstance(request, Request)
    assert (request.path, request.headers.get("host")) == ("/media?model=m", "h")
    assert server.accept(request).status_code == 101
