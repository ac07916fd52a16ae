"""callrt.aio's calls in an asyncio host: a whole call awaited from an asyncio task, ended by cancelling
that task or by the end of the host's lifespan, always as every call ends (session ended, trace closed).

The caller is the simulated one over an in-memory pipe, the model the in-process simulated peer, the store
SQLite: the real runtime, on the real clock (asyncio's side has no virtual time)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

import callrt.aio
from actors import CallOutcome, Trace, read_trace
from callrt.net.transport import memory_transport_pair
from callrt.sim.caller import CallerReport, SimulatedCaller
from callrt.sim.peer_script import SimScript
from callrt.sim.realtime_peer import InMemoryModelConnector
from callrt.telephony.media import TwilioCallerLine
from store import Store, ensure_demo_business

SILENT_CALLER = [{"silence_ms": 600_000}]


class SignallingTrace(Trace):
    """Sets an asyncio event when the call records `ev` (from trio: through the loop's threadsafe door)."""

    def __init__(self, call_sid: str, path: Path, ev: str, reached: asyncio.Event) -> None:
        self._signal_on, self._reached = ev, reached
        self._loop = asyncio.get_running_loop()
        super().__init__(call_sid, path)

    def record(self, ev: str, **fields: Any) -> None:
        super().record(ev, **fields)
        if self._signal_on in (ev, fields.get("what")):
            self._loop.call_soon_threadsafe(self._reached.set)


@attrs.define
class HostedCall:
    task: asyncio.Task[CallOutcome]
    caller: asyncio.Task[CallerReport]
    reached: asyncio.Event
    trace_path: Path


@asynccontextmanager
async def store_at(tmp_path: Path) -> AsyncIterator[tuple[Store, int]]:
    store = Store(f"sqlite:///{tmp_path / 'aio.db'}")
    store.init_schema()
    try:
        yield store, ensure_demo_business(store)
    finally:
        store.dispose()


async def start_call(store: Store, business_id: int, tmp_path: Path, signal_on: str) -> HostedCall:
    guest = callrt.aio.current_guest()
    await guest.start()
    server_end, caller_end = memory_transport_pair()
    line = TwilioCallerLine(server_end)
    caller = SimulatedCaller(caller_end, SILENT_CALLER, call_sid="CAaio")
    caller_task = asyncio.create_task(guest.run(caller.run))
    start = await guest.run(line.read_start)
    reached = asyncio.Event()
    path = tmp_path / "CAaio.jsonl"
    call = callrt.aio.run_call(
        call_sid=start.call_sid,
        business_id=business_id,
        line=line,
        model=InMemoryModelConnector(SimScript(), "ga"),
        store=store,
        trace=SignallingTrace(start.call_sid, path, signal_on, reached),
    )
    return HostedCall(asyncio.create_task(call), caller_task, reached, path)


def session_row(store: Store) -> tuple[Any, ...]:
    with store.engine.connect() as conn:
        return tuple(conn.execute(sa.text("SELECT ended_at, outcome FROM call_sessions")).one())


def assert_ended_cleanly(store: Store, call: HostedCall) -> None:
    events = read_trace(call.trace_path)
    end = next(e for e in events if e.ev == "call_end")
    assert (end.get("by"), end.get("reason")) == ("supervisor", "cancelled")
    asked = [e for e in events if e.ev == "send" and e.get("frm") == "host" and e.get("type") == "EndCall"]
    assert len(asked) == 1, "ended through the supervisor, not cut by a cancel scope"
    assert events[-1].ev == "trace_end", "the trace is flushed and closed"
    assert not any(e.ev in ("actor_crash", "io_error") for e in events)
    ended_at, outcome = session_row(store)
    assert ended_at is not None and outcome == "supervisor:cancelled"


@pytest.mark.parametrize("signal_on", ["call_start", "model_connected"])
def test_cancelling_the_asyncio_task_ends_the_call_cleanly(tmp_path: Path, signal_on: str) -> None:
    """Cancelled while the call opens its session, or mid-call: either way the supervisor ends it, the line is
    hung up (the caller hears the server close), and the task's cancellation is re-raised after all that."""

    async def host() -> None:
        async with store_at(tmp_path) as (store, business_id), callrt.aio.lifespan():
            call = await start_call(store, business_id, tmp_path, signal_on)
            await call.reached.wait()
            call.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call.task
            assert_ended_cleanly(store, call)
            assert (await call.caller).ended_by == "server"

    asyncio.run(host())


def test_the_guest_run_ends_with_the_hosts_lifespan(tmp_path: Path) -> None:
    """Leaving the lifespan hangs up every running call (its outcome is returned, not lost) and ends the guest
    run; the next call after that starts a new one."""

    async def host() -> None:
        async with store_at(tmp_path) as (store, business_id):
            async with callrt.aio.lifespan():
                guest = callrt.aio.current_guest()
                call = await start_call(store, business_id, tmp_path, "model_connected")
                await call.reached.wait()
                assert guest.running
            assert guest.finished and not guest.running
            outcome = await call.task
            assert (outcome.ended_by, outcome.reason) == ("supervisor", "cancelled")
            assert_ended_cleanly(store, call)
            assert callrt.aio.current_guest() is not guest
            async with callrt.aio.lifespan():
                assert await callrt.aio.current_guest().run(asyncio_free_answer) == 42
        with pytest.raises(callrt.aio.GuestStopped):
            await guest.run(asyncio_free_answer)

    asyncio.run(host())


async def asyncio_free_answer() -> int:
    import trio

    await trio.lowlevel.checkpoint()
    return 42
