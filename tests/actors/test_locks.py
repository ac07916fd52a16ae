"""actors.locks.QuickLock: exclusion, first come first served, cancellation, and no checkpoint when free."""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.locks import QuickLock


async def test_a_free_lock_is_taken_without_letting_another_task_run() -> None:
    lock = QuickLock()
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)  # runnable from now on: it runs at this task's next checkpoint
        async with lock:
            assert lock.locked() and ran == []
        assert not lock.locked() and ran == []
    assert ran == ["other"]


async def test_waiters_get_the_lock_in_arrival_order_and_newcomers_queue_behind_them() -> None:
    lock = QuickLock()
    order: list[int] = []

    async def use(index: int) -> None:
        async with lock:
            order.append(index)
            await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        for index in range(5):
            nursery.start_soon(use, index)
            await trio.testing.wait_all_tasks_blocked()  # each parks before the next arrives
    assert order == [0, 1, 2, 3, 4]
    assert not lock.locked()


async def test_a_cancelled_waiter_leaves_the_queue_and_the_lock_still_works() -> None:
    lock = QuickLock()
    got: list[str] = []

    async def hold() -> None:
        async with lock:
            await trio.sleep(0.05)
            got.append("holder")

    async def wait(name: str, scope: trio.CancelScope) -> None:
        with scope:
            async with lock:
                got.append(name)

    cancelled = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hold)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(wait, "cancelled", cancelled)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(wait, "next", trio.CancelScope())
        await trio.testing.wait_all_tasks_blocked()
        cancelled.cancel()
    assert got == ["holder", "next"]
    assert not lock.locked()


@settings(max_examples=60, deadline=None)
@given(st.random_module(), st.lists(st.integers(0, 3), min_size=2, max_size=12))
def test_never_two_holders_in_any_scheduling(_random: object, pauses: list[int]) -> None:
    """Tasks that checkpoint a random number of times inside the lock, in any order trio picks."""

    async def main() -> None:
        lock = QuickLock()
        inside = 0
        entries = 0

        async def use(pause: int) -> None:
            nonlocal inside, entries
            for _ in range(pause):
                await trio.lowlevel.checkpoint()
            async with lock:
                inside += 1
                entries += 1
                assert inside == 1
                for _ in range(pause):
                    await trio.lowlevel.checkpoint()
                inside -= 1

        async with trio.open_nursery() as nursery:
            for pause in pauses:
                nursery.start_soon(use, pause)
        assert entries == len(pauses) and not lock.locked()

    trio.run(main)
