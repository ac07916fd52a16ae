"""The bridge from trio actors to the synchronous store: every store call runs in a
worker thread under a shared capacity limiter, so a slow database never blocks
the event loop and never opens more connections than the pool has.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import trio

from store import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

RETRY_DELAYS_S: tuple[float, ...] = (0.5, 1.0, 2.0)
"""Waits between attempts while the database is unavailable: four attempts over 3.5 s, then give up."""
OUTAGE_DELAYS_S: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
"""Waits between attempts of `run_until_available`, the last one repeated for as long as it takes."""


class StoreGateway:
    """Runs synchronous store functions off the event loop.

    `inline=True` runs them on the event loop instead. That is for virtual time
    only (the scenario runner): under `MockClock(autojump_threshold=0)` the clock
    jumps ahead whenever every task waits, including while a worker thread is
    busy, so threaded store calls would make virtual timings depend on the
    machine's speed.

    `outage_until` is a fault-injection hook (scenario `db_down`): while the
    current trio time is before it, every call raises `StoreUnavailable` exactly
    like a real connection failure would.
    """

    def __init__(self, limiter: trio.CapacityLimiter | None = None, *, inline: bool = False) -> None:
        self.limiter = limiter or trio.CapacityLimiter(8)
        self.inline = inline
        self.outage_until = -1.0

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        if trio.current_time() < self.outage_until:
            raise StoreUnavailable("database unreachable (injected outage)")
        if self.inline:
            await trio.lowlevel.checkpoint()
            return fn(*args, **kwargs)
        return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self.limiter)

    async def run_retrying(
        self, on_retry: Callable[[StoreUnavailable, float], None], fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """`run`, retried with backoff (virtual time in scenarios) while the database is unavailable.

        `on_retry(error, delay)` is told about each failed attempt; the last failure propagates.
        """
        for delay in RETRY_DELAYS_S:
            try:
                return await self.run(fn, *args, **kwargs)
            except StoreUnavailable as exc:
                on_retry(exc, delay)
                await trio.sleep(delay)
        return await self.run(fn, *args, **kwargs)

    async def run_until_available(
        self, on_retry: Callable[[StoreUnavailable, float], None], fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """`run`, retried with backoff (`OUTAGE_DELAYS_S`) for as long as the database is unavailable: what must
        be stored whenever it comes back. The caller bounds the wait by cancelling it; any other `StoreError`
        propagates at once."""
        failures = 0
        while True:
            try:
                return await self.run(fn, *args, **kwargs)
            except StoreUnavailable as exc:
                delay = OUTAGE_DELAYS_S[min(failures, len(OUTAGE_DELAYS_S) - 1)]
                failures += 1
                on_retry(exc, delay)
                await trio.sleep(delay)
