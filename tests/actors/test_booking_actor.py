"""BookingActor: requests in, store operations through the gateway, server notes out. Real Store on a
temporary SQLite file, a CallContext from the shared factory, virtual time (autojump_clock) for the outage backoff."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.booking_actor import BookingActor
from actors.call_context import CallContext
from actors.db import StoreGateway
from actors.errors import InjectedFault
from actors.messages import BookingKind, BookingRequest, InjectedCrash, ServerNote
from store import Store
from tests.support.context import PHONE, make_context
from tests.support.store import ISRAELI_HOURS, NOW, TOMORROW_18, TZ

CALL_SID = "CAbook"
SATURDAY_18 = dt.datetime(2026, 11, 28, 18, 0, tzinfo=TZ)
FRIDAY_9 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=TZ)


def make_store(path: Path) -> tuple[Store, int]:
    store = Store(f"sqlite:///{path}")
    store.init_schema()
    return store, store.create_business(name="מספרת דנה", opening_hours=ISRAELI_HOURS)


def request(
    start: dt.datetime | None = TOMORROW_18,
    name: str | None = "דנה",
    kind: BookingKind = "create_appointment",
    phone: str | None = None,
    request_id: str = "r1",
    asked_again: bool = False,
) -> BookingRequest:
    return BookingRequest(
        request_id=request_id, kind=kind, start=start, name=name, phone=phone, asked_again=asked_again
    )


async def run_actor(ctx: CallContext, requests: Sequence[BookingRequest | InjectedCrash]) -> list[str]:
    """Feed the requests, close the mailbox, let the actor drain it; the notes it sent, in order."""
    outbox = ctx.mailboxes.booking.outbox("nlp")
    for message in requests:
        outbox.send_nowait(message)
    ctx.mailboxes.booking.close()
    await BookingActor(ctx).run()
    return drain_notes(ctx)


def drain_notes(ctx: CallContext) -> list[str]:
    notes = []
    while True:
        try:
            message = ctx.mailboxes.realtime.receive_nowait()
        except trio.WouldBlock:
            return notes
        assert isinstance(message, ServerNote)
        assert message.text.startswith(message.kind + " " if " " in message.text else message.kind)
        notes.append(message.text)


def log_lines(ctx: CallContext) -> list[str]:
    return [event["msg"] for event in ctx.trace.events if event["ev"] == "log"]


@pytest.fixture
def salon(tmp_path: Path) -> tuple[Store, int]:
    store, business_id = make_store(tmp_path / "booking.db")
    yield store, business_id  # type: ignore[misc]
    store.dispose()


async def test_books_and_announces(salon: tuple[Store, int]) -> None:
    store, business = salon
    ctx = make_context(call_sid=CALL_SID, business_id=business, store=store)
    notes = await run_actor(ctx, [request()])
    [appointment] = store.list_appointments(business)
    assert notes == [f"appointment_created id={appointment.id} start=2026-11-25T18:00+02:00"]
    assert (appointment.name, appointment.phone, appointment.call_sid) == ("דנה", PHONE, CALL_SID)
    logs = log_lines(ctx)
    assert "create_appointment_from_realtime(start=2026-11-25T18:00+02:00, name=דנה, phone=+972*****4567)" in logs
    assert f"appointment_created id={appointment.id} start=2026-11-25T18:00+02:00" in logs
    assert store.ensure_lead(business, PHONE) is not None


async def test_duplicated_requests_book_once_and_announce_once(salon: tuple[Store, int]) -> None:
    store, business = salon
    notes = await run_actor(
        make_context(call_sid=CALL_SID, business_id=business, store=store),
        [request(request_id=f"r{i}") for i in range(5)],
    )
    assert len(store.list_appointments(business)) == 1
    assert len(notes) == 1 and notes[0].startswith("appointment_created")


async def test_without_a_name_a_valid_slot_asks_for_it_and_books_nothing(salon: tuple[Store, int]) -> None:
    store, business = salon
    notes = await run_actor(make_context(call_sid=CALL_SID, business_id=business, store=store), [request(name=None)])
    assert notes == ["need_name start=2026-11-25T18:00+02:00"]
    assert store.list_appointments(business) == []


async def test_refusals_carry_reason_and_alternatives(salon: tuple[Store, int]) -> None:
    store, business = salon
    store.add_appointment(business, TOMORROW_18, 30)
    notes = await run_actor(
        make_context(call_sid=CALL_SID, business_id=business, store=store),
        [
            request(SATURDAY_18),
            request(SATURDAY_18, name=None),
            request(TOMORROW_18),
            request(NOW - dt.timedelta(hours=1)),
        ],
    )
    closed = (
        "outside_hours reason=closed_day requested=2026-11-28T18:00+02:00 "
        "alternatives=2026-11-29T09:00+02:00,2026-11-29T09:30+02:00,2026-11-29T10:00+02:00"
    )
    # The same refusal twice in a row is sent once.
    assert notes == [
        closed,
        "slot_unavailable reason=taken requested=2026-11-25T18:00+02:00 "
        "alternatives=2026-11-25T17:30+02:00,2026-11-25T18:30+02:00,2026-11-25T17:00+02:00",
        "slot_unavailable reason=in_past requested=2026-11-24T09:00+02:00 "
        "alternatives=2026-11-24T11:00+02:00,2026-11-24T11:30+02:00,2026-11-24T12:00+02:00",
    ]
    assert len(store.list_appointments(business)) == 1


async def test_changed_time_moves_then_reschedule_and_cancel(salon: tuple[Store, int]) -> None:
    store, business = salon
    later = TOMORROW_18 + dt.timedelta(minutes=30)
    friday = dt.datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
    notes = await run_actor(
        make_context(call_sid=CALL_SID, business_id=business, store=store),
        [
            request(),
            request(later),
            request(friday, kind="reschedule_appointment", name=None),
            request(None, kind="cancel_appointment", name=None),
            request(None, kind="cancel_appointment", name=None, request_id="again"),
        ],
    )
    [appointment] = store.list_appointments(business, active_only=False)
    assert notes == [
        f"appointment_created id={appointment.id} start=2026-11-25T18:00+02:00",
        f"appointment_rescheduled id={appointment.id} start=2026-11-25T18:30+02:00",
        f"appointment_rescheduled id={appointment.id} start=2026-11-27T09:00+02:00",
        f"appointment_cancelled id={appointment.id}",
    ]
    assert appointment.status == "cancelled"


async def test_a_cancel_asked_again_is_answered_again_and_cancels_nothing_more(salon: tuple[Store, int]) -> None:
    store, business = salon
    first = store.add_appointment(business, TOMORROW_18, 30, name="דנה", phone=PHONE)
    second = store.add_appointment(business, FRIDAY_9, 30, name="דנה", phone=PHONE)
    ctx = make_context(call_sid=CALL_SID, business_id=business, store=store)
    cancel = functools.partial(request, None, kind="cancel_appointment", name=None)
    notes = await run_actor(
        ctx,
        [
            cancel(),
            cancel(request_id="r2", asked_again=True),  # "so is it cancelled?"
            cancel(request_id="r3"),  # the same request again without the caller asking (an NLP restart)
            cancel(request_id="r4", asked_again=True),  # "cancel it please"
        ],
    )
    # Each time the caller asked, the server answered, about the appointment this call cancelled.
    assert notes == [f"appointment_cancelled id={first}"] * 3
    statuses = {a.id: (a.status, a.cancel_call_sid) for a in store.list_appointments(business, active_only=False)}
    assert statuses == {first: ("cancelled", CALL_SID), second: ("booked", None)}
    assert log_lines(ctx).count(f"appointment_cancelled id={first} (duplicate request: already done)") == 3


async def test_a_move_asked_again_is_answered_with_its_new_time_and_moves_nothing_more(
    salon: tuple[Store, int],
) -> None:
    store, business = salon
    first = store.add_appointment(business, TOMORROW_18, 30, name="דנה", phone=PHONE)
    second = store.add_appointment(business, FRIDAY_9, 30, name="דנה", phone=PHONE)
    later = TOMORROW_18 + dt.timedelta(minutes=30)
    move = functools.partial(request, later, kind="reschedule_appointment", name=None)
    notes = await run_actor(
        make_context(call_sid=CALL_SID, business_id=business, store=store),
        [move(), move(request_id="r2", asked_again=True), move(request_id="r3", asked_again=True)],
    )
    assert notes == [f"appointment_rescheduled id={first} start=2026-11-25T18:30+02:00"] * 3
    starts = {a.id: a.start for a in store.list_appointments(business)}
    assert starts == {first: later, second: FRIDAY_9}


async def test_a_move_to_the_time_the_appointment_has_is_answered_as_a_move(salon: tuple[Store, int]) -> None:
    store, business = salon
    appointment = store.add_appointment(business, TOMORROW_18, 30, name="דנה", phone=PHONE)
    notes = await run_actor(
        make_context(call_sid=CALL_SID, business_id=business, store=store),
        [request(TOMORROW_18, kind="reschedule_appointment", name=None)],
    )
    # Nothing was booked: a note saying "created" would have the AI claim a new booking.
    assert notes == [f"appointment_rescheduled id={appointment} start=2026-11-25T18:00+02:00"]


async def test_nothing_to_cancel_or_reschedule_and_bad_requests(salon: tuple[Store, int]) -> None:
    store, business = salon
    notes = await run_actor(
        make_context(call_sid=CALL_SID, business_id=business, store=store),
        [
            request(None, kind="cancel_appointment"),
            request(TOMORROW_18, kind="reschedule_appointment", phone="+972500000000"),
            request(None),
            request(TOMORROW_18.replace(tzinfo=None)),
        ],
    )
    # Every failed request is answered, even with the same words: the caller asked again and is waiting.
    # A move asked for by another number than the caller line's is never looked up: a person calls back.
    assert notes == [
        "booking_failed reason=no_appointment",
        "booking_failed reason=unverified_caller",
        "booking_failed reason=invalid_request",
        "booking_failed reason=invalid_request",
    ]


async def test_outage_is_retried_with_backoff_in_virtual_time(
    salon: tuple[Store, int], autojump_clock: trio.testing.MockClock
) -> None:
    store, business = salon
    gateway = StoreGateway()
    gateway.outage_until = trio.current_time() + 2.0
    ctx = make_context(call_sid=CALL_SID, business_id=business, store=store, gateway=gateway)
    started = trio.current_time()
    notes = await run_actor(ctx, [request()])
    assert notes[0].startswith("appointment_created")
    assert trio.current_time() - started == pytest.approx(3.5)  # 0.5 + 1 + 2: the fourth attempt succeeds
    assert sum("retrying" in line for line in log_lines(ctx)) == 3


async def test_long_outage_gives_booking_failed(
    salon: tuple[Store, int], autojump_clock: trio.testing.MockClock
) -> None:
    store, business = salon
    gateway = StoreGateway()
    gateway.outage_until = trio.current_time() + 60.0
    notes = await run_actor(
        make_context(call_sid=CALL_SID, business_id=business, store=store, gateway=gateway), [request()]
    )
    assert notes == ["booking_failed reason=db_unavailable"]
    assert store.list_appointments(business) == []


async def test_crash_then_restart_never_books_twice(salon: tuple[Store, int]) -> None:
    store, business = salon
    ctx = make_context(call_sid=CALL_SID, business_id=business, store=store)
    outbox = ctx.mailboxes.booking.outbox("nlp")
    outbox.send_nowait(request())
    outbox.send_nowait(InjectedCrash("test"))
    outbox.send_nowait(request(request_id="retry-after-restart"))
    ctx.mailboxes.booking.close()
    with pytest.raises(InjectedFault):
        await BookingActor(ctx).run()
    await BookingActor(ctx).run()  # the supervisor's restart: a new instance, the same mailbox
    notes = drain_notes(ctx)
    [appointment] = store.list_appointments(business)
    # The new instance does not know what the old one said: it announces the (same) appointment again.
    assert notes == [f"appointment_created id={appointment.id} start=2026-11-25T18:00+02:00"] * 2


async def test_two_calls_racing_for_one_slot(salon: tuple[Store, int]) -> None:
    store, business = salon
    contexts = [make_context(call_sid=f"CA{i}", business_id=business, store=store) for i in range(6)]
    results: dict[str, list[str]] = {}

    async def one(ctx: CallContext) -> None:
        results[ctx.call_sid] = await run_actor(ctx, [request(phone=f"+97250000000{ctx.call_sid[-1]}")])

    async with trio.open_nursery() as nursery:
        for ctx in contexts:
            nursery.start_soon(one, ctx)
    kinds = sorted(notes[0].split()[0] for notes in results.values())
    assert kinds == ["appointment_created"] + ["slot_unavailable"] * 5
    assert len(store.list_appointments(business)) == 1


@settings(max_examples=15, deadline=None)
@given(
    plan=st.lists(st.sampled_from(["same", "dup", "other", "noname", "cancel", "crash"]), min_size=1, max_size=8),
    _seed=st.random_module(),
)
async def test_any_request_sequence_leaves_at_most_one_appointment_per_call(
    tmp_path_factory: pytest.TempPathFactory, plan: list[str], _seed: object
) -> None:
    store, business = make_store(tmp_path_factory.mktemp("prop") / "p.db")
    try:
        ctx = make_context(call_sid=CALL_SID, business_id=business, store=store)
        starts = {"same": TOMORROW_18, "dup": TOMORROW_18, "other": TOMORROW_18 + dt.timedelta(hours=1)}
        outbox = ctx.mailboxes.booking.outbox("nlp")
        for i, step in enumerate(plan):
            if step == "crash":
                outbox.send_nowait(InjectedCrash())
            elif step == "cancel":
                outbox.send_nowait(request(None, kind="cancel_appointment", request_id=str(i)))
            else:
                outbox.send_nowait(
                    request(starts.get(step, TOMORROW_18), name=None if step == "noname" else "x", request_id=str(i))
                )
        ctx.mailboxes.booking.close()
        while True:
            try:
                await BookingActor(ctx).run()
                break
            except InjectedFault:
                continue  # restart, as the supervisor would
        notes = drain_notes(ctx)
        active = store.list_appointments(business, call_sid=CALL_SID)
        assert len(active) <= 1
        created = [n for n in notes if n.startswith(("appointment_created", "appointment_rescheduled"))]
        if active:
            # The last booking note names the appointment the store really holds.
            assert created and created[-1].endswith(f"start={active[0].start.isoformat(timespec='minutes')}")
            assert f"id={active[0].id}" in created[-1]
    finally:
        store.dispose()
