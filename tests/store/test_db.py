"""The store on SQLite and PostgreSQL: schema migrations, businesses, bookings (idempotent per
call, moved, rescheduled, cancelled), leads, call sessions, and typed errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from store import InvalidDatabaseUrl, InvalidHours, SchemaNotInitialised, Store, StoreError, StoreUnavailable
from store.store import MIGRATIONS
from tests.support.store import (
    ISRAELI_HOURS,
    NOW,
    TOMORROW_18,
    TZ,
    assert_claims_consistent,
    db_url,
    pg_url,
    run_concurrently,
    salon,
    store,
)

__all__ = ["db_url", "pg_url", "store"]  # fixtures used by this module

PHONE = "+972501234567"


def migrations_head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def book(
    store: Store, business: int, call_sid: str, start: dt.datetime, name: str | None = "דנה", phone: str | None = PHONE
):
    return store.create_appointment_from_realtime(
        business_id=business, call_sid=call_sid, start=start, name=name, phone=phone, now=NOW
    )


def test_init_schema_is_repeatable_and_at_head(store: Store) -> None:
    store.init_schema()
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM callrt_alembic_version")).scalar_one() == migrations_head()
        tables = set(sa.inspect(conn).get_table_names())
    assert {
        "businesses",
        "appointment_settings",
        "leads",
        "appointments",
        "appointment_claims",
        "call_sessions",
        "call_turns",
        "callback_requests",
    } <= tables


def test_business_round_trip_with_fallback(store: Store) -> None:
    business = store.create_business(name="x", working_hours="10:00-18:00", slot_size_min=20, capacity=2)
    settings = store.get_business(business)
    assert settings.opening_hours["sat"] == [] and settings.opening_hours["sun"] == [("10:00", "18:00")]
    assert (settings.slot_size_min, settings.min_notice_min, settings.horizon_days, settings.capacity) == (
        20,
        60,
        60,
        2,
    )
    assert settings.timezone == "Asia/Jerusalem" and settings.name == "x"


def test_invalid_settings_are_refused_at_save_time(store: Store) -> None:
    with pytest.raises(InvalidHours, match="closes before it opens"):
        store.create_business(name="x", opening_hours={"mon": [["19:00", "09:00"]]})
    with pytest.raises(ValueError, match="time zone"):
        store.create_business(name="x", opening_hours=ISRAELI_HOURS, timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="capacity"):
        store.create_business(name="x", opening_hours=ISRAELI_HOURS, capacity=0)
    with pytest.raises(StoreError, match="no business"):
        store.get_business(999_999)


def test_booking_then_retries_give_one_appointment(store: Store) -> None:
    business = salon(store)
    store.start_call_session("CA-retry", business, PHONE)
    outcomes = [book(store, business, "CA-retry", TOMORROW_18) for _ in range(10)]
    assert outcomes[0].created and not outcomes[0].duplicate
    assert all(o.duplicate and not o.created and o.appointment_id == outcomes[0].appointment_id for o in outcomes[1:])
    [appointment] = store.list_appointments(business)
    assert (appointment.start, appointment.minutes, appointment.name, appointment.phone) == (
        TOMORROW_18,
        30,
        "דנה",
        PHONE,
    )
    assert appointment.start.utcoffset() == dt.timedelta(hours=2)
    assert store.load_call_state("CA-retry").appointment_id == appointment.id


def test_the_same_call_retrying_concurrently_books_once(store: Store) -> None:
    business = salon(store)
    results = run_concurrently(10, lambda _: book(store, business, "CA-burst", TOMORROW_18))
    assert sum(o.created for o in results) == 1 and sum(o.duplicate for o in results) == 9
    assert len(store.list_appointments(business)) == 1
    assert_claims_consistent(store, business)


def test_refusal_gives_reason_and_alternatives_and_books_nothing(store: Store) -> None:
    business = salon(store)
    store.add_appointment(business, dt.datetime(2026, 11, 25, 17, 0, tzinfo=TZ), 30)
    saturday = dt.datetime(2026, 11, 28, 18, 0, tzinfo=TZ)
    outcome = book(store, business, "CA-sat", saturday)
    assert (outcome.created, outcome.reason, outcome.appointment_id) == (False, "closed_day", None)
    assert outcome.alternatives == [dt.datetime(2026, 11, 29, h, m, tzinfo=TZ) for h, m in ((9, 0), (9, 30), (10, 0))]
    taken = book(store, business, "CA-taken", dt.datetime(2026, 11, 25, 17, 0, tzinfo=TZ))
    assert taken.reason == "taken" and dt.datetime(2026, 11, 25, 17, 30, tzinfo=TZ) in taken.alternatives
    assert store.check_slot(business, TOMORROW_18, NOW).ok
    assert store.check_slot(business, dt.datetime(2026, 11, 25, 17, 0, tzinfo=TZ), NOW).reason == "taken"
    assert store.alternatives(business, saturday, NOW, n=1) == [dt.datetime(2026, 11, 29, 9, 0, tzinfo=TZ)]
    assert len(store.list_appointments(business)) == 1


def test_a_new_time_from_the_same_call_moves_its_appointment(store: Store) -> None:
    business = salon(store)
    first = book(store, business, "CA-move", TOMORROW_18)
    later = TOMORROW_18 + dt.timedelta(minutes=30)
    moved = book(store, business, "CA-move", later)
    assert moved.created and moved.moved and moved.appointment_id == first.appointment_id and moved.start == later
    [appointment] = store.list_appointments(business)
    assert appointment.start == later
    # The old slot is free again, for anyone.
    assert book(store, business, "CA-other", TOMORROW_18, phone="+972500000000").created
    # A refused move leaves the appointment where it was.
    refused = book(store, business, "CA-move", dt.datetime(2026, 11, 28, 10, 0, tzinfo=TZ))
    assert refused.reason == "closed_day"
    assert store.list_appointments(business, call_sid="CA-move")[0].start == later
    assert_claims_consistent(store, business)


def test_reschedule_and_cancel_from_a_later_call_find_the_appointment_by_phone(store: Store) -> None:
    business = salon(store)
    booked = book(store, business, "CA-1", TOMORROW_18)
    new_start = dt.datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
    moved = store.reschedule_appointment(
        business_id=business, call_sid="CA-2", phone=PHONE, new_start=new_start, now=NOW
    )
    assert moved.created and moved.moved and moved.appointment_id == booked.appointment_id and moved.start == new_start
    again = store.reschedule_appointment(
        business_id=business, call_sid="CA-2", phone=PHONE, new_start=new_start, now=NOW
    )
    assert again.duplicate and again.appointment_id == booked.appointment_id
    closed = store.reschedule_appointment(
        business_id=business,
        call_sid="CA-2",
        phone=PHONE,
        new_start=dt.datetime(2026, 11, 28, 10, 0, tzinfo=TZ),
        now=NOW,
    )
    assert closed.reason == "closed_day" and closed.alternatives
    cancelled = store.cancel_appointment(business_id=business, call_sid="CA-3", phone=PHONE, now=NOW)
    assert cancelled.created and cancelled.appointment_id == booked.appointment_id
    repeat = store.cancel_appointment(business_id=business, call_sid="CA-3", phone=PHONE, now=NOW)
    assert repeat.duplicate and repeat.appointment_id == booked.appointment_id
    assert store.list_appointments(business) == []
    [info] = store.list_appointments(business, active_only=False)
    assert info.status == "cancelled"
    nothing = store.cancel_appointment(business_id=business, call_sid="CA-4", phone="+972000000000", now=NOW)
    assert (nothing.created, nothing.reason) == (False, "no_appointment")
    assert (
        store.reschedule_appointment(
            business_id=business, call_sid="CA-4", phone=None, new_start=new_start, now=NOW
        ).reason
        == "no_appointment"
    )
    assert_claims_consistent(store, business)


def test_a_repeated_cancel_does_not_cancel_the_next_appointment(store: Store) -> None:
    business = salon(store)
    first = book(store, business, "CA-a", TOMORROW_18)
    second = book(store, business, "CA-b", TOMORROW_18 + dt.timedelta(days=1))
    for _ in range(3):
        outcome = store.cancel_appointment(business_id=business, call_sid="CA-c", phone=PHONE, now=NOW)
        assert outcome.appointment_id == first.appointment_id
    assert [a.id for a in store.list_appointments(business)] == [second.appointment_id]


def test_imported_appointments_respect_capacity(store: Store) -> None:
    business = salon(store, capacity=2)
    start = dt.datetime(2026, 11, 25, 12, 0, tzinfo=TZ)
    store.add_appointment(business, start, 60)
    store.add_appointment(business, start + dt.timedelta(minutes=30), 30, name="x", phone=PHONE)
    with pytest.raises(StoreError, match="beyond capacity"):
        store.add_appointment(business, start + dt.timedelta(minutes=45), 30)
    assert book(store, business, "CA-cap", start + dt.timedelta(minutes=60)).created
    assert book(store, business, "CA-cap2", start + dt.timedelta(minutes=30), phone="+972500000001").reason == "taken"
    assert_claims_consistent(store, business)


def test_the_database_itself_refuses_a_double_claim(store: Store) -> None:
    business = salon(store)
    booked = book(store, business, "CA-x", TOMORROW_18)
    minute = int(TOMORROW_18.timestamp()) // 60
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO appointment_claims (business_id, minute, seat, appointment_id) VALUES (:b, :m, 0, :a)"
            ),
            {"b": business, "m": minute, "a": booked.appointment_id},
        )
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO appointments (business_id, start_at, end_at, status, source, call_sid) "
                "VALUES (:b, :s, :s, 'booked', 'phone', 'CA-x')"
            ),
            {"b": business, "s": dt.datetime(2026, 12, 1, 10, 0)},
        )


def test_only_lost_races_are_retried(store: Store) -> None:
    """A unique key taken by a concurrent transaction is retried; a broken reference is an error at once."""
    from store.engine import Transactions

    business = salon(store)
    attempts = 0

    def orphan_claim(session: sa.orm.Session) -> None:
        nonlocal attempts
        attempts += 1
        session.execute(
            sa.text("INSERT INTO appointment_claims (business_id, minute, seat, appointment_id) VALUES (:b, 1, 0, -7)"),
            {"b": business},
        )

    with pytest.raises(StoreError) as refused:
        Transactions(store.engine).write(orphan_claim)
    assert not isinstance(refused.value, StoreUnavailable)
    assert attempts == 1


def test_leads(store: Store) -> None:
    business = salon(store)
    lead = store.ensure_lead(business, PHONE)
    assert store.ensure_lead(business, PHONE, "דנה") == lead
    store.update_lead_on_call(business, PHONE, status="callback", note="wants Friday")
    store.update_lead_on_call(business, PHONE, note="called again")
    other = store.ensure_lead(business, "+972509999999")
    assert other != lead
    with store.engine.connect() as conn:
        name, status, notes, last = conn.execute(
            sa.text("SELECT name, status, notes, last_call_at FROM leads WHERE id = :id"), {"id": lead}
        ).one()
    assert (name, status, notes) == ("דנה", "callback", "wants Friday\ncalled again") and last is not None


def test_call_session_state_survives_for_a_restarted_actor(store: Store) -> None:
    business = salon(store)
    assert store.load_call_state("CA-s") == store.load_call_state("CA-unknown")
    store.start_call_session("CA-s", business, PHONE)
    store.start_call_session("CA-s", business, PHONE)
    assert [
        store.record_turn("CA-s", role, text)
        for role, text in [("assistant", "שלום"), ("user", "היי"), ("server", "n")]
    ] == [1, 2, 3]
    assert store.mark_silence_prompt_used("CA-s") is True
    assert store.mark_silence_prompt_used("CA-s") is False
    booked = book(store, business, "CA-s", TOMORROW_18)
    state = store.load_call_state("CA-s")
    assert state.turns == [("assistant", "שלום"), ("user", "היי"), ("server", "n")]
    assert state.silence_prompt_used and state.appointment_id == booked.appointment_id
    store.cancel_appointment(business_id=business, call_sid="CA-s", phone=PHONE, now=NOW)
    assert store.load_call_state("CA-s").appointment_id is None
    store.end_call_session("CA-s", "hangup_caller")
    with pytest.raises(ValueError, match="role"):
        store.record_turn("CA-s", "robot", "x")
    with pytest.raises(StoreError, match="no call session"):
        store.record_turn("CA-nope", "user", "x")


def test_a_turn_is_stored_with_its_role_text_and_time_then_filled_in(store: Store) -> None:
    store.start_call_session("CA-t", salon(store), None)
    before = dt.datetime.now(dt.UTC)
    assert store.record_turn("CA-t", "user", "...") == 1
    assert store.record_turn("CA-t", "assistant", "שלום, במה אפשר לעזור?") == 2
    store.set_turn_text("CA-t", 1, "I'd like an appointment")
    with pytest.raises(StoreError, match="no turn 3"):
        store.set_turn_text("CA-t", 3, "never recorded")
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT seq, role, text, at FROM call_turns WHERE call_sid = 'CA-t' ORDER BY seq")
        ).all()
    assert [(seq, role, text) for seq, role, text, _at in rows] == [
        (1, "user", "I'd like an appointment"),
        (2, "assistant", "שלום, במה אפשר לעזור?"),
    ]
    assert before.replace(tzinfo=None) <= _naive_utc(rows[0][3]) <= dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _naive_utc(value: object) -> dt.datetime:
    """A raw `at` as the driver returns it: an aware datetime (PostgreSQL) or ISO text (SQLite)."""
    at = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at


def test_silence_prompt_is_granted_once_under_concurrency(store: Store) -> None:
    business = salon(store)
    store.start_call_session("CA-race", business, None)
    grants = run_concurrently(8, lambda _: store.mark_silence_prompt_used("CA-race"))
    assert sorted(grants) == [False] * 7 + [True]


def test_concurrent_turns_get_distinct_sequence_numbers(store: Store) -> None:
    business = salon(store)
    store.start_call_session("CA-turns", business, None)
    seqs = run_concurrently(12, lambda i: store.record_turn("CA-turns", "user", str(i)))
    assert sorted(seqs) == list(range(1, 13))


def test_unreachable_database_raises_store_unavailable(tmp_path: object) -> None:
    down = Store("postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")
    with pytest.raises(StoreUnavailable):
        down.get_business(1)
    down.dispose()


def test_a_locked_sqlite_database_raises_store_unavailable(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import store.engine

    monkeypatch.setattr(store.engine, "SQLITE_BUSY_TIMEOUT_MS", 50)
    url = f"sqlite:///{tmp_path}/locked.db"  # type: ignore[str-bytes-safe]
    first = Store(url)
    first.init_schema()
    business = salon(first)
    second = Store(url)
    with first.engine.connect() as holder:
        holder.begin()  # BEGIN IMMEDIATE: holds the write lock
        holder.exec_driver_sql("SELECT 1")
        with pytest.raises(StoreUnavailable):
            book(second, business, "CA-locked", TOMORROW_18)
        holder.rollback()
    assert book(second, business, "CA-locked", TOMORROW_18).created
    first.dispose()
    second.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_urls_without_a_driver_mean_psycopg(pg_url: str, scheme: str) -> None:
    """Heroku-style `postgres://` (and SQLAlchemy's bare `postgresql://`, whose default driver callrt does not
    install) reach PostgreSQL through psycopg 3."""
    same = Store(pg_url.replace("postgresql+psycopg://", f"{scheme}://", 1))
    try:
        same.init_schema()
        assert same.engine.url.drivername == "postgresql+psycopg"
        assert same.schema_revision() == migrations_head()
    finally:
        same.dispose()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "is not a URL"),
        ("mysql://user@host/db", "not mysql"),
        ("postgresql+psycopg2://user@host/db", "driver cannot be loaded"),
    ],
)
def test_an_unusable_database_url_is_refused_before_connecting(url: str, says: str) -> None:
    with pytest.raises(InvalidDatabaseUrl, match=says):
        Store(url)


def test_check_schema_says_to_run_db_init_until_it_ran(tmp_path: Path) -> None:
    fresh = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert fresh.schema_revision() is None
        with pytest.raises(SchemaNotInitialised, match="callrt db init"):
            fresh.check_schema()
        assert fresh.init_schema() is None
        assert fresh.init_schema() == migrations_head()
        fresh.check_schema()
    finally:
        fresh.dispose()


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(StoreError, match="SQLite file"):
        Store("sqlite://")


def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads (settings, slot checks, alternatives) start a deferred transaction on SQLite: a transaction
    holding the write lock does not stop them, while a write waits for it (here: fails at a short timeout)."""
    monkeypatch.setattr("store.engine.SQLITE_BUSY_TIMEOUT_MS", 50)
    store = Store(f"sqlite:///{tmp_path / 'locked.db'}")
    try:
        store.init_schema()
        business = salon(store)
        store.start_call_session("CAlocked", business, None)
        with store.engine.connect() as writer:
            writer.begin()  # BEGIN IMMEDIATE: another writer holds the database's write lock
            writer.exec_driver_sql("SELECT 1")
            assert store.get_business(business).id == business
            assert store.check_slot(business, TOMORROW_18, NOW).ok
            assert len(store.alternatives(business, TOMORROW_18, NOW)) == 3
            assert store.load_call_state("CAlocked").turns == []
            with pytest.raises(StoreUnavailable):
                store.record_turn("CAlocked", "user", "hello")
            writer.rollback()
        assert store.record_turn("CAlocked", "user", "hello") == 1
    finally:
        store.dispose()
