"""What the console and `callrt business` do to the store, on SQLite and PostgreSQL: settings changed
all or nothing, numbers that route calls, console users, the shared secret, the calls page's query,
and cancelling or moving an appointment by id through the claims that forbid double booking."""

from __future__ import annotations

import datetime as dt

import pytest

from store import InvalidSettings, Store, StoreError
from tests.support.store import NOW, TOMORROW_18, TZ, db_url, pg_url, salon, store

__all__ = ["db_url", "pg_url", "store"]  # fixtures used by this module


def test_update_business_changes_settings_and_availability(store: Store) -> None:
    business_id = salon(store)
    store.update_business(
        business_id,
        special_days={"2026-11-25": []},
        slot_size_min=45,
        language="en",
        greeting_name="Dana's",
        phones=["+97231234567"],
    )
    settings = store.get_business(business_id)
    assert settings.special_days == {"2026-11-25": []}
    assert (settings.slot_size_min, settings.language, settings.spoken_name) == (45, "en", "Dana's")
    assert store.check_slot(business_id, TOMORROW_18, NOW).reason == "closed_day"
    assert store.business_for_number("+97231234567") == business_id
    assert store.stored_settings(business_id)["phones"] == ["+97231234567"]
    assert store.settings_problem(business_id) is None


def test_a_bad_field_saves_nothing_and_names_every_bad_field(store: Store) -> None:
    business_id = salon(store)
    with pytest.raises(InvalidSettings) as refused:
        store.update_business(
            business_id,
            name="New name",
            opening_hours={"sun": [["19:00", "09:00"]]},
            capacity=0,
            special_days={"2026-13-01": []},
            language="fr",
        )
    assert set(refused.value.errors) == {"opening_hours", "capacity", "special_days", "language"}
    assert "closes before it opens" in refused.value.errors["opening_hours"]
    assert store.get_business(business_id).name == "מספרת דנה"
    with pytest.raises(InvalidSettings, match="at least one open range"):
        store.update_business(business_id, opening_hours={})
    with pytest.raises(InvalidSettings, match="not a business setting"):
        store.update_business(business_id, colour="blue")


def test_a_number_reaches_one_business_only(store: Store) -> None:
    first, second = salon(store, phones=["+97231111111"]), salon(store, name="Other")
    with pytest.raises(InvalidSettings, match="already reaches another business"):
        store.update_business(second, phones=["+97231111111"])
    with pytest.raises(InvalidSettings, match=r"E\.164"):
        store.update_business(second, phones=["03-1111111"])
    assert store.business_for_number("+97231111111") == first
    assert store.business_for_number("+97239999999") is None
    listed = {b.id: b.phones for b in store.list_businesses()}
    assert (listed[first], listed[second]) == (("+97231111111",), ())


def test_users_and_the_shared_secret(store: Store) -> None:
    business_id = salon(store)
    user_id = store.create_console_user("dana", "hash-1", business_id)
    user = store.console_user("dana")
    assert user is not None and (user.id, user.business_id, user.password_hash) == (user_id, business_id, "hash-1")
    with pytest.raises(StoreError, match="already exists"):
        store.create_console_user("dana", "hash-2")
    with pytest.raises(ValueError, match="user name"):
        store.create_console_user("bad name", "hash-2")
    store.set_console_password_hash(user_id, "hash-3")
    assert store.console_user("dana").password_hash == "hash-3"  # type: ignore[union-attr]
    assert store.console_user("nobody") is None
    secret = store.shared_secret("console_session")
    assert len(secret) >= 40 and store.shared_secret("console_session") == secret


def test_calls_are_listed_newest_first_with_their_conversation(store: Store) -> None:
    business_id, other = salon(store), salon(store, name="Other")
    for index in range(3):
        store.start_call_session(f"CA{index}", business_id, "+972501234567")
        store.record_turn(f"CA{index}", "user", f"hello {index}")
        store.record_turn(f"CA{index}", "assistant", "hi")
    store.end_call_session("CA0", "caller_hangup")
    store.start_call_session("CAother", other, None)
    page, total = store.list_calls(business_id, offset=0, limit=2)
    assert total == 3 and len(page) == 2
    assert page[0].turns == (("user", f"hello {page[0].call_sid[-1]}"), ("assistant", "hi"))
    rest, _ = store.list_calls(business_id, offset=2, limit=2)
    assert {call.call_sid for call in page + rest} == {"CA0", "CA1", "CA2"}
    assert store.business_of_call("CAother") == other and store.business_of_call("CAnone") is None


def test_cancel_and_move_by_id_go_through_the_claims(store: Store) -> None:
    business_id, other = salon(store), salon(store, name="Other")
    first = store.create_appointment_from_realtime(
        business_id=business_id, call_sid="CA1", start=TOMORROW_18, name="Dana", phone="+972501", now=NOW
    )
    second = store.create_appointment_from_realtime(
        business_id=business_id,
        call_sid="CA2",
        start=TOMORROW_18 + dt.timedelta(minutes=30),
        name="Noa",
        phone="+972502",
        now=NOW,
    )
    assert first.appointment_id and second.appointment_id
    refused = store.move_appointment(
        business_id=business_id, appointment_id=second.appointment_id, new_start=TOMORROW_18, now=NOW
    )
    assert (refused.created, refused.reason) == (False, "taken")
    assert store.cancel_appointment_by_id(business_id=other, appointment_id=first.appointment_id).reason == (
        "no_appointment"
    )
    assert store.cancel_appointment_by_id(business_id=business_id, appointment_id=first.appointment_id).created
    moved = store.move_appointment(
        business_id=business_id, appointment_id=second.appointment_id, new_start=TOMORROW_18, now=NOW
    )
    assert moved.moved and moved.start == TOMORROW_18.astimezone(TZ)
    assert store.check_slot(business_id, TOMORROW_18 + dt.timedelta(minutes=30), NOW).ok


def test_appointments_by_period_and_search(store: Store) -> None:
    business_id = salon(store)
    day = dt.datetime(2026, 11, 20, 10, tzinfo=TZ)
    store.add_appointment(business_id, day, 30, "Dana Levi", "+972501111111")
    store.add_appointment(business_id, day + dt.timedelta(days=10), 30, "Noa", "+972502222222")
    past = store.list_appointments(business_id, until=NOW, search="levi")
    assert [a.name for a in past] == ["Dana Levi"]
    assert [a.name for a in store.list_appointments(business_id, search="2222")] == ["Noa"]
    assert [a.name for a in store.list_appointments(business_id, since=NOW)] == ["Noa"]
    assert store.list_appointments(business_id, search="%") == []
