"""The telephony server: a Starlette app on hypercorn, with media streams on a fast path
(callrt.server.front_door).

    POST /twiml    Twilio's voice webhook: answers `<Connect><Stream>` TwiML carrying a
                   short-lived stream token (403 on a bad X-Twilio-Signature when an
                   auth token is configured)
    WS   /media    Twilio Media Streams: one `run_call` per stream whose `start` carries
                   a valid token; anything else is closed without a word
    GET  /health   liveness and load, as JSON
    GET  /metrics  Prometheus counters (see callrt.server.metrics)
    /traces...     the trace viewer over `trace_dir`

The model is the OpenAI Realtime API when an API key is configured, otherwise the
simulated model peer in-process, so `callrt serve` works offline end to end. With a
`realtime_url` the Realtime websocket connector talks to that URL instead: a simulated
peer (`callrt sim-peer`) when no key is set, which is how `callrt bench` runs live calls.
With `relay` each call is a bare relay (callrt.loadtest.relay), the benchmark's baseline.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import attrs
import openai
import trio
from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from actors.appointment_nlp import Extractor, RuleExtractor
from actors.call_supervisor import run_call
from actors.config import CallConfig
from actors.db import StoreGateway
from actors.ports import LineClosed, ModelConnector
from callrt.loadtest.relay import relay_call
from callrt.model.llm_extractor import LlmExtractor
from callrt.model.realtime import OPENAI_REALTIME_URL, OpenAIRealtimeConnector
from callrt.net.asgi_transport import StarletteTransport
from callrt.net.websocket import HandshakeFailed, SansIOWebSocket, accept_websocket
from callrt.server.front_door import open_listeners, serve_front_door
from callrt.server.metrics import MeteredTrace, Metrics
from callrt.sim.peer_script import ScriptError, SimScript
from callrt.sim.realtime_peer import CALL_HEADER, SCRIPT_HEADER, InMemoryModelConnector
from callrt.telephony.media import StreamStart, TwilioCallerLine
from callrt.telephony.webhook import StreamTokens, stream_twiml, validate_signature

if TYPE_CHECKING:
    from store import Store

logger = logging.getLogger("callrt.server.app")

CLOSE_POLICY = 1008
"""Websocket close code for a stream we refuse to serve (no or bad token)."""
CLOSE_TRY_AGAIN = 1013
"""Websocket close code when the server is at its concurrent-call limit."""
MAX_WEBHOOK_BODY = 64 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")

Dialect = Literal["beta", "ga"]


@attrs.frozen
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    db_url: str = "sqlite:///callrt.db"
    public_url: str | None = None
    """The base URL Twilio uses to reach us (e.g. `https://calls.example.com`); overrides the request's
    own URL and any X-Forwarded-Proto/Host headers."""
    business_id: int | None = None
    """The business every call is for; None: the first business in the store."""
    max_calls: int = 100
    """Concurrent calls per server process; streams beyond it are closed with 1013 (try again later)."""
    max_message_bytes: int = 64 * 1024
    """Largest inbound websocket message; the stream is closed (1009) beyond it."""
    auth_token: str | None = None
    """TWILIO_AUTH_TOKEN: when set, /twiml requires a valid X-Twilio-Signature."""
    stream_secret: bytes = attrs.field(factory=lambda: secrets.token_bytes(32), repr=False)
    token_ttl_s: float = 120.0
    start_timeout_s: float = 10.0
    """How long a new media stream may take to send its `start` message."""
    trace_dir: Path = Path("traces")
    workers: int = 1
    openai_api_key: str | None = attrs.field(default=None, repr=False)
    openai_model: str | None = None
    """None: the connector's default model for the dialect."""
    dialect: Dialect = attrs.field(default="ga", validator=attrs.validators.in_(("beta", "ga")))
    language: Literal["he", "en"] = "he"
    realtime_url: str | None = None
    """CALLRT_REALTIME_URL: the Realtime websocket to use instead of OpenAI's. Without an API key it is taken
    to be a simulated peer (`callrt sim-peer`): the stream's sim script and call id go in its handshake."""
    write_traces: bool = True
    """CALLRT_TRACES=off: no per-call trace files (the events still feed /metrics); e.g. under load tests."""
    relay: bool = False
    """Serve every call as a bare relay (no actors, no VAD, no trace): the benchmark's baseline."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> ServerConfig:
        """Defaults from the environment (CALLRT_DB_URL, OPENAI_API_KEY, TWILIO_AUTH_TOKEN,
        CALLRT_TRACE_DIR; plus CALLRT_PUBLIC_URL, CALLRT_STREAM_SECRET, CALLRT_OPENAI_MODEL, CALLRT_DIALECT,
        CALLRT_REALTIME_URL, CALLRT_TRACES)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "db_url": env.get("CALLRT_DB_URL", "sqlite:///callrt.db"),
            "public_url": env.get("CALLRT_PUBLIC_URL") or None,
            "auth_token": env.get("TWILIO_AUTH_TOKEN") or None,
            "trace_dir": Path(env.get("CALLRT_TRACE_DIR", "traces")),
            "openai_api_key": env.get("OPENAI_API_KEY") or None,
            "openai_model": env.get("CALLRT_OPENAI_MODEL") or None,
            "dialect": env.get("CALLRT_DIALECT", "ga"),
            "realtime_url": env.get("CALLRT_REALTIME_URL") or None,
            "write_traces": env.get("CALLRT_TRACES", "on").lower() not in ("0", "off", "false", "no"),
        }
        if env.get("CALLRT_STREAM_SECRET"):
            values["stream_secret"] = env["CALLRT_STREAM_SECRET"].encode("utf-8")
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


