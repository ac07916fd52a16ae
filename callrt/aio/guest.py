"""One trio run inside the host's asyncio event loop (trio's guest mode), hosting every call's nursery.

`trio.lowlevel.start_guest_run` runs trio on top of asyncio in the same thread: each batch of
runnable trio tasks is one callback on the asyncio loop, and trio waits for its sockets in a
helper thread that hands the result back with `loop.call_soon_threadsafe`. Both sides therefore
take turns on one thread, and neither may call into the other directly:

- asyncio -> trio goes through `TrioToken.run_sync_soon` only. An asyncio callback runs between
  trio's batches, outside any trio task: a trio primitive touched there (a channel send, a cancel)
  would wake tasks behind the run's back.
- trio -> asyncio goes through `loop.call_soon_threadsafe` only (`_to_host`). A trio task runs
  inside one asyncio callback, outside any asyncio task: it cannot await an asyncio object, and
  resolving a future or queue there would run asyncio's bookkeeping in the middle of trio's batch.
  Threadsafe rather than plain `call_soon`: the threads trio starts (`trio.to_thread`, the store's
  work) are the one place trio code is not on the loop's thread.

`TrioGuest.run` is the bridge a coroutine crosses: it spawns an async function in the guest's
nursery and awaits its result from an asyncio task; cancelling that task cancels the trio side
(gracefully, through `on_cancel`, when one is given) and waits for it to finish.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import outcome
import trio

from store.errors import CallrtError

logger = logging.getLogger("callrt.aio")

T = TypeVar("T")

GRACE_S = 5.0
"""How long a cancelled call (or every call, when the host shuts down) gets to end cleanly before it is cut."""


class GuestStopped(CallrtError, RuntimeError):
    """The trio guest run is over (the host's lifespan ended): no more calls can start on it."""


class LoopHolds:
    """How long each batch of trio's work held the asyncio loop, in the thread's CPU time (which other processes
    on the machine cannot inflate, unlike the wall clock): the last `keep` batches."""

    def __init__(self, keep: int = 100_000) -> None:
        self.cpu_ms: collections.deque[float] = collections.deque(maxlen=keep)

    def timed(self, batch: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            started = time.thread_time()
            try:
                batch()
            finally:
                self.cpu_ms.append((time.thread_time() - started) * 1000.0)

        return run

    def summary(self) -> dict[str, float]:
        """Count, median, 99th percentile and longest hold, in ms of CPU."""
        held = sorted(self.cpu_ms)
        if len(held) < 2:
            return {"batches": len(held), "p50_ms": sum(held), "p99_ms": sum(held), "max_ms": sum(held)}
        return {
            "batches": len(held),
            "p50_ms": statistics.median(held),
            "p99_ms": statistics.quantiles(held, n=100)[98],
            "max_ms": held[-1],
        }


class _Job:
    """One `run` request on the trio side: its cancel scope, and how to ask it to stop gracefully."""

    def __init__(self, on_cancel: Callable[[], object] | None, grace_s: float) -> None:
        self.scope = trio.CancelScope()
        self.on_cancel = on_cancel
        self.grace_s = grace_s

    def request_cancel(self) -> None:
        """Runs in trio (through `run_sync_soon`): a graceful stop with a deadline, or a cancel at once."""
        if self.on_cancel is None:
            self.scope.cancel()
            return
        self.on_cancel()
        self.scope.deadline = min(self.scope.deadline, trio.current_time() + self.grace_s)


class TrioGuest:
    """A trio guest run on the asyncio loop that first uses it; `aclose` ends it (from the host's lifespan)."""

    def __init__(self, *, grace_s: float = GRACE_S) -> None:
        self.grace_s = grace_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop = trio.Event()
        self._jobs: set[_Job] = set()
        self._started: asyncio.Future[None] | None = None
        self._done: asyncio.Future[None] | None = None
        self.holds = LoopHolds()

    @property
    def running(self) -> bool:
        return self._done is not None and not self._done.done()

    @property
    def finished(self) -> bool:
        return self._done is not None and self._done.done()

    async def start(self) -> None:
        """Start the guest run on the current loop if it has not started yet (idempotent)."""
        loop = asyncio.get_running_loop()
        if self.finished:
            raise GuestStopped("the trio guest run has ended")
        if self._loop is None:
            self._loop = loop
            self._started = loop.create_future()
            self._done = loop.create_future()
            trio.lowlevel.start_guest_run(
                self._main,
                # Every batch of trio's work is one of these callbacks: timed, it is what a call costs the host.
                run_sync_soon_threadsafe=lambda batch: loop.call_soon_threadsafe(self.holds.timed(batch)),
                run_sync_soon_not_threadsafe=lambda batch: loop.call_soon(self.holds.timed(batch)),
                done_callback=self._finished,
                # The host owns the signal wake-up fd (asyncio's add_signal_handler, uvicorn's handlers).
                host_uses_signal_set_wakeup_fd=True,
            )
        elif self._loop is not loop:
            raise RuntimeError("this trio guest runs on another event loop")
        assert self._started is not None
        await asyncio.shield(self._started)

    async def run(
        self, fn: Callable[..., Awaitable[T]], *args: Any, on_cancel: Callable[[], object] | None = None
    ) -> T:
        """`await fn(*args)` in the guest run, from an asyncio task; its result or exception comes back here.

        If the awaiting task is cancelled, the trio side is asked to stop (`on_cancel()`, called in trio, then
        at most `grace_s` before it is cut; or a cancel at once without `on_cancel`) and this waits for it
        to finish before re-raising the cancellation."""
        await self.start()
        loop = asyncio.get_running_loop()
        result: asyncio.Future[T] = loop.create_future()
        job = _Job(on_cancel, self.grace_s)
        self.call_soon(self._spawn, job, fn, args, result)
        try:
            return await asyncio.shield(result)
        except asyncio.CancelledError:
            if not result.done():
                with contextlib.suppress(GuestStopped):
                    self.call_soon(job.request_cancel)
                with contextlib.suppress(Exception):
                    await asyncio.shield(result)  # a second cancellation stops waiting
            raise

    async def aclose(self) -> None:
        """End the guest run: every running call is asked to stop (`grace_s` to end cleanly), then the run ends."""
        if self._done is None or self._done.done():
            return
        assert self._started is not None
        with contextlib.suppress(GuestStopped):
            await asyncio.shield(self._started)  # the run must be up before it can be asked to stop
            self.call_soon(self._stop.set)
        await asyncio.shield(self._done)

    # -- the trio side -------------------------------------------------------

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            assert self._started is not None
            self._to_host(_settle, self._started, outcome.Value(None))
            await self._stop.wait()
            for job in list(self._jobs):
                job.request_cancel()
            nursery.cancel_scope.deadline = trio.current_time() + self.grace_s
        self._nursery = None

    def _spawn(
        self, job: _Job, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], result: asyncio.Future[T]
    ) -> None:
        if self._nursery is None or self._stop.is_set():
            self._to_host(_settle, result, outcome.Error(GuestStopped("the trio guest run is ending")))
            return
        self._nursery.start_soon(self._run_job, job, fn, args, result)

    async def _run_job(
        self, job: _Job, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], result: asyncio.Future[T]
    ) -> None:
        self._jobs.add(job)
        settled: outcome.Outcome[T] = outcome.Error(GuestStopped("the trio guest run ended before the call did"))
        try:
            with job.scope:
                try:
                    settled = outcome.Value(await fn(*args))
                except Exception as exc:  # the awaiting task's to handle: one failed call never ends the guest
                    settled = outcome.Error(exc)
            if job.scope.cancelled_caught:
                settled = outcome.Error(asyncio.CancelledError())
        finally:
            self._jobs.discard(job)
            self._to_host(_settle, result, settled)

    # -- crossing over -------------------------------------------------------

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Run `fn(*args)` in trio's context at its next batch: the one way into trio from asyncio (a sync
        function; it may use trio's sync API, e.g. send on a channel or start a task in a nursery)."""
        if self._token is None:
            raise GuestStopped("the trio guest run has not started")
        try:
            self._token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            raise GuestStopped("the trio guest run has ended") from None

    def _to_host(self, fn: Callable[..., object], *args: Any) -> None:
        """Run `fn(*args)` on the asyncio loop as its own callback (the one way out from trio)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    def _finished(self, run_outcome: outcome.Outcome[None]) -> None:
        if isinstance(run_outcome, outcome.Error):
            logger.error("the trio guest run failed", exc_info=run_outcome.error)
        if self._started is not None and not self._started.done():
            self._started.set_exception(GuestStopped("the trio guest run ended before it started"))
        if self._done is not None and not self._done.done():
            self._done.set_result(None)


def _settle(future: asyncio.Future[T], result: outcome.Outcome[T]) -> None:
    """On the asyncio side: hand a trio outcome to whoever awaits `future` (unless they stopped waiting)."""
    if future.done():
        return
    if isinstance(result, outcome.Value):
        future.set_result(result.value)
    elif isinstance(result, outcome.Error) and isinstance(result.error, asyncio.CancelledError):
        future.cancel()
    elif isinstance(result, outcome.Error):
        future.set_exception(result.error)


_current: TrioGuest | None = None


def current_guest() -> TrioGuest:
    """The process's guest run: the one running, or a new one (started by its first call)."""
    global _current
    if _current is None or _current.finished:
        _current = TrioGuest()
    return _current


@contextlib.asynccontextmanager
async def lifespan(_app: object = None) -> AsyncIterator[None]:
    """The host's lifespan: nothing to do at start (the guest run starts with the first call); at the end,
    every call still running is hung up and the guest run ends. `FastAPI(lifespan=callrt.aio.lifespan)`."""
    try:
        yield
    finally:
        if _current is not None:
            await _current.aclose()
