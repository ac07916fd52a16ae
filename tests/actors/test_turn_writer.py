"""TurnWriter and the session row on PostgreSQL, in virtual time: turns wait for a session row the database
could not create, and for a database that is down, and are written in order once it is back; what waits is
bounded; a refused session stores nothing. Outages come from the gateway's fault hook (`outage_until`)."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterator

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.call_context import CallContext
from actors.db import StoreGateway
from actors.realtime_protocol import TurnRole
from actors.session_row import keep_opening
from actors.turn_writer import MAX_HELD_BYTES, MAX_HELD_WRITES, TurnWriter
from store import Store
from tests.support.context import make_context
from tests.support.store import pg_url, salon

__all__ = ["pg_url"]  # fixtures used by this module

pytestmark = pytest.mark.postgres
_calls = itertools.count(1)


@pytest.fixture(scope="module")
def pg_store(pg_url: str) -> Iterator[tuple[Store, int]]:
    store = Store(pg_url)
    store.init_schema()
    yield store, salon(store)
    store.dispose()


class Call:
    """One call's context on the shared store, its session not created yet, and a writer for its turns."""

    def __init__(self, store: Store, business_id: int, *, outage_s: float = 0.0) -> None:
        self.store = store
        self.gateway = StoreGateway(inline=True)
        self.gateway.outage_until = outage_s
        self.ctx: CallContext = make_context(
            call_sid=f"CAwriter{next(_calls):05d}",
            business_id=business_id,
            store=store,
            gateway=self.gateway,
            session_opened=False,
        )
        self.errors: list[str] = []
        self.writer = TurnWriter(self.ctx, lambda op, exc: self.errors.append(f"{op}: {exc}"))

    def stored(self) -> list[tuple[str, str]]:
        return self.store.load_call_state(self.ctx.call_sid).turns

    def traced(self, what: str) -> list[dict[str, object]]:
        return [e for e in self.ctx.trace.events if e["ev"] == "realtime" and e["what"] == what]

    def session_exists(self) -> bool:
        return self.store.business_of_call(self.ctx.call_sid) is not None


Body = Callable[[Call], Awaitable[None]]


def run_virtual(store: tuple[Store, int], body: Body, *, outage_s: float = 0.0, supervised: bool = True) -> Call:
    """One call in virtual time: the session's creation (`supervised`: as the call's supervisor runs it) and
    the writer run while `body` does; then the writer stops and flushes, as the actor's does."""
    calls: list[Call] = []

    async def main() -> None:
        call = Call(*store, outage_s=outage_s)
        calls.append(call)
        async with trio.open_nursery() as nursery:
            if supervised:
                nursery.start_soon(keep_opening, call.ctx)
            nursery.start_soon(call.writer.run)
            await body(call)
            nursery.cancel_scope.cancel()
        await call.writer.flush(2.0)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return calls[0]


def test_turns_wait_for_the_session_row_and_are_written_in_order_once_it_exists(pg_store: tuple[Store, int]) -> None:
    async def body(call: Call) -> None:
        call.writer.append(0, "assistant", "שלום, איך אפשר לעזור?")
        call.writer.append(1, "user", "")  # the caller's placeholder
        await trio.sleep(5)
        call.writer.fill(1, "תור למחר בשש")  # while held: the queued placeholder takes the words
        call.writer.append(2, "server", "[SERVER] appointment_created id=7")
        assert call.writer.pending == 3 and not call.session_exists()
        await trio.sleep(20)
        assert call.writer.pending == 0
        call.writer.append(3, "assistant", "קבעתי לך למחר בשש")

    call = run_virtual(pg_store, body, outage_s=20.0)
    assert call.stored() == [
        ("assistant", "שלום, איך אפשר לעזור?"),
        ("user", "תור למחר בשש"),
        ("server", "[SERVER] appointment_created id=7"),
        ("assistant", "קבעתי לך למחר בשש"),
    ]
    assert [e["ev"] for e in call.ctx.trace.events].count("session_opened") == 1
    assert call.errors == [] and not call.traced("turn_dropped")


