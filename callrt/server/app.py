"""The telephony server: a Starlette app on hypercorn, with media streams on a fast path
(callrt.server.front_door).

    POST /twiml    Twilio's voice webhook: answers `<Connect><Stream>` TwiML carrying a
                   short-lived stream token (403 on a bad X-Twilio-Signature when an
                   auth token is configured; the URL signed is `callrt.server.proxy`'s)
    WS   /media    Twilio Media Streams: one `run_call` per stream whose `start` carries
                   a valid token, once per CallSid in the whole deployment (the database
                   remembers it); anything else is closed without a word. A call slot is
                   taken only then: connections still waiting for `start` have their own
                   small pool (callrt.server.admission)
    GET  /health   liveness and load, as JSON
    GET  /metrics  Prometheus counters (see callrt.server.metrics), for `Authorization: Bearer
                   $CALLRT_METRICS_TOKEN` only (403 without it, 404 when no token is configured)
    /traces...     the trace viewer over `trace_dir`, for users logged in to the console
    /admin/...     the business console (callrt.console)

A call reaches the business that owns the number Twilio says was called (`To`); with a configured
`business_id` every call goes to that business. A number no business owns gets a short spoken
apology and a hang-up.

The model is the OpenAI Realtime API when an API key is configured, otherwise the
simulated model peer in-process, so `callrt serve` works offline end to end. With a
`realtime_url` the Realtime websocket connector talks to that URL instead: a simulated
peer (`callrt sim-peer`) when no key is set, which is how `callrt bench` runs live calls.
With `relay` each call is a bare relay (callrt.loadtest.relay), the benchmark's baseline. What an
admitted stream's call does, and leaves behind it, is `callrt.server.calls`.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from actors.config import CallConfig
from actors.ports import LineClosed
from callrt.logsafe import escape_for_log
from callrt.net.asgi_transport import StarletteTransport
from callrt.net.websocket import HandshakeFailed, SansIOWebSocket, accept_websocket
from callrt.server.admission import Admission
from callrt.server.calls import CallRunner
from callrt.server.config import ServerConfig, hypercorn_config
from callrt.server.front_door import open_listeners, serve_front_door
from callrt.server.http_limits import BodyDeadline, BodyTooLarge, ClientDisconnect, limited_body
from callrt.server.metrics import Metrics
from callrt.server.plan import CallPlan, plan_call
from callrt.server.proxy import TrustedProxies, external_url
from callrt.server.retention import keep_pruning
from callrt.server.stream_claims import StreamClaims, chosen_business, token_subject
from callrt.telephony.media import StreamStart, TwilioCallerLine
from callrt.telephony.webhook import StreamTokens, stream_twiml, validate_signature

if TYPE_CHECKING:
    from callrt.console import Console
    from store import Store

logger = logging.getLogger("callrt.server.app")

CLOSE_POLICY = 1008
"""Websocket close code for a stream we refuse to serve (no or bad token)."""
CLOSE_TRY_AGAIN = 1013
"""Websocket close code when the server is at its concurrent-call limit."""
MAX_WEBHOOK_BODY = 64 * 1024
_NOT_DIGITS = re.compile(r"[^0-9+]")
UNKNOWN_NUMBER_SAY = "Sorry, this number is not in service. Goodbye."
DRAIN_GOODBYE_S = 20.0
"""After the drain's grace: how long calls get to say their goodbye (a few seconds of audio) and hang up."""

MediaTransport = StarletteTransport | SansIOWebSocket


