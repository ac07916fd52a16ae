"""run_call: the end of a call from every side, escalations, and the call session in the store."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from actors import CallContext, ChildSpec, Escalation, LineClosed, RestartKind, StoreGateway, Trace, run_call
from actors.messages import CallerFrame, EndCall, MarkPlayed
from actors.ports import CallerLineEvent
from store import DEMO_BUSINESS, Store


class ScriptedLine:
    """A caller line that delivers a few frames, then hangs up after `hang_up_after_s` (or never)."""

    def __init__(self, hang_up_after_s: float | None) -> None:
        self.hang_up_after_s = hang_up_after_s
        self.hung_up_by_us = False
        self._sent = 0

    async def receive(self) -> CallerLineEvent:
        if self._sent < 3:
            self._sent += 1
            return CallerFrame(payload=bytes(160), timestamp_ms=20 * self._sent)
        if self._sent == 3:
            self._sent += 1
            return MarkPlayed(name="m1")
        if self.hang_up_after_s is None or self.hung_up_by_us:
            await trio.sleep_forever()
        await trio.sleep(self.hang_up_after_s)
        raise LineClosed("stop")

    async def send_audio(self, payload: bytes, mark: str | None = None) -> None: ...

    async def clear(self) -> None: ...

    async def hang_up(self) -> None:
        self.hung_up_by_us = True


class Idle:
    """An actor that drains its mailbox until the call ends."""

    name = "idle"

    def __init__(self, ctx: CallContext) -> None:
        self.ctx = ctx

    async def run(self) -> None:
        async for _ in self.ctx.mailboxes.nlp:
            pass


class Failing:
    name = "failing"

    async def run(self) -> None:
        await trio.sleep(1)
        raise RuntimeError("boom")


class HangsUpAfter:
    """Plays the AudioActor's part at the end of a goodbye: tells the supervisor the AI hung up."""

    name = "audio"

    def __init__(self, ctx: CallContext, after_s: float) -> None:
        self.ctx = ctx
        self.after_s = after_s

    async def run(self) -> None:
        await trio.sleep(self.after_s)
        self.ctx.mailboxes.supervisor.outbox("audio").send_nowait(EndCall(by="ai", reason="silence"))
        await trio.sleep_forever()


@pytest.fixture
def salon(tmp_path: Path) -> tuple[Store, int]:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")
    store.init_schema()
    return store, store.create_business(**DEMO_BUSINESS)


async def test_the_caller_hanging_up_ends_the_call_and_its_session(
    salon: tuple[Store, int], autojump_clock: trio.testing.MockClock
) -> None:
    store, business = salon
    trace = Trace("CA1")
    outcome = await run_call(
        call_sid="CA1",
        business_id=business,
        line=ScriptedLine(hang_up_after_s=30),
        model=None,  # type: ignore[arg-type]  # the default actors are replaced below
        store=store,
        trace=trace,
        child_specs=lambda ctx: [ChildSpec("nlp", lambda: Idle(ctx))],
    )
    assert (outcome.ended_by, outcome.reason) == ("caller", "stop")
    assert outcome.duration_ms == 30_000
    assert trace.closed and trace.events[-1]["ev"] == "trace_end"
    assert [e["type"] for e in trace.events if e["ev"] == "send" and e["mailbox"] == "audio.control"] == ["MarkPlayed"]
    audio = [e for e in trace.events if e["ev"] == "audio"]
    assert sum(e["sent"] for e in audio) == 3
    store.record_turn("CA1", "user", "only a call with a session can store turns")


async def test_the_ai_hanging_up_hangs_up_the_line(salon: tuple[Store, int], autojump_clock: object) -> None:
    store, business = salon
    line = ScriptedLine(hang_up_after_s=None)
    outcome = await run_call(
        call_sid="CA2",
        business_id=business,
        line=line,
        model=None,  # type: ignore[arg-type]
        store=store,
        child_specs=lambda ctx: [ChildSpec("audio", lambda: HangsUpAfter(ctx, 12.0))],
    )
    assert (outcome.ended_by, outcome.reason, outcome.duration_ms) == ("ai", "silence", 12_000)
    assert line.hung_up_by_us