def test_a_database_down_after_the_session_exists_holds_the_writes_too(pg_store: tuple[Store, int]) -> None:
    async def body(call: Call) -> None:
        call.writer.append(0, "user", "")
        await trio.sleep(1)
        assert call.stored() == [("user", "")]
        call.gateway.outage_until = trio.current_time() + 60
        call.writer.fill(0, "hello")  # its placeholder is stored: a write of its own, held
        call.writer.append(1, "assistant", "hi, how can I help?")
        await trio.sleep(30)
        assert call.writer.pending == 2 and call.traced("store_retry")
        await trio.sleep(40)

    call = run_virtual(pg_store, body)
    assert call.stored() == [("user", "hello"), ("assistant", "hi, how can I help?")]
    assert call.errors == []


def test_a_successor_writes_what_its_predecessor_held_first_and_fills_its_stored_turns(
    pg_store: tuple[Store, int],
) -> None:
    """A writer stopped while the database is down hands its held writes on (`held`); the next one, carrying on
    from the same turns, writes them before its own, and a fill of a turn the first one stored goes there."""
    calls: list[Call] = []

    async def main() -> None:
        call = Call(*pg_store)
        calls.append(call)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_opening, call.ctx)
            nursery.start_soon(call.writer.run)
            call.writer.append(0, "assistant", "hello")
            call.writer.append(1, "user", "")
            await trio.sleep(1)
            call.gateway.outage_until = trio.current_time() + 60
            call.writer.append(2, "assistant", "one moment")
            await trio.sleep(5)
            nursery.cancel_scope.cancel()  # the first writer stops, as its actor does
        await call.writer.flush(2.0)  # "one moment" is still held
        assert call.traced("turns_unstored")
        successor = TurnWriter(call.ctx, lambda op, exc: call.errors.append(f"{op}: {exc}"))
        successor.adopt(call.writer.held())
        successor.fill(1, "a haircut tomorrow")  # the placeholder the first writer stored
        successor.append(3, "assistant", "tomorrow at six?")
        assert successor.pending == 3 and call.traced("turn_writes_adopted")[0]["writes"] == 1
        with trio.move_on_after(120):
            await successor.run()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    call = calls[0]
    assert call.stored() == [
        ("assistant", "hello"),
        ("user", "a haircut tomorrow"),
        ("assistant", "one moment"),
        ("assistant", "tomorrow at six?"),
    ]
    assert call.errors == []


def test_beyond_the_bound_the_newest_turns_are_not_kept(pg_store: tuple[Store, int]) -> None:
    extra = 5

    async def body(call: Call) -> None:
        for key in range(MAX_HELD_WRITES + extra):
            call.writer.append(key, "user", "")
        call.writer.fill(MAX_HELD_WRITES, "words of a turn not kept")  # not kept either
        call.writer.fill(0, "first")
        await trio.sleep(200)

    call = run_virtual(pg_store, body, outage_s=100.0)
    stored = call.stored()
    assert stored == [("user", "first")] + [("user", "")] * (MAX_HELD_WRITES - 1)
    dropped = call.traced("turn_dropped")
    assert [e["key"] for e in dropped] == [*range(MAX_HELD_WRITES, MAX_HELD_WRITES + extra), MAX_HELD_WRITES]
    logged = [e["msg"] for e in call.ctx.trace.events if e["ev"] == "log"]
    assert sum("is not kept" in line for line in logged) == extra + 1


