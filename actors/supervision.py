"""Supervision of one actor: child specs, restart budgets, backoff, escalation.

A child runs `spec.factory().run()`; when it crashes the supervisor decides from
its restart kind whether to start a fresh instance, waits an exponential backoff
(virtual time under MockClock), and escalates when the restart budget (at most N
restarts within a sliding window of T seconds) is exhausted. Cancellation of the
call is never a crash: it propagates untouched.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from .trace import Trace


class Actor(Protocol):
    name: str

    async def run(self) -> None: ...


class RestartKind(enum.Enum):
    PERMANENT = "permanent"
    """Always restarted, whether it crashed or returned."""
    TRANSIENT = "transient"
    """Restarted only after a crash; a normal return ends it."""
    TEMPORARY = "temporary"
    """Never restarted: a crash is escalated at once."""


class Escalation(enum.Enum):
    END_CALL = "end_call"
    """The call cannot go on without this actor (audio, realtime)."""
    DEGRADE = "degrade"
    """The call goes on without it; the model is told to promise a callback (nlp, booking)."""


@attrs.frozen
class ChildSpec:
    name: str
    factory: Callable[[], Actor]
    restart: RestartKind = RestartKind.PERMANENT
    max_restarts: int = 3
    within_s: float = 60.0
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 2.0
    on_exhausted: Escalation = Escalation.END_CALL


class RestartBudget:
    """At most `max_restarts` restarts within any sliding window of `within_s` seconds."""

    def __init__(self, max_restarts: int, within_s: float) -> None:
        self.max_restarts = max_restarts
        self.within_s = within_s
        self._restarts: deque[float] = deque()

    def try_spend(self, now: float) -> bool:
        """Record a restart at `now` if the window allows one more; False when exhausted."""
        while self._restarts and now - self._restarts[0] >= self.within_s:
            self._restarts.popleft()
        if len(self._restarts) >= self.max_restarts:
            return False
        self._restarts.append(now)
        return True

    @property
    def recent(self) -> int:
        return len(self._restarts)


def backoff_delay(spec: ChildSpec, recent_restarts: int) -> float:
    """Exponential backoff: the first restart waits `backoff_initial_s`, each recent one doubles it."""
    return float(min(spec.backoff_max_s, spec.backoff_initial_s * 2 ** max(recent_restarts - 1, 0)))


def is_cancellation(exc: BaseException) -> bool:
    """True for trio cancellation (and interpreter exits), also when wrapped in exception groups only of those."""
    if isinstance(exc, BaseExceptionGroup):
        _, rest = exc.split((trio.Cancelled, KeyboardInterrupt, SystemExit))
        return rest is None
    return isinstance(exc, trio.Cancelled | KeyboardInterrupt | SystemExit)


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


EscalationHandler = Callable[[ChildSpec, BaseException | None], None]
RestartHandler = Callable[[ChildSpec, int], None]


def _ignore_restart(_spec: ChildSpec, _attempt: int) -> None:
    pass


async def supervise(
    spec: ChildSpec, trace: Trace, on_escalate: EscalationHandler, on_restart: RestartHandler = _ignore_restart
) -> None:
    """Run one child under its spec until it ends for good or is escalated.

    Returns normally when the child is finished (a transient child returned, or
    an escalation was handed to `on_escalate`); raises only cancellation.
    """
    budget = RestartBudget(spec.max_restarts, spec.within_s)
    attempt = 0
    while True:
        actor = spec.factory()
        trace.record("actor_start", actor=spec.name, attempt=attempt)
        failure: BaseException | None = None
        try:
            await actor.run()
        except BaseException as exc:
            if is_cancellation(exc):
                trace.record("actor_stop", actor=spec.name, why="cancelled")
                raise
            failure = exc
            trace.record("crash", actor=spec.name, error=describe(exc), attempt=attempt)
        else:
            trace.record("actor_stop", actor=spec.name, why="returned")
            if spec.restart is not RestartKind.PERMANENT:
                return
        if spec.restart is RestartKind.TEMPORARY or not budget.try_spend(trio.current_time()):
            trace.record(
                "escalate",
                actor=spec.name,
                action=spec.on_exhausted.value,
                restarts_in_window=budget.recent,
            )
            on_escalate(spec, failure)
            return
        attempt += 1
        delay = backoff_delay(spec, budget.recent)
        trace.record("restart", actor=spec.name, attempt=attempt, backoff_s=delay)
        on_restart(spec, attempt)
        await trio.sleep(delay)