async def test_escalations_end_the_call_or_degrade_it(salon: tuple[Store, int], autojump_clock: object) -> None:
    store, business = salon
    line = ScriptedLine(hang_up_after_s=None)
    trace = Trace("CA3")
    outcome = await run_call(
        call_sid="CA3",
        business_id=business,
        line=line,
        model=None,  # type: ignore[arg-type]
        store=store,
        trace=trace,
        child_specs=lambda ctx: [
            ChildSpec("booking", Failing, max_restarts=1, on_exhausted=Escalation.DEGRADE),
            ChildSpec("audio", Failing, restart=RestartKind.TEMPORARY, backoff_initial_s=0.0),
        ],
    )
    assert (outcome.ended_by, outcome.reason) == ("supervisor", "audio_failed")
    assert line.hung_up_by_us
    # The booking actor had a restart left when the audio actor's failure ended the call: nothing degraded.
    assert outcome.degraded == ()
    assert [e["actor"] for e in trace.events if e["ev"] == "escalate"] == ["audio"]


async def test_degraded_booking_makes_the_ai_promise_a_callback(
    salon: tuple[Store, int], autojump_clock: object
) -> None:
    store, business = salon
    trace = Trace("CA4")
    outcome = await run_call(
        call_sid="CA4",
        business_id=business,
        line=ScriptedLine(hang_up_after_s=20),
        model=None,  # type: ignore[arg-type]
        store=store,
        trace=trace,
        child_specs=lambda ctx: [ChildSpec("booking", Failing, max_restarts=2, on_exhausted=Escalation.DEGRADE)],
    )
    assert outcome.degraded == ("booking",)
    assert [name for name, _ in outcome.restarts] == ["booking", "booking"]
    sent = [e for e in trace.events if e["ev"] == "send" and e["mailbox"] == "realtime"]
    assert [(e["type"], e["fields"]["kind"]) for e in sent] == [("ServerNote", "booking_unavailable")]


async def call_through_an_outage(
    salon: tuple[Store, int], call_sid: str, *, down_s: float, hang_up_after_s: float
) -> Trace:
    """A call whose store is down for its first `down_s` seconds, until the caller hangs up; its trace."""
    store, business = salon
    gateway = StoreGateway(inline=True)
    gateway.outage_until = trio.current_time() + down_s
    trace = Trace(call_sid)
    await run_call(
        call_sid=call_sid,
        business_id=business,
        line=ScriptedLine(hang_up_after_s=hang_up_after_s),
        model=None,  # type: ignore[arg-type]  # the default actors are replaced below
        store=store,
        trace=trace,
        gateway=gateway,
        child_specs=lambda ctx: [ChildSpec("nlp", lambda: Idle(ctx))],
    )
    return trace


async def test_a_database_down_at_call_start_opens_the_session_when_it_is_back(
    salon: tuple[Store, int], autojump_clock: object
) -> None:
    store, _ = salon
    trace = await call_through_an_outage(salon, "CA5", down_s=2.0, hang_up_after_s=10)
    logs = [e["msg"] for e in trace.events if e["ev"] == "log"]
    assert logs[0].startswith("start_call_session failed")
    assert any("retrying" in line for line in logs)
    store.record_turn("CA5", "user", "the session exists now")
    assert store.load_call_state("CA5").turns == [("user", "the session exists now")]


@pytest.mark.parametrize(("down_s", "row_expected"), [(20.0, True), (31.0, True), (60.0, False)])
async def test_the_session_row_is_retried_for_the_whole_call_and_ended_only_once_it_exists(
    salon: tuple[Store, int], autojump_clock: object, down_s: float, row_expected: bool
) -> None:
    """The caller hangs up at 30 s. Down for 20 s: the row is created during the call; for 31 s: by the
    call's last attempt; for 60 s: never, and the end is not written to a row that does not exist."""
    store, business = salon
    call_sid = f"CAdown{int(down_s)}"
    trace = await call_through_an_outage(salon, call_sid, down_s=down_s, hang_up_after_s=30)
    logs = [e["msg"] for e in trace.events if e["ev"] == "log"]
    assert not any(line.startswith("end_call_session failed") for line in logs), "never ended before it existed"
    calls, _ = store.list_calls(business)
    mine = [c for c in calls if c.call_sid == call_sid]
    if row_expected:
        assert [c.outcome for c in mine] == ["caller:stop"]
        assert sum(e["ev"] == "session_opened" for e in trace.events) == 1
    else:
        assert mine == []
        assert any("its record is lost" in line for line in logs)