def test_the_bound_counts_bytes_too(pg_store: tuple[Store, int]) -> None:
    long_turn = "א" * (MAX_HELD_BYTES // 2 // 2 - 10)  # two bytes a letter: just under half the bound

    async def body(call: Call) -> None:
        for key in range(3):
            call.writer.append(key, "assistant", long_turn)
        await trio.sleep(200)

    call = run_virtual(pg_store, body, outage_s=100.0)
    assert call.stored() == [("assistant", long_turn)] * 2
    assert [e["key"] for e in call.traced("turn_dropped")] == [2]


def test_a_refused_session_stores_nothing_and_says_so(pg_store: tuple[Store, int]) -> None:
    store, _ = pg_store

    async def body(call: Call) -> None:
        call.writer.append(0, "assistant", "hello")
        await trio.sleep(5)

    call = run_virtual((store, 10**9), body)  # no such business: the database refuses the row, outage or not
    assert call.ctx.session.state == "failed" and not call.session_exists()
    assert call.traced("turns_unstored")
    assert any(e["ev"] == "session_refused" for e in call.ctx.trace.events)


def test_a_stopping_writer_makes_a_last_attempt_at_the_session(pg_store: tuple[Store, int]) -> None:
    """The call ends 1 s before the database returns: the flush's last attempt creates the row, then writes."""

    async def body(call: Call) -> None:
        call.writer.append(0, "assistant", "goodbye")
        await trio.sleep(9)

    call = run_virtual(pg_store, body, outage_s=10.0, supervised=False)  # only the flush tries the session
    assert call.ctx.session.state == "open"
    assert call.stored() == [("assistant", "goodbye")]


Op = tuple[float, str, int, str]
"""(pause before it, "append" or "fill", which turn, its text)."""
ROLES: tuple[TurnRole, ...] = ("user", "assistant", "server")


@st.composite
def conversations(draw: st.DrawFn) -> list[Op]:
    ops: list[Op] = []
    appended = 0
    for _ in range(draw(st.integers(min_value=1, max_value=30))):
        pause = draw(st.sampled_from([0.0, 0.1, 1.0, 3.0, 8.0]))
        if appended and draw(st.booleans()):
            ops.append(
                (pause, "fill", draw(st.integers(min_value=0, max_value=appended - 1)), draw(st.text(max_size=8)))
            )
        else:
            ops.append((pause, "append", appended, draw(st.text(max_size=8))))
            appended += 1
    return ops


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=conversations(),
    roles=st.lists(st.sampled_from(ROLES), min_size=30, max_size=30),
    down_at_start_s=st.sampled_from([0.0, 0.4, 3.0, 25.0]),
    outages=st.lists(st.tuples(st.floats(0, 60), st.floats(0.1, 30)), max_size=3),
    seed=st.random_module(),
)
def test_no_turn_is_lost_or_reordered_whatever_the_outages(
    pg_store: tuple[Store, int],
    ops: list[Op],
    roles: list[TurnRole],
    down_at_start_s: float,
    outages: list[tuple[float, float]],
    seed: object,
) -> None:
    """Within the bound, and with the database back before the end, the stored transcript is the
    conversation: every turn once, in the order said, with the words its last fill gave it (a NUL, which
    PostgreSQL cannot keep, stored as U+FFFD)."""
    expected: list[tuple[str, str]] = []
    for _, kind, key, text in ops:
        if kind == "append":
            expected.append((roles[key], text))
        else:
            expected[key] = (expected[key][0], text)

    async def outage_schedule(call: Call) -> None:
        for start, length in sorted(outages):
            await trio.sleep_until(start)
            call.gateway.outage_until = max(call.gateway.outage_until, start + length)

    async def body(call: Call) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(outage_schedule, call)
            for pause, kind, key, text in ops:
                await trio.sleep(pause)
                if kind == "append":
                    call.writer.append(key, roles[key], text)
                else:
                    call.writer.fill(key, text)
        await trio.sleep_until(max(call.gateway.outage_until, 0) + 10)  # back, and time to write

    call = run_virtual(pg_store, body, outage_s=down_at_start_s)
    assert call.stored() == [(role, text.replace("\x00", "\ufffd")) for role, text in expected]
    assert call.errors == [] and not call.traced("turn_dropped") and not call.traced("turns_unstored")
