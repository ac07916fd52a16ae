"""The simulated OpenAI Realtime peer, reachable two ways: in memory, or on a websocket.

- `InMemoryModelConnector(script, dialect)` implements `actors.ports.ModelConnector`
  for scenarios: every `connect()` opens a fresh session of the peer on the other
  end of an in-memory text pipe, so events are serialised to JSON text and parsed
  back exactly as on the wire.
- `serve_sim_peer(host, port, dialect)` serves `ws://host:port/v1/realtime?model=…`
  over callrt.net.websocket, for any Realtime client (`callrt sim-peer`). The script comes
  in the `X-Callrt-Sim-Script` header (compact JSON, see peer_script); connections
  that send the same `X-Callrt-Sim-Call` value share one call (script cursor, faults
  already played), which is how a reconnecting client gets the same call back.

The `realtime_disconnect` fault is played here: at its time the peer closes the
connection; the client must reconnect to a new, empty session.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trio
from websockets.http11 import Request

from actors.defaults import DEFAULT_DIALECT
from actors.ports import ModelClosed
from callrt.net.transport import MemoryTransport, TextTransport, TransportClosed, memory_transport_pair
from callrt.net.websocket import HandshakeFailed, Refusal, accept_websocket
from callrt.sim.peer_call import PeerCall
from callrt.sim.peer_dialect import Dialect
from callrt.sim.peer_dialect import dialect as lookup_dialect
from callrt.sim.peer_script import ScriptError, SimScript
from callrt.sim.peer_session import PeerSession

log = logging.getLogger(__name__)

SCRIPT_HEADER = "x-callrt-sim-script"
CALL_HEADER = "x-callrt-sim-call"
REALTIME_PATH = "/v1/realtime"
_MAX_REMEMBERED_CALLS = 1000


async def serve_connection(transport: TextTransport, call: PeerCall, spelling: Dialect, model: str | None) -> None:
    """Run one peer session on `transport` until the client leaves or a disconnect fault fires."""
    call.connected()
    deadline, fault_index = call.disconnect_deadline()
    session = PeerSession(transport.send, call, spelling, model)
    with trio.move_on_at(deadline) as scope:
        await session.run(transport.receive)
    if scope.cancelled_caught and fault_index is not None:
        call.fired.add(fault_index)
        log.info("sim peer: realtime_disconnect fault, closing the connection at %.0f ms", call.elapsed_ms())
    await transport.aclose()


class MemoryModelConnection:
    """The client's end of an in-memory peer connection, as `actors.ports.ModelConnection`."""

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport
        """The text transport under the JSON events (tests send malformed text through it)."""

    async def send(self, event: Mapping[str, Any]) -> None:
        try:
            await self.transport.send(json.dumps(event, ensure_ascii=False))
        except TransportClosed as exc:
            raise ModelClosed(str(exc)) from exc

    async def receive(self) -> dict[str, Any]:
        try:
            text = await self.transport.receive()
        except TransportClosed as exc:
            raise ModelClosed(str(exc)) from exc
        event: dict[str, Any] = json.loads(text)
        return event

    async def aclose(self) -> None:
        await self.transport.aclose()


class InMemoryModelConnector:
    """Opens in-memory sessions with the simulated peer; all of them belong to one call.

    The peer runs in `nursery` when given, otherwise as a trio system task (so the
    connector needs nothing but a running trio loop, like a network connector).
    """

    def __init__(
        self,
        script: SimScript,
        dialect: str = DEFAULT_DIALECT,
        *,
        model: str | None = None,
        nursery: trio.Nursery | None = None,
    ) -> None:
        self.dialect = dialect
        self._spelling = lookup_dialect(dialect)
        self._model = model
        self._nursery = nursery
        self.call = PeerCall(script)
        self.connections = 0

    async def connect(self) -> MemoryModelConnection:
        client_end, peer_end = memory_transport_pair()
        self.connections += 1
        if self._nursery is not None:
            self._nursery.start_soon(self._serve, peer_end)
        else:
            trio.lowlevel.spawn_system_task(self._serve, peer_end)
        return MemoryModelConnection(client_end)

    async def _serve(self, peer_end: MemoryTransport) -> None:
        try:
            await serve_connection(peer_end, self.call, self._spelling, self._model)
        except Exception:  # a peer bug must show up in the log, not take the whole call down
            log.exception("sim peer session failed")
            await peer_end.aclose()