class TelephonyServer:
    """The routes' shared state: configuration, store, tokens, counters, admission."""

    def __init__(
        self,
        config: ServerConfig,
        store: Store,
        business_id: int | None,
        *,
        call_config: CallConfig | None = None,
        planner: Callable[[ServerConfig, StreamStart], CallPlan] = plan_call,
        wall_clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.business_id = business_id
        self.tokens = StreamTokens(config.stream_secret, ttl_s=config.token_ttl_s, clock=wall_clock)
        self.metrics = metrics or Metrics()
        self.db_limiter = trio.CapacityLimiter(8)
        self.admission = Admission(max_pending=config.max_pending, max_calls=config.max_calls)
        self.proxies = TrustedProxies.parse(config.forwarded_allow_ips)
        self.claims = StreamClaims(self.tokens, store, self.db_limiter, wall_clock)
        self.console = _console(config, store)
        self.draining = False
        """SIGTERM: /health answers 503 "draining" and no new stream is accepted; running calls go on."""
        self.goodbye_now = trio.Event()
        """Set when the drain's grace is over: every running call says its goodbye and ends."""
        self.calls = CallRunner(
            config,
            store,
            self.metrics,
            self.db_limiter,
            call_config=call_config or CallConfig(transcription_model=config.transcription_model),
            planner=planner,
            goodbye_now=self.goodbye_now,
        )
        self._no_calls = trio.Event()
        self._no_calls.set()

    # -- HTTP ----------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route("/twiml", self.twiml, methods=["POST"]),
            WebSocketRoute("/media", self.media),
            Route("/health", self.health),
            Route("/metrics", self.prometheus),
        ]
        if self.console is None:  # transcripts are private: no console login, no trace viewer
            return routes
        from callrt.viewer.routes import viewer_routes

        return routes + self.console.routes() + viewer_routes(self.config.trace_dir, self.console.trace_access)

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())

    def asgi(self) -> BodyDeadline:
        """The app as served: request bodies under a deadline."""
        return BodyDeadline(self.app(), self.config.body_timeout_s)

    def external_url(self, request: Request, path: str, *, websocket: bool = False) -> str:
        """The URL Twilio uses for `path` (see callrt.server.proxy)."""
        return external_url(request, path, public_url=self.config.public_url, proxies=self.proxies, websocket=websocket)

    async def twiml(self, request: Request) -> Response:
        try:
            body = await limited_body(request, MAX_WEBHOOK_BODY)
        except BodyTooLarge:
            return PlainTextResponse("request too large", status_code=413)
        except ClientDisconnect:
            return Response(status_code=408)  # BodyDeadline has answered already; this goes nowhere
        params = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        if self.config.auth_token:
            url = self.external_url(request, "/twiml")
            if not validate_signature(self.config.auth_token, request.headers.get("x-twilio-signature"), url, params):
                logger.warning("rejected /twiml: bad X-Twilio-Signature for %s", escape_for_log(url))
                return PlainTextResponse("invalid signature", status_code=403)
        form = dict(params)
        call_sid = form.get("CallSid", "")
        if not call_sid:
            return PlainTextResponse("missing CallSid", status_code=400)
        business_id = await self._business_called(form.get("To", ""))
        if business_id is None:
            logger.warning(
                "call %s to %s: no business has this number; said sorry, hung up",
                escape_for_log(call_sid, 64),
                escape_for_log(form.get("To", ""), 64),
            )
            self.metrics.calls_refused["unknown_number"] += 1
            return Response(unknown_number_twiml(), media_type="application/xml")
        caller = form.get("From", "")
        stream_params = {
            "token": self.tokens.issue(token_subject(call_sid, business_id), caller),
            "caller": caller,
            "business": str(business_id),
        }
        if form.get("sim_script"):
            stream_params["sim_script"] = form["sim_script"]
        xml = stream_twiml(self.external_url(request, "/media", websocket=True), stream_params)
        return Response(xml, media_type="application/xml")

    async def _business_called(self, to: str) -> int | None:
        """The business the call is for: the configured one, else the owner of the number called."""
        if self.business_id is not None:
            return self.business_id
        number = _NOT_DIGITS.sub("", to)[:32]
        if not number:
            return None
        return await trio.to_thread.run_sync(self.store.business_for_number, number, limiter=self.db_limiter)

    async def drain(self, grace_s: float, goodbye_s: float = DRAIN_GOODBYE_S) -> None:
        """Stop taking calls; give running calls `grace_s` to end by themselves, then have each say its
        goodbye and wait (at most `goodbye_s`) for them to hang up. The listeners stay up meanwhile."""
        self.draining = True
        logger.warning("draining: %d call(s) running, %g s of grace", self.admission.calls, grace_s)
        with trio.move_on_after(grace_s):
            await self._no_calls.wait()
        self.goodbye_now.set()
        with trio.move_on_after(goodbye_s):
            await self._no_calls.wait()
        logger.warning("drained: %d call(s) still running", self.admission.calls)

    async def health(self, _request: Request) -> Response:
        """Up and how loaded: nothing about the process, its model or its businesses."""
        if self.draining:
            return JSONResponse({"status": "draining", "calls_active": self.metrics.calls_active}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "calls_active": self.metrics.calls_active,
                "max_calls": self.config.max_calls,
                "streams_pending": self.admission.pending,
                "max_pending": self.config.max_pending,
            }
        )

    async def prometheus(self, request: Request) -> Response:
        if not self.config.metrics_token:
            return PlainTextResponse("not found", status_code=404)
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip().encode("utf-8", "replace")
        if not secrets.compare_digest(given, self.config.metrics_token.encode("utf-8")):
            return PlainTextResponse("forbidden", status_code=403, headers={"WWW-Authenticate": "Bearer"})
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # -- media stream ---------------------------------------------------------

    async def media(self, websocket: WebSocket) -> None:
        """/media through Starlette: a keep-alive HTTP connection that upgrades in a later request."""

        async def accept() -> StarletteTransport:
            await websocket.accept()
            return StarletteTransport(websocket)

        await self.media_stream(accept)

    async def media_connection(self, stream: trio.SocketStream) -> None:
        """/media straight off the socket (callrt.server.front_door): the fast path of every call."""

        async def handshake() -> SansIOWebSocket | None:
            try:
                websocket, _request = await accept_websocket(stream, max_message_bytes=self.config.max_message_bytes)
            except (HandshakeFailed, trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                logger.info("media connection without a websocket handshake: %s", escape_for_log(str(exc)))
                await trio.aclose_forcefully(stream)
                return None
            return websocket

        await self.media_stream(handshake)

    async def media_stream(self, open_transport: Callable[[], Awaitable[MediaTransport | None]]) -> None:
        """One Twilio media stream: the handshake and `start` in the waiting pool, then its token, a call
        slot and the deployment-wide claim of its CallSid, then the call (or the relay)."""
        transport: MediaTransport | None = None
        line: TwilioCallerLine | None = None
        start: StreamStart | None = None
        try:
            with self.admission.waiting(self.config.start_timeout_s):
                transport = await open_transport()
                if transport is None:
                    return
                line = TwilioCallerLine(transport)
                self.metrics.line_opened(line.stats)
                if self.draining:
                    self._refuse("draining", None, "the server is draining")
                    await transport.aclose(CLOSE_TRY_AGAIN)
                    return
                start = await line.read_start()
            if transport is None or line is None:
                return  # dropped from the waiting pool before its handshake was through
            business_id = self._business_of(start) if start is not None and self.claims.genuine(start) else None
            if start is None or business_id is None:
                self._refuse("token", start, "without a valid token")
                await transport.aclose(CLOSE_POLICY)
                return
            if not self.admission.take_call_slot():
                self._refuse("capacity", start, f"{self.admission.calls} calls already running")
                await transport.aclose(CLOSE_TRY_AGAIN)
                return
            self._no_calls = trio.Event() if self._no_calls.is_set() else self._no_calls
            try:
                if not await self.claims.claim(start):
                    self._refuse("duplicate", start, "its CallSid has streamed before")
                    await transport.aclose(CLOSE_POLICY)
                elif self.config.relay:
                    await self.calls.relay(line, start)
                elif not await self.calls.run(line, start, business_id):
                    self._refuse("duplicate", start, "a trace of its CallSid exists already")
            finally:
                self.admission.release_call_slot()
                if self.admission.calls == 0:
                    self._no_calls.set()
        except LineClosed:
            pass  # hung up before the call started
        finally:
            if line is not None:
                self.metrics.line_closed(line.stats)
            if transport is not None:
                await transport.aclose()

    def _refuse(self, reason: str, start: StreamStart | None, why: str) -> None:
        self.metrics.calls_refused[reason] += 1
        call = escape_for_log(start.call_sid, 64) if start is not None else "without a start"
        logger.warning("closing a media stream (call %s): %s", call, why)

    def _business_of(self, start: StreamStart) -> int | None:
        """The business the webhook chose (its id is covered by the token), else the configured one."""
        chosen = chosen_business(start)
        return chosen if chosen is not None else self.business_id


def _console(config: ServerConfig, store: Store) -> Console | None:
    try:
        from callrt.console import Console as BusinessConsole
    except ImportError:  # the console is optional (jinja2, argon2): a trimmed install still serves calls
        logger.warning("the business console is not installed: /admin and /traces are not served")
        return None
    return BusinessConsole(store, trace_dir=config.trace_dir, public_url=config.public_url)


def unknown_number_twiml() -> str:
    """For a number no business owns: a short polite message, then the line is closed."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Say>{escape(UNKNOWN_NUMBER_SAY)}</Say><Hangup/></Response>'
    )


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
    async with trio.open_nursery() as nursery:
        if server.config.trace_retention_days is not None:
            nursery.start_soon(keep_pruning, server.config.trace_dir, server.config.trace_retention_days)
        await serve_front_door(
            server.asgi(),
            server.media_connection,
            config,
            listeners,
            shutdown_trigger=shutdown_trigger,
            task_status=task_status,
        )
        nursery.cancel_scope.cancel()
