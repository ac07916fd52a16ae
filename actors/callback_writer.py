"""CallbackWriter: the call's callback promises written to the store, retried while the database is down.

It runs for the whole call (in the supervisor's nursery): a promise is written as soon as it is made;
while the database refuses, it waits with backoff (`RETRY_DELAYS_S`, the last repeated) and tries again,
the call going on meanwhile. When the call ends, `flush` keeps trying for `FLUSH_TIMEOUT_S`; a promise
still unwritten then is logged as an ERROR with everything in it (phone, request, reason), so an
operator can still honour it, and traced as `callback_lost`.
"""

from __future__ import annotations

import logging

import trio

from store.errors import StoreError

from .call_context import CallContext
from .callback_promises import CallbackPromise

RETRY_DELAYS_S = (0.5, 1.0, 2.0, 5.0)
FLUSH_TIMEOUT_S = 10.0

logger = logging.getLogger("callrt.callbacks")


def promise_callback(
    ctx: CallContext, reason: str, request: str, *, name: str | None = None, phone: str | None = None
) -> None:
    """The caller was (or is about to be) told a person will call back: queue the request (once per call:
    one person calls back once; a later reason is traced, not stored again)."""
    if ctx.callbacks.reasons:
        ctx.trace.record("callback_already_promised", reason=reason)
        return
    promise = CallbackPromise(
        business_id=ctx.business_id,
        call_sid=ctx.call_sid,
        phone=phone or ctx.caller_phone,
        name=name,
        request=request,
        reason=reason,
        at=ctx.now(),
    )
    ctx.trace.record("callback_promised", reason=reason, request=request)
    given_up = ctx.callbacks.promise(promise)
    if given_up is not None:
        _lost(ctx, given_up, "queue full")


class CallbackWriter:
    def __init__(self, ctx: CallContext) -> None:
        self.ctx = ctx
        self._wakeup = trio.Event()
        ctx.callbacks.on_queued = self._wake

    def _wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            await self._write_queued()
            self._wakeup = trio.Event()
            await self._wakeup.wait()

    async def flush(self) -> None:
        """The call is ending: keep trying for a while, shielded; report whatever is still unwritten."""
        with trio.CancelScope(shield=True), trio.move_on_after(FLUSH_TIMEOUT_S):
            await self._write_queued()
        while (promise := self.ctx.callbacks.next()) is not None:
            self.ctx.callbacks.written()
            _lost(self.ctx, promise, f"database unavailable for {FLUSH_TIMEOUT_S:g} s after the call")

    async def _write_queued(self) -> None:
        failures = 0
        while (promise := self.ctx.callbacks.next()) is not None:
            try:
                request_id = await self.ctx.gateway.run(
                    self.ctx.store.record_callback_request,
                    business_id=promise.business_id,
                    call_sid=promise.call_sid,
                    phone=promise.phone,
                    name=promise.name,
                    request=promise.request,
                    reason=promise.reason,
                    at=promise.at,
                )
            except StoreError as exc:
                delay = RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S) - 1)]
                failures += 1
                self.ctx.trace.record("callback_retry", reason=promise.reason, delay_s=delay, error=str(exc))
                await trio.sleep(delay)
                continue
            self.ctx.callbacks.written()
            self.ctx.trace.record("callback_recorded", id=request_id, reason=promise.reason)


def _lost(ctx: CallContext, promise: CallbackPromise, why: str) -> None:
    ctx.trace.record("callback_lost", reason=promise.reason, why=why)
    logger.error(
        "callback request NOT stored (%s): business=%d call=%s phone=%s name=%s reason=%s request=%r",
        why,
        promise.business_id,
        promise.call_sid,
        promise.phone,
        promise.name,
        promise.reason,
        promise.request,
    )