class _Calls:
    """The calls a websocket peer remembers, by `X-Callrt-Sim-Call`, oldest forgotten first."""

    def __init__(self) -> None:
        self._calls: OrderedDict[str, PeerCall] = OrderedDict()

    def get(self, key: str | None, script: SimScript) -> PeerCall:
        if key is None:
            return PeerCall(script)
        call = self._calls.get(key)
        if call is None:
            call = self._calls[key] = PeerCall(script)
            while len(self._calls) > _MAX_REMEMBERED_CALLS:
                self._calls.popitem(last=False)
        return call


def _reject_body(message: str, code: str | None = None) -> str:
    doc = {"error": {"message": message, "type": "invalid_request_error", "code": code, "param": None}}
    return json.dumps(doc)


MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""The service accepts large appends."""


async def serve_sim_peer(
    host: str,
    port: int,
    dialect: str = DEFAULT_DIALECT,
    *,
    default_script: SimScript | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the peer at `ws://host:port/v1/realtime?model=…` until cancelled; `task_status` gets the port.

    `default_script` plays for connections that bring no script (e.g. `callrt doctor`'s).
    Like the service, the handshake is refused without `Authorization: Bearer …` (401),
    on another path (404), and when the beta header does not match the dialect served
    (`OpenAI-Beta: realtime=v1` is required by `beta` and refused by `ga`: 400), so a
    client speaking the wrong dialect fails loudly instead of half-working.
    """
    spelling = lookup_dialect(dialect)
    calls = _Calls()
    fallback_script = default_script or SimScript()

    def refusal(request: Request) -> Refusal | None:
        url = urlsplit(request.path)
        if url.path.rstrip("/") != REALTIME_PATH:
            return 404, _reject_body(f"Invalid URL (GET {url.path})")
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[len("Bearer ") :].strip():
            return 401, _reject_body("Missing bearer or basic authentication in header", "missing_api_key")
        wants_beta = request.headers.get("openai-beta", "").replace(" ", "") == "realtime=v1"
        if wants_beta != (spelling.name == "beta"):
            return 400, _reject_body(f"This simulated peer speaks the {spelling.name} Realtime protocol", "dialect")
        try:
            _script(request, fallback_script)
        except ScriptError as exc:
            return 400, _reject_body(str(exc), "invalid_sim_script")
        return None

    async def connection(stream: trio.SocketStream) -> None:
        try:
            ws, request = await accept_websocket(stream, max_message_bytes=MAX_MESSAGE_BYTES, refuse=refusal)
        except (HandshakeFailed, trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError):
            await trio.aclose_forcefully(stream)
            return
        model = parse_qs(urlsplit(request.path).query).get("model", [spelling.default_model])[0]
        call = calls.get(request.headers.get(CALL_HEADER), _script(request, fallback_script))
        try:
            await serve_connection(ws, call, spelling, model)
        except Exception:
            log.exception("sim peer session failed")
            await ws.aclose()

    listeners = await trio.open_tcp_listeners(port, host=host)
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, connection, listeners)
        task_status.started(int(listeners[0].socket.getsockname()[1]))


def _script(request: Request, default: SimScript) -> SimScript:
    """The connection's script (its header), or the peer's own (`callrt sim-peer --fault`) without one."""
    raw = request.headers.get(SCRIPT_HEADER)
    return SimScript.from_json(raw) if raw is not None else default
