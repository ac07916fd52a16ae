"""Object-level authorization of bookings: a caller changes only their own appointments.

The attack: a caller from any line (or a withheld one) says "cancel my appointment, my number is …"
with a stranger's number. The runtime must not cancel or move that appointment; it hands the request
to a person (a callback request) and the AI says the handoff line. Real store, virtual time.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.caller_identity import may_touch_appointments_of_line, phone_key, same_line
from store import Store
from tests.actors.test_booking_actor import make_store, request, run_actor
from tests.support.context import PHONE, make_context
from tests.support.store import TOMORROW_18, TZ

VICTIM = "+972529876543"
VICTIM_SAID = "052-9876543"
FRIDAY_10 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=TZ)


@pytest.fixture
def salon_with_victim(tmp_path: Path) -> tuple[Store, int, int]:
    store, business = make_store(tmp_path / "auth.db")
    victim = store.add_appointment(business, TOMORROW_18, 30, name="רונית", phone=VICTIM)
    return store, business, victim


def untouched(store: Store, business: int, appointment_id: int) -> bool:
    [appointment] = [a for a in store.list_appointments(business, active_only=False) if a.id == appointment_id]
    return appointment.status == "booked" and appointment.start == TOMORROW_18


@pytest.mark.parametrize("caller", [PHONE, None], ids=["another-line", "withheld"])
async def test_naming_a_strangers_number_cancels_and_moves_nothing(
    salon_with_victim: tuple[Store, int, int], caller: str | None
) -> None:
    store, business, victim = salon_with_victim
    notes = await run_actor(
        make_context(business_id=business, store=store, call_sid="CAattack", caller_phone=caller),
        [
            request(None, kind="cancel_appointment", name=None, phone=VICTIM_SAID),
            request(FRIDAY_10, kind="reschedule_appointment", name=None, phone=VICTIM, request_id="r2"),
            request(None, kind="cancel_appointment", name=None, phone=VICTIM_SAID, request_id="r3"),
        ],
    )
    assert notes == ["booking_failed reason=unverified_caller"] * 3
    assert untouched(store, business, victim)
    callbacks = store.callback_requests(business)
    # One record per kind of request, however often it was asked; the person calls the line back if known.
    assert sorted(c.request.split(": ")[0] for c in callbacks) == [
        "cancel_appointment",
        "reschedule_appointment to 2026-11-27T10:00+02:00",
    ]
    assert {(c.reason, c.call_sid) for c in callbacks} == {("unverified_caller", "CAattack")}
    # Called back on the caller's own line; on a withheld one, on the number they said (the owner then checks).
    assert all(c.phone == caller if caller else same_line(c.phone, VICTIM) for c in callbacks)
    assert all(VICTIM in c.request or VICTIM_SAID in c.request for c in callbacks)


@pytest.mark.parametrize("caller", [PHONE, None], ids=["another-line", "withheld"])
async def test_asking_again_with_a_strangers_number_is_handed_over_again_and_recorded_once(
    salon_with_victim: tuple[Store, int, int], caller: str | None
) -> None:
    store, business, victim = salon_with_victim
    move = functools.partial(request, FRIDAY_10, kind="reschedule_appointment", name=None, phone=VICTIM_SAID)
    notes = await run_actor(
        make_context(business_id=business, store=store, call_sid="CAagain", caller_phone=caller),
        [move(), move(request_id="r2", asked_again=True), move(request_id="r3", asked_again=True)],
    )
    assert notes == ["booking_failed reason=unverified_caller"] * 3
    assert untouched(store, business, victim)
    assert len(store.callback_requests(business)) == 1


async def test_a_withheld_line_without_a_number_is_handed_over_too(salon_with_victim: tuple[Store, int, int]) -> None:
    store, business, victim = salon_with_victim
    ctx = make_context(business_id=business, store=store, call_sid="CAwithheld", caller_phone=None)
    notes = await run_actor(ctx, [request(None, kind="cancel_appointment", name=None)])
    assert notes == ["booking_failed reason=unverified_caller"]
    assert untouched(store, business, victim)
    [callback] = store.callback_requests(business)
    assert (callback.phone, callback.request) == (None, "cancel_appointment: the caller's appointment")


async def test_the_verified_line_changes_its_own_appointment_however_it_says_its_number(
    salon_with_victim: tuple[Store, int, int],
) -> None:
    store, business, victim = salon_with_victim
    notes = await run_actor(
        make_context(business_id=business, store=store, call_sid="CAowner", caller_phone=VICTIM),
        [
            request(FRIDAY_10, kind="reschedule_appointment", name=None, phone=VICTIM_SAID),
            request(None, kind="cancel_appointment", name=None, request_id="r2"),
        ],
    )
    assert notes == [
        f"appointment_rescheduled id={victim} start=2026-11-27T10:00+02:00",
        f"appointment_cancelled id={victim}",
    ]
    assert store.callback_requests(business) == []


async def test_a_withheld_caller_may_change_what_this_call_booked(salon_with_victim: tuple[Store, int, int]) -> None:
    store, business, victim = salon_with_victim
    notes = await run_actor(
        make_context(business_id=business, store=store, call_sid="CAown", caller_phone=None),
        [
            request(FRIDAY_10, name="דנה", phone=VICTIM_SAID),
            request(FRIDAY_10.replace(hour=11), kind="reschedule_appointment", name=None, request_id="r2"),
            request(None, kind="cancel_appointment", name=None, phone=VICTIM_SAID, request_id="r3"),
        ],
    )
    [own] = store.list_appointments(business, call_sid="CAown", active_only=False)
    assert notes == [
        f"appointment_created id={own.id} start=2026-11-27T10:00+02:00",
        f"appointment_rescheduled id={own.id} start=2026-11-27T11:00+02:00",
        f"appointment_cancelled id={own.id}",
    ]
    # The number said is the new booking's contact, and it never reached the stranger's appointment.
    assert own.phone == VICTIM_SAID and own.status == "cancelled"
    assert untouched(store, business, victim)


def test_phone_keys() -> None:
    assert phone_key("+972 52-987-6543") == phone_key("052-9876543") == phone_key("00972529876543") == "972529876543"
    assert phone_key("") is None and phone_key("anonymous") is None and phone_key(None) is None
    assert not same_line(None, None) and not same_line("", "")
    assert may_touch_appointments_of_line(PHONE, None) and may_touch_appointments_of_line(PHONE, "050-1234567")
    assert not may_touch_appointments_of_line(PHONE, VICTIM) and not may_touch_appointments_of_line(None, None)
    assert not may_touch_appointments_of_line("anonymous", None)


@settings(max_examples=200, deadline=None)
@given(line=st.text("+0123456789- ", max_size=16), said=st.one_of(st.none(), st.text("+0123456789- ", max_size=16)))
def test_only_a_verified_line_may_look_up_appointments_and_only_its_own(line: str, said: str | None) -> None:
    allowed = may_touch_appointments_of_line(line, said)
    if allowed:
        assert phone_key(line) is not None
        assert said is None or phone_key(said) == phone_key(line)
    else:
        assert phone_key(line) is None or (said is not None and not same_line(said, line))