@attrs.frozen
class CallPlan:
    """What one accepted stream runs with: its model connector, language and booking extractor."""

    model: ModelConnector
    language: Literal["he", "en"]
    extractor: Extractor | None = None
    """None: the offline rule extractor."""


SIM_PEER_KEY = "callrt-sim-peer"
"""The bearer token sent to a simulated peer (it wants one, and checks nothing else)."""


def plan_call(config: ServerConfig, start: StreamStart) -> CallPlan:
    """The real Realtime API when a key is configured (at `realtime_url` when one is set); otherwise the
    simulated peer playing the stream's `sim_script` parameter (an empty script when there is none or it is
    unusable): over a websocket at `realtime_url` when one is set, else in-process."""
    url = config.realtime_url or OPENAI_REALTIME_URL
    if config.openai_api_key:
        connector = OpenAIRealtimeConnector(config.openai_api_key, config.openai_model, config.dialect, url=url)
        extractor = LlmExtractor(_nlp_client(config.openai_api_key), fallback=RuleExtractor())
        return CallPlan(connector, config.language, extractor)
    script = _sim_script(start)
    if config.realtime_url:
        headers = {SCRIPT_HEADER: script.to_json(), CALL_HEADER: start.call_sid}
        peer = OpenAIRealtimeConnector(
            SIM_PEER_KEY, config.openai_model, config.dialect, url=url, extra_headers=headers
        )
        return CallPlan(peer, script.language)
    return CallPlan(InMemoryModelConnector(script, config.dialect), script.language)


@functools.cache
def _nlp_client(api_key: str) -> openai.AsyncOpenAI:
    """One HTTP connection pool per process for the booking extractor's chat completions."""
    return openai.AsyncOpenAI(api_key=api_key)


def _sim_script(start: StreamStart) -> SimScript:
    raw = start.custom_parameters.get("sim_script")
    script = SimScript()
    if raw:
        try:
            script = SimScript.from_json(raw)
        except ScriptError as exc:
            logger.warning("call %s: unusable sim_script parameter (%s); playing an empty script", start.call_sid, exc)
    return script


