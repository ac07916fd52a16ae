"""Supervision: restart budgets over a sliding window, backoff in virtual time,
escalation, and cancellation that is never mistaken for a crash."""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.supervision import (
    ChildSpec,
    Escalation,
    RestartBudget,
    RestartKind,
    backoff_delay,
    is_cancellation,
    supervise,
)
from actors.trace import Trace


class Crasher:
    """Crashes at the given call-relative times (seconds after it starts), then stays up."""

    name = "crasher"

    def __init__(self, log: list[float], crash_after: float | None, group: bool = False) -> None:
        self.log = log
        self.crash_after = crash_after
        self.group = group

    async def run(self) -> None:
        self.log.append(trio.current_time())
        if self.crash_after is None:
            await trio.sleep_forever()
        await trio.sleep(self.crash_after)
        if self.group:
            async with trio.open_nursery() as nursery:  # a crash inside an actor's own nursery
                nursery.start_soon(trio.sleep_forever)
                raise ValueError("boom in group")
        raise ValueError("boom")


def test_budget_allows_n_restarts_within_the_window_then_refuses() -> None:
    budget = RestartBudget(max_restarts=3, within_s=10.0)
    assert [budget.try_spend(t) for t in (0.0, 1.0, 2.0)] == [True, True, True]
    assert not budget.try_spend(9.9)
    assert budget.try_spend(10.0), "the restart at t=0 left the window"
    assert not budget.try_spend(10.5)
    assert budget.try_spend(11.0)


@settings(max_examples=200, deadline=None)
@given(
    max_restarts=st.integers(1, 5),
    within=st.floats(0.5, 30.0),
    gaps=st.lists(st.floats(0.0, 20.0), min_size=1, max_size=30),
)
def test_budget_never_exceeds_n_restarts_in_any_window(max_restarts: int, within: float, gaps: list[float]) -> None:
    budget = RestartBudget(max_restarts, within)
    now = 0.0
    accepted: list[float] = []
    for gap in gaps:
        now += gap
        if budget.try_spend(now):
            accepted.append(now)
        else:
            # Refused only when the window really is full.
            assert sum(1 for t in accepted if now - t < within) >= max_restarts
    for t in accepted:
        assert sum(1 for u in accepted if t <= u < t + within) <= max_restarts


def test_backoff_doubles_and_caps() -> None:
    spec = ChildSpec("x", lambda: Crasher([], None), backoff_initial_s=0.1, backoff_max_s=0.5)
    assert [backoff_delay(spec, n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.5, 0.5]


async def test_restarts_follow_backoff_in_virtual_time_then_escalate(autojump_clock: trio.testing.MockClock) -> None:
    trace = Trace("call-sup")
    starts: list[float] = []
    escalated: list[tuple[str, str]] = []
    spec = ChildSpec(
        "crasher",
        lambda: Crasher(starts, crash_after=1.0),
        max_restarts=3,
        within_s=60.0,
        backoff_initial_s=0.5,
        backoff_max_s=10.0,
        on_exhausted=Escalation.DEGRADE,
    )
    t0 = trio.current_time()
    await supervise(spec, trace, lambda s, exc: escalated.append((s.name, repr(exc))))
    # run 1s, back off 0.5; run 1s, back off 1.0; run 1s, back off 2.0; run 1s, give up.
    assert [round(t - t0, 6) for t in starts] == [0.0, 1.5, 3.5, 6.5]
    assert escalated == [("crasher", "ValueError('boom')")]
    kinds = [e["ev"] for e in trace.events if e["ev"] in ("crash", "restart", "escalate")]
    assert kinds == ["crash", "restart"] * 3 + ["crash", "escalate"]
    assert next(e for e in trace.events if e["ev"] == "escalate")["action"] == "degrade"


async def test_crashes_spread_beyond_the_window_are_restarted_forever(autojump_clock: trio.testing.MockClock) -> None:
    trace = Trace("call-window")
    starts: list[float] = []
    spec = ChildSpec("crasher", lambda: Crasher(starts, crash_after=30.0), max_restarts=2, within_s=45.0)
    with trio.move_on_after(400):
        await supervise(spec, trace, lambda s, exc: (_ for _ in ()).throw(AssertionError("escalated")))
    assert len(starts) >= 12
    assert not [e for e in trace.events if e["ev"] == "escalate"]


async def test_crash_inside_an_actor_nursery_is_a_crash(autojump_clock: trio.testing.MockClock) -> None:
    trace = Trace("call-group")
    escalated: list[BaseException | None] = []
    spec = ChildSpec("g", lambda: Crasher([], crash_after=0.1, group=True), restart=RestartKind.TEMPORARY)
    await supervise(spec, trace, lambda s, exc: escalated.append(exc))
    assert len(escalated) == 1 and isinstance(escalated[0], BaseExceptionGroup)
    crash = next(e for e in trace.events if e["ev"] == "crash")
    assert "boom in group" in crash["error"]


async def test_transient_child_returning_normally_is_not_restarted() -> None:
    class Quick:
        name = "quick"
        runs = 0

        async def run(self) -> None:
            Quick.runs += 1

    trace = Trace("call-transient")
    await supervise(ChildSpec("quick", Quick, restart=RestartKind.TRANSIENT), trace, lambda s, e: None)
    assert Quick.runs == 1
    assert [e["ev"] for e in trace.events][-1] == "actor_stop"


async def test_cancelled_call_is_never_a_crash_and_leaves_no_task(autojump_clock: trio.testing.MockClock) -> None:
    trace = Trace("call-cancel")
    tasks_before = trio.lowlevel.current_statistics().tasks_living
    escalations: list[object] = []
    specs = [
        ChildSpec("sleeper", lambda: Crasher([], crash_after=None)),
        ChildSpec("transient", lambda: Crasher([], crash_after=None), restart=RestartKind.TRANSIENT),
    ]
    with trio.move_on_after(5):
        async with trio.open_nursery() as nursery:
            for spec in specs:
                nursery.start_soon(supervise, spec, trace, lambda s, e: escalations.append(e))
    assert escalations == []
    assert not [e for e in trace.events if e["ev"] in ("crash", "restart", "escalate")]
    assert [e["why"] for e in trace.events if e["ev"] == "actor_stop"] == ["cancelled", "cancelled"]
    assert trio.lowlevel.current_statistics().tasks_living == tasks_before


async def a_cancellation() -> trio.Cancelled:
    """A real Cancelled, caught on its way out of a cancelled scope."""
    with trio.CancelScope() as scope:
        scope.cancel()
        try:
            await trio.lowlevel.checkpoint()
        except trio.Cancelled as exc:
            return exc
    raise AssertionError("a cancelled scope let a checkpoint through")


async def test_is_cancellation_sees_through_groups() -> None:
    cancelled = await a_cancellation()
    assert is_cancellation(cancelled)
    assert is_cancellation(BaseExceptionGroup("g", [cancelled, KeyboardInterrupt()]))
    assert not is_cancellation(BaseExceptionGroup("g", [cancelled, ValueError()]))
    assert not is_cancellation(ValueError())
