"""ModelSession: the RealtimeActor's connection to the model, the I/O half of the model link.

It connects (with `model_link`'s backoff, then `ModelUnavailable`), runs one pump per connection,
sends client events under our ids, drops a connection that closed or failed a send (one found dead
by its keepalive, `ModelUnresponsive`, is also reported to the handler as a frozen model), and rotates a
session that reached `model_max_session_s` at its next quiet moment. What the events mean is the
`SessionHandler`'s (the actor): it configures each new session, reacts to each parsed server event
and resets its state when a connection drops. The handler's state is shared with the actor's inbox
loop, so every call into it is made under the actor's lock: each transition is atomic.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Protocol

import trio

from . import realtime_protocol as rp
from .locks import QuickLock
from .model_link import RECONNECT_ATTEMPTS, ModelLink, reconnect_delay
from .ports import ModelClosed, ModelConnection, ModelConnector, ModelUnresponsive
from .trace import Recorder, Trace

CLOSE_TIMEOUT_S = 1.0


class ModelUnavailable(RuntimeError):
    """Every reconnect attempt failed: the actor crashes and its supervisor decides."""


class SessionHandler(Protocol):
    """What a session's events mean; called under the actor's lock."""

    async def session_started(self) -> None:
        """A new connection: configure the session and replay the conversation (sends only)."""

    async def server_event(self, event: rp.ServerEvent) -> None: ...

    def session_dropped(self, reason: str) -> None:
        """The connection is gone: pending state resets (and is traced with `reason`)."""

    async def session_unresponsive(self) -> None:
        """The dropped connection was found dead by its keepalive: a frozen model (recycle, or give it up)."""

    def quiet(self) -> bool:
        """Nothing pending and the AI silent: the session may rotate now."""


class ModelSession:
    def __init__(
        self,
        connector: ModelConnector,
        handler: SessionHandler,
        lock: QuickLock,
        trace: Trace,
        record: Recorder,
        max_session_s: float,
    ) -> None:
        self.dialect = rp.check_dialect(connector.dialect)
        self.link = ModelLink()
        self._connector = connector
        self._handler = handler
        self._lock = lock
        self._trace = trace
        self._record = record
        self._max_session_s = max_session_s
        self._conn: ModelConnection | None = None
        self._pump_scope = trio.CancelScope()
        self._pump_task: trio.lowlevel.Task | None = None
        self._run_scope = trio.CancelScope()
        self.stopped = False
        """The actor gave the model up for this call (`stop`): no more connections."""

    async def run(self) -> None:
        """Connect, pump, reconnect: until `stop` (or `ModelUnavailable`)."""
        with self._run_scope:
            while not self.stopped:
                conn = await self._connect_with_backoff()
                async with self._lock:
                    self._conn = conn
                    self.link.connected(trio.current_time())
                    await self._handler.session_started()
                reason = await self._pump(conn)
                async with self._lock:
                    await self.drop(reason)

    async def stop(self, reason: str) -> None:
        """Give the model up for the rest of the call: the connection is dropped and never made again."""
        self.stopped = True
        self._run_scope.cancel()
        await self.drop(reason)

    async def send(self, event: Mapping[str, Any]) -> str | None:
        """Send one client event; its id, or None (and the connection dropped) when it could not be sent."""
        conn = self._conn
        if conn is None:
            return None
        event_id = self.link.next_event_id(str(event.get("type", "")))
        if self._trace.detailed:  # the summary is built only for a trace that keeps it
            self._trace.record("io", peer="model", dir="out", event_id=event_id, **rp.summarise_client_event(event))
        try:
            await conn.send({**event, "event_id": event_id})
        except ModelUnresponsive:
            await self.drop("unresponsive")
            return None
        except ModelClosed:
            await self.drop("send_failed")
            return None
        return event_id

    async def drop(self, reason: str) -> None:
        """Forget the connection: the handler resets its pending state, and the connection is closed."""
        conn, self._conn = self._conn, None
        self.link.dropped()
        if conn is None:
            return
        if trio.lowlevel.current_task() is not self._pump_task:
            # Wake the pump out of its receive; from inside the pump, its loop sees the change itself.
            self._pump_scope.cancel()
        self._handler.session_dropped(reason)
        await self._close_quietly(conn)
        if reason == "unresponsive":
            await self._handler.session_unresponsive()

    async def close(self) -> None:
        await self._close_quietly(self._conn)

    async def _connect_with_backoff(self) -> ModelConnection:
        for attempt in range(1, RECONNECT_ATTEMPTS + 1):
            try:
                return await self._connector.connect()
            except (ModelClosed, OSError) as exc:
                self._record("connect_failed", attempt=attempt, error=f"{type(exc).__name__}: {exc}")
            delay = reconnect_delay(attempt)
            if delay is not None:
                await trio.sleep(delay)
        raise ModelUnavailable(f"no model connection after {RECONNECT_ATTEMPTS} attempts")

    async def _pump(self, conn: ModelConnection) -> str:
        """Handle server events until the connection closes or is dropped, or rotate an old session when quiet.

        Only the receive is exposed to the rotation deadline: a handler is never cancelled halfway. The
        handler's scope is shielded while it runs rather than a deadline scope opened per receive, which
        cost more than the rest of the loop for a small event.
        """
        deadline = self.link.rotation_due_at(self._max_session_s)
        self._pump_task = trio.lowlevel.current_task()
        with trio.CancelScope() as self._pump_scope:
            with trio.move_on_at(deadline), trio.CancelScope() as handling:
                while self._conn is conn:
                    handling.shield = False
                    try:
                        raw = await conn.receive()
                    except ModelUnresponsive:
                        return "unresponsive"
                    except ModelClosed:
                        return "closed"
                    handling.shield = True  # before any checkpoint: the event is handled whole
                    if not await self._handle_event(conn, raw):
                        return "dropped"
                return "dropped"
            self._record("session_rotation_due")
            while self._conn is conn:
                if self._handler.quiet():
                    return "session_rotation"
                try:
                    raw = await conn.receive()
                except ModelUnresponsive:
                    return "unresponsive"
                except ModelClosed:
                    return "closed"
                if not await self._handle_event(conn, raw):
                    return "dropped"
        return "dropped"

    async def _handle_event(self, conn: ModelConnection, raw: dict[str, Any]) -> bool:
        """False when the connection was dropped meanwhile (the event belongs to it and is not handled)."""
        async with self._lock:
            if self._conn is not conn:
                return False
            if self.link.is_duplicate(raw.get("event_id")):
                self._trace.record("io", peer="model", dir="in", type=raw.get("type"), duplicate=True)
                return True
            event = rp.parse_server_event(self.dialect, raw)
            if self._trace.detailed:
                self._trace.record("io", peer="model", dir="in", **rp.summarise_server_event(raw, event))
            if event is not None:
                await self._handler.server_event(event)
            return True

    async def _close_quietly(self, conn: ModelConnection | None) -> None:
        if conn is None:
            return
        # Already gone is fine: there is nothing left to release.
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT_S), suppress(ModelClosed, OSError):
            await conn.aclose()
