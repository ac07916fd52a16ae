"""No double booking under real concurrency, on SQLite and PostgreSQL: 50 bookers aiming at the
same slot from threads of one process and from two processes; the same call from two processes."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from store import Store
from tests.support.store import (
    NOW,
    TOMORROW_18,
    assert_claims_consistent,
    db_url,
    pg_url,
    run_concurrently,
    salon,
    store,
)
from tests.support.store_worker import book_in_threads

__all__ = ["db_url", "pg_url", "store"]  # fixtures used by this module

Result = tuple[bool, bool, str | None, int | None]


def run_processes(db_url: str, business: int, groups: list[list[str]]) -> list[Result]:
    """One spawned process per group of call sids; all released together by a cross-process barrier."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(groups))
    results: Any = context.Queue()
    processes = [
        context.Process(target=book_in_threads, args=(db_url, business, TOMORROW_18, NOW, group, barrier, results))
        for group in groups
    ]
    for process in processes:
        process.start()
    collected = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    errors = [item for item in collected if isinstance(item, str)]
    assert not errors, errors
    return [outcome for batch in collected for outcome in batch]


def book(store: Store, business: int, call_sid: str) -> Result:
    outcome = store.create_appointment_from_realtime(
        business_id=business, call_sid=call_sid, start=TOMORROW_18, name="x", phone=None, now=NOW
    )
    return (outcome.created, outcome.duplicate, outcome.reason, outcome.appointment_id)


@pytest.mark.parametrize("capacity", [1, 3])
def test_fifty_threads_one_slot(store: Store, capacity: int) -> None:
    business = salon(store, capacity=capacity)
    outcomes = run_concurrently(50, lambda i: book(store, business, f"CA-thread-{i}"))
    assert sum(created for created, *_ in outcomes) == capacity
    assert sorted(reason for created, _, reason, _ in outcomes if not created) == ["taken"] * (50 - capacity)
    assert len(store.list_appointments(business)) == capacity
    assert_claims_consistent(store, business)


def test_fifty_bookers_in_two_processes_one_slot(store: Store, db_url: str) -> None:
    business = salon(store)
    groups = [[f"CA-proc{p}-{t}" for t in range(25)] for p in range(2)]
    outcomes = run_processes(db_url, business, groups)
    assert len(outcomes) == 50
    assert sum(created for created, *_ in outcomes) == 1
    assert {reason for created, _, reason, _ in outcomes if not created} == {"taken"}
    [appointment] = store.list_appointments(business)
    assert appointment.start == TOMORROW_18
    assert_claims_consistent(store, business)


def test_the_same_call_from_two_processes_books_once(store: Store, db_url: str) -> None:
    business = salon(store)
    outcomes = run_processes(db_url, business, [["CA-twin"] * 5, ["CA-twin"] * 5])
    assert sum(created for created, *_ in outcomes) == 1
    assert sum(duplicate for _, duplicate, *_ in outcomes) == 9
    assert len({appointment_id for *_, appointment_id in outcomes}) == 1
    assert len(store.list_appointments(business)) == 1


def test_one_call_asking_for_different_times_at_once_keeps_one_consistent_appointment(store: Store) -> None:
    business = salon(store)
    starts = [TOMORROW_18.replace(hour=h) for h in (10, 11, 12, 13, 14, 15, 16, 17)]
    run_concurrently(
        len(starts),
        lambda i: store.create_appointment_from_realtime(
            business_id=business, call_sid="CA-fickle", start=starts[i], name="x", phone=None, now=NOW
        ),
    )
    [appointment] = store.list_appointments(business)
    assert appointment.start in starts
    assert_claims_consistent(store, business)
