"""Callback requests on SQLite and PostgreSQL: recorded, bounded, listed per business, done once."""

from __future__ import annotations

import datetime as dt

import pytest

from store import Store, StoreError
from store.callbacks import REQUEST_LIMIT
from tests.support.store import db_url, pg_url, salon, store

__all__ = ["db_url", "pg_url", "store"]  # fixtures used by this module

AT = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)


def test_recorded_listed_newest_first_and_done_once(store: Store) -> None:
    business = salon(store)
    first = store.record_callback_request(
        business_id=business,
        call_sid="CA1",
        phone="+972501234567",
        name="דנה",
        request="תור ליום חמישי",
        reason="booking_unavailable",
        at=AT,
    )
    second = store.record_callback_request(
        business_id=business,
        call_sid="CA2",
        phone=None,
        name=None,
        request="cancel my appointment",
        reason="unverified_caller",
        at=AT + dt.timedelta(minutes=1),
    )
    assert [c.id for c in store.callback_requests(business)] == [second, first]
    oldest = store.callback_requests(business)[-1]
    assert (oldest.phone, oldest.name, oldest.request, oldest.reason, oldest.done_at) == (
        "+972501234567",
        "דנה",
        "תור ליום חמישי",
        "booking_unavailable",
        None,
    )
    assert store.mark_callback_done(first, business_id=business)
    assert not store.mark_callback_done(first, business_id=business), "a request is done once"
    assert [c.id for c in store.callback_requests(business)] == [second]
    assert {c.id for c in store.callback_requests(business, open_only=False)} == {first, second}


def test_another_business_cannot_close_or_see_it(store: Store) -> None:
    mine, theirs = salon(store), salon(store, name="other")
    request = store.record_callback_request(
        business_id=mine, call_sid=None, phone="+972500000000", name=None, request="x", reason="handoff", at=AT
    )
    assert store.callback_requests(theirs) == []
    assert not store.mark_callback_done(request, business_id=theirs)
    assert request in {c.id for c in store.callback_requests(None)}, "None lists every business's"


def test_what_a_caller_said_is_stored_bounded(store: Store) -> None:
    business = salon(store)
    store.record_callback_request(
        business_id=business,
        call_sid="CA",
        phone=None,
        name="n" * 1000,
        request="word " * 1000,
        reason="r" * 200,
        at=AT,
    )
    (stored,) = store.callback_requests(business)
    assert len(stored.request) == REQUEST_LIMIT and len(stored.name or "") == 200 and len(stored.reason) == 64


def test_unknown_business_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no business"):
        store.record_callback_request(
            business_id=999, call_sid=None, phone=None, name=None, request="x", reason="handoff", at=AT
        )
