"""Running a RealtimeActor for tests: a real SQLite store, real mailboxes and trace, the wire double."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
import trio.testing

from actors.config import CallConfig
from actors.db import StoreGateway
from actors.messages import AiAudio, RealtimeInbox, SilenceElapsed
from actors.realtime_actor import RealtimeActor
from store import Store
from tests.support.context import PHONE, make_context
from tests.support.groups import flat_errors
from tests.support.realtime_wire import Server, WireConnection, WireConnector
from tests.support.waiting import WatchedTrace

HOURS = {day: [("09:00", "19:00")] for day in ("sun", "mon", "tue", "wed", "thu")} | {
    "fri": [("08:00", "13:00")],
    "sat": [],
}
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
_call_ids = itertools.count(1)
UNTIL_LIMIT_S = 3600
"""How long (virtual time) `Harness.until` waits: longer than any call a test plays."""


def make_store(directory: Path) -> tuple[Store, int]:
    store = Store(f"sqlite:///{directory / 'realtime.db'}")
    store.init_schema()
    business_id = store.create_business(name="מספרת דנה", opening_hours=HOURS)
    return store, business_id


class Harness:
    """One call's context around a RealtimeActor; `idle()` waits until the actor has nothing left to do."""

    def __init__(
        self,
        store: Store,
        business_id: int,
        dialect: str = "beta",
        config: CallConfig | None = None,
        gateway: StoreGateway | None = None,
    ) -> None:
        self.call_sid = f"CA{next(_call_ids):06d}"
        store.start_call_session(self.call_sid, business_id, PHONE)
        self.store = store
        self.config = config or CallConfig()
        self.connector = WireConnector(dialect)
        self.changes = self.connector.changes
        """Notified on every traced event and every wire event: what `until` waits on."""
        self.trace = WatchedTrace(self.call_sid, self.changes)
        self.ctx = make_context(
            call_sid=self.call_sid,
            business_id=business_id,
            store=store,
            config=self.config,
            trace=self.trace,
            # Virtual time: store calls run inline unless a test brings its own (threaded) gateway.
            gateway=gateway or StoreGateway(inline=True),
            now=NOW,
        )
        self.server = Server(dialect)
        self.inbox = self.ctx.mailboxes.realtime.outbox("test")
        self.actor = self.new_actor()
        self.audio_out: list[Any] = []
        self.nlp_out: list[Any] = []

    def new_actor(self) -> RealtimeActor:
        self.actor = RealtimeActor(self.ctx, self.connector)
        return self.actor

    @property
    def wire(self) -> WireConnection:
        return self.connector.current

    def send(self, *messages: RealtimeInbox) -> None:
        for message in messages:
            self.inbox.send_nowait(message)

    def push(self, *events: dict[str, Any]) -> None:
        self.wire.push(*events)

    async def idle(self) -> None:
        """All tasks blocked, the actor not handling anything, its turns written, its inbox and the wire's
        server queue empty."""
        for _ in range(100_000):
            await trio.testing.wait_all_tasks_blocked()
            wire_empty = not self.connector.connections or self.wire.undelivered() == 0
            if (
                self.connector.attempts > 0
                and not self.actor.handling
                and self.actor.writes_pending == 0
                and self.ctx.mailboxes.realtime.depth == 0
                and wire_empty
            ):
                self.drain()
                return
            # Blocked with work left: a timer (the backoff, a store call's thread) has to fire first.
            await trio.sleep(0.0005)
        raise AssertionError("the actor never became idle")

    async def start(self, nursery: trio.Nursery, *, acknowledged: bool = True) -> None:
        """Run the actor and let it connect; `acknowledged`: the server confirms its session too."""
        before = len(self.connector.connections)
        nursery.start_soon(self.actor.run)
        await self.new_connection(before)
        await self.idle()
        if acknowledged:
            self.push(self.server.session_created(), self.server.session_updated())
            await self.idle()

    @asynccontextmanager
    async def running(self, *, acknowledged: bool = True) -> AsyncIterator[trio.Nursery]:
        """Run the actor (see `start`) for the body of the `async with`, and cancel it at the end.

        Errors surface as themselves: a failing assertion in the body, or the actor's own crash, is
        raised bare rather than inside the nursery's ExceptionGroup (trio's nurseries always wrap).
        The nursery is yielded for a test that starts a task of its own next to the actor."""
        with flat_errors():
            async with trio.open_nursery() as nursery:
                await self.start(nursery, acknowledged=acknowledged)
                yield nursery
                nursery.cancel_scope.cancel()

    async def new_connection(self, before: int) -> None:
        """Wait (virtual time) until the actor has opened a connection beyond the first `before`."""
        await self.changes.until(lambda: len(self.connector.connections) > before)

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until `condition()` holds; it is checked on every traced event and wire event.

        A wait that outlasts `UNTIL_LIMIT_S` of virtual time fails with the call's last events: when the
        condition can no longer come true, the actor's timers run out and the autojump clock reaches the
        limit at once, instead of the test hanging with nothing left to wake it."""
        try:
            with trio.fail_after(UNTIL_LIMIT_S):
                await self.changes.until(condition)
        except trio.TooSlowError:
            recent = "\n".join(map(str, self.trace.events[-12:]))
            raise AssertionError(
                f"condition still false after {UNTIL_LIMIT_S} s (virtual); last events:\n{recent}"
            ) from None

    def drain(self) -> None:
        """Move what the actor sent to the audio and NLP mailboxes into `audio_out` and `nlp_out`."""
        for mailbox, sink in ((self.ctx.mailboxes.audio, self.audio_out), (self.ctx.mailboxes.nlp, self.nlp_out)):
            while True:
                try:
                    sink.append(mailbox.receive_nowait())
                except trio.WouldBlock:
                    break

    def realtime_events(self, what: str) -> list[dict[str, Any]]:
        return [e for e in self.trace.events if e["ev"] == "realtime" and e["what"] == what]

    def logs(self) -> list[str]:
        return [e["msg"] for e in self.trace.events if e["ev"] == "log"]

    def sent(self, type_: str) -> list[dict[str, Any]]:
        return [e for conn in self.connector.connections for e in conn.sent if e["type"] == type_]

    def audio_of(self, predicate: Callable[[AiAudio], bool]) -> int:
        return sum(len(m.payload) for m in self.audio_out if isinstance(m, AiAudio) and predicate(m))


GREETING = "שלום, כאן העוזרת של מספרת דנה. איך אפשר לעזור?"


async def greet(h: Harness) -> None:
    """Play the greeting response of a running, acknowledged actor to its end."""
    h.push(*h.server.response("resp_g", "item_g", GREETING))
    await h.idle()


async def through_silence_prompt(h: Harness) -> None:
    """Greet, then a first silence tick, and play the 'are you still on the line?' it asks for."""
    await greet(h)
    h.send(SilenceElapsed(15_000))
    await h.idle()
    h.push(*h.server.response("resp_p", "item_p", "אתה עדיין על הקו?"))
    await h.idle()
