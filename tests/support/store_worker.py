"""A booking worker process for the store's cross-process concurrency tests (started with `spawn`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from store import Store
from tests.support.store import run_concurrently


def book_in_threads(
    url: str,
    business_id: int,
    start: dt.datetime,
    now: dt.datetime,
    call_sids: list[str],
    barrier: Any,
    results: Any,
) -> None:
    """Wait for every process, then book `start` once per call sid, each in its own thread."""
    store = Store(url)
    try:
        barrier.wait()
        outcomes = run_concurrently(
            len(call_sids),
            lambda i: store.create_appointment_from_realtime(
                business_id=business_id,
                call_sid=call_sids[i],
                start=start,
                name=f"caller {call_sids[i]}",
                phone=f"+97250{hash(call_sids[i]) % 10**7:07d}",
                now=now,
            ),
        )
        results.put([(o.created, o.duplicate, o.reason, o.appointment_id) for o in outcomes])
    except Exception as exc:
        results.put(repr(exc))
    finally:
        store.dispose()