class TelephonyServer:
    """The routes' shared state: configuration, store, tokens, counters, call slots."""

    def __init__(
        self,
        config: ServerConfig,
        store: Store,
        business_id: int,
        *,
        call_config: CallConfig | None = None,
        planner: Callable[[ServerConfig, StreamStart], CallPlan] = plan_call,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.business_id = business_id
        self.call_config = call_config or CallConfig()
        self.planner = planner
        self.tokens = StreamTokens(config.stream_secret, ttl_s=config.token_ttl_s, clock=wall_clock)
        self.metrics = Metrics()
        self.db_limiter = trio.CapacityLimiter(8)
        self._slots = 0
        self._used_tokens: dict[str, int] = {}
        self._wall_clock = wall_clock

    # -- HTTP ----------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route("/twiml", self.twiml, methods=["POST"]),
            WebSocketRoute("/media", self.media),
            Route("/health", self.health),
            Route("/metrics", self.prometheus),
        ]
        try:
            from callrt.viewer.routes import viewer_routes
        except ImportError:  # the viewer is optional: a trimmed install still serves calls
            return routes
        return routes + viewer_routes(self.config.trace_dir)

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())

    def external_url(self, request: Request, path: str, *, websocket: bool = False) -> str:
        """The URL Twilio uses for `path`: the configured public URL, else the proxy's
        X-Forwarded-Proto/Host, else the request's own scheme and host."""
        if self.config.public_url:
            base = urlsplit(self.config.public_url.rstrip("/"))
            scheme, netloc, prefix = base.scheme, base.netloc, base.path
        else:
            scheme = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
            netloc = request.headers.get("x-forwarded-host", request.headers.get("host", request.url.netloc))
            netloc, prefix = netloc.split(",")[0].strip(), ""
        if websocket:
            scheme = {"https": "wss", "http": "ws"}.get(scheme, scheme)
        query = "" if websocket else request.url.query
        return urlunsplit((scheme, netloc, prefix + path, query, ""))

    async def twiml(self, request: Request) -> Response:
        body = await _limited_body(request, MAX_WEBHOOK_BODY)
        if body is None:
            return PlainTextResponse("request too large", status_code=413)
        params = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        if self.config.auth_token:
            url = self.external_url(request, "/twiml")
            if not validate_signature(self.config.auth_token, request.headers.get("x-twilio-signature"), url, params):
                logger.warning("rejected /twiml: bad X-Twilio-Signature for %s", url)
                return PlainTextResponse("invalid signature", status_code=403)
        form = dict(params)
        call_sid = form.get("CallSid", "")
        if not call_sid:
            return PlainTextResponse("missing CallSid", status_code=400)
        stream_params = {"token": self.tokens.issue(call_sid), "caller": form.get("From", "")}
        if form.get("sim_script"):
            stream_params["sim_script"] = form["sim_script"]
        xml = stream_twiml(self.external_url(request, "/media", websocket=True), stream_params)
        return Response(xml, media_type="application/xml")

    async def health(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "calls_active": self.metrics.calls_active,
                "max_calls": self.config.max_calls,
                "model": "openai" if self.config.openai_api_key else "simulated",
                "business_id": self.business_id,
                "pid": os.getpid(),
            }
        )

    async def prometheus(self, _request: Request) -> Response:
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # -- media stream ---------------------------------------------------------

    def _token_ok(self, start: StreamStart) -> bool:
        """Valid, for this very call, and never used before (Twilio opens one stream per `<Stream>`)."""
        token = start.custom_parameters.get("token")
        expiry = self.tokens.expiry(start.call_sid, token)
        if expiry is None or token is None or token in self._used_tokens:
            return False
        now = self._wall_clock()
        self._used_tokens = {used: until for used, until in self._used_tokens.items() if until >= now}
        self._used_tokens[token] = expiry
        return True

    async def media(self, websocket: WebSocket) -> None:
        """/media through Starlette: a keep-alive HTTP connection that upgrades in a later request."""
        await websocket.accept()
        await self.media_stream(StarletteTransport(websocket))

    async def media_connection(self, stream: trio.SocketStream) -> None:
        """/media straight off the socket (callrt.server.front_door): the fast path of every call."""
        try:
            websocket, _request = await accept_websocket(stream, max_message_bytes=self.config.max_message_bytes)
        except (HandshakeFailed, trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.info("media connection without a websocket handshake: %s", exc)
            await trio.aclose_forcefully(stream)
            return
        await self.media_stream(websocket)

    async def media_stream(self, transport: StarletteTransport | SansIOWebSocket) -> None:
        """One Twilio media stream: a call slot, the `start` with its token, then the call (or the relay)."""
        if self._slots >= self.config.max_calls:
            self.metrics.calls_refused["capacity"] += 1
            logger.warning("refusing a media stream: %d calls already running", self._slots)
            await transport.aclose(CLOSE_TRY_AGAIN)
            return
        self._slots += 1
        line = TwilioCallerLine(transport)
        self.metrics.line_opened(line.stats)
        try:
            start: StreamStart | None = None
            with trio.move_on_after(self.config.start_timeout_s):
                start = await line.read_start()
            if start is None or not self._token_ok(start):
                self.metrics.calls_refused["token"] += 1
                logger.warning("closing a media stream without a valid token (call %s)", start and start.call_sid)
                await transport.aclose(CLOSE_POLICY)
                return
            if self.config.relay:
                await self._relay_call(line, start)
            else:
                await self._run_call(line, start)
        except LineClosed:
            pass  # hung up before the call started
        finally:
            self._slots -= 1
            self.metrics.line_closed(line.stats)
            await transport.aclose()

    async def _run_call(self, line: TwilioCallerLine, start: StreamStart) -> None:
        trace_path = self.config.trace_dir / f"{_SAFE_NAME.sub('_', start.call_sid)[:64]}.jsonl"
        self.metrics.calls_total += 1
        self.metrics.calls_active += 1
        ended_by = "error"
        trace: MeteredTrace | None = None
        try:
            plan = self.planner(self.config, start)
            meta = {
                "stream_sid": start.stream_sid,
                "business_id": self.business_id,
                "model": type(plan.model).__name__,
                "dialect": plan.model.dialect,
                "language": plan.language,
                "caller_phone": start.custom_parameters.get("caller") or None,
            }
            if self.config.write_traces:
                trace = MeteredTrace(start.call_sid, trace_path, self.metrics, meta=meta)
            else:
                trace = MeteredTrace(start.call_sid, None, self.metrics, meta=meta, keep_in_memory=False)
            line.trace = trace
            outcome = await run_call(
                call_sid=start.call_sid,
                business_id=self.business_id,
                line=line,
                model=plan.model,
                store=self.store,
                caller_phone=start.custom_parameters.get("caller") or None,
                language=plan.language,
                extractor=plan.extractor,
                config=self.call_config,
                trace=trace,
                gateway=StoreGateway(self.db_limiter),
            )
            ended_by = outcome.ended_by
            logger.info("call %s ended by %s: %s", start.call_sid, outcome.ended_by, outcome.reason)
        except Exception:
            # One broken call must never take the server (or the other calls) down with it.
            logger.exception("call %s failed", start.call_sid)
        finally:
            self.metrics.calls_active -= 1
            self.metrics.calls_ended[ended_by] += 1
            if trace is not None:
                trace.close()

    async def _relay_call(self, line: TwilioCallerLine, start: StreamStart) -> None:
        self.metrics.calls_total += 1
        self.metrics.calls_active += 1
        ended_by = "error"
        try:
            plan = self.planner(self.config, start)
            ended_by = await relay_call(line, plan.model, self.metrics, language=plan.language, config=self.call_config)
        except Exception:
            logger.exception("relay call %s failed", start.call_sid)
        finally:
            self.metrics.calls_active -= 1
            self.metrics.calls_ended[ended_by] += 1


async def _limited_body(request: Request, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def hypercorn_config(config: ServerConfig) -> HypercornConfig:
    hc = HypercornConfig()
    hc.websocket_max_message_size = config.max_message_bytes
    hc.graceful_timeout = 5.0
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")  # through our logging set-up, not a second handler
    return hc


async def serve(
    server: TelephonyServer,
    *,
    bind: str | None = None,
    shutdown_trigger: Callable[[], Any] | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `server` on `bind` (`host:port` or `fd://N`; default the configured host and port) through
    `callrt.server.front_door`: media streams on the lean websocket, the rest on hypercorn. `task_status`
    receives the bound URLs."""
    config = hypercorn_config(server.config)
    listeners = await open_listeners(bind or f"{server.config.host}:{server.config.port}", config.backlog)
    await serve_front_door(
        server.app(),
        server.media_connection,
        config,
        listeners,
        shutdown_trigger=shutdown_trigger,
        task_status=task_status,
    )
