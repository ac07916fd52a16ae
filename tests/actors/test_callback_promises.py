"""The callback promises' queue, without trio: one per reason, bounded, nothing lost silently."""

from __future__ import annotations

import datetime as dt

from actors.callback_promises import REQUEST_MAX_CHARS, CallbackOutbox, CallbackPromise

AT = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def promise(reason: str, request: str = "a haircut tomorrow") -> CallbackPromise:
    return CallbackPromise(1, "CA1", "+972501234567", None, request, reason, AT)


def test_promises_wait_in_order_until_written() -> None:
    outbox = CallbackOutbox()
    woken: list[int] = []
    outbox.on_queued = lambda: woken.append(len(outbox))
    assert outbox.promise(promise("booking_failed")) is None
    assert outbox.promise(promise("model_frozen", "x" * (REQUEST_MAX_CHARS + 50))) is None
    assert woken == [1, 2]
    first = outbox.next()
    assert first is not None and first.reason == "booking_failed"
    assert outbox.next() is first, "a promise stays queued until written"
    outbox.written()
    second = outbox.next()
    assert second is not None and len(second.request) == REQUEST_MAX_CHARS
    assert outbox.reasons == {"booking_failed", "model_frozen"}


def test_past_its_capacity_the_oldest_is_handed_back() -> None:
    outbox = CallbackOutbox(capacity=2)
    assert outbox.promise(promise("a")) is None
    assert outbox.promise(promise("b")) is None
    given_up = outbox.promise(promise("c"))
    assert given_up is not None and given_up.reason == "a"
    assert len(outbox) == 2
