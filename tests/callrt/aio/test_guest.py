"""The trio guest run on an asyncio loop: results and errors cross back, a cancelled asyncio task cancels its
trio side and waits for it, one failing job leaves the others running, and a guest belongs to one loop."""

from __future__ import annotations

import asyncio

import pytest
import trio
import trio.lowlevel

from callrt.aio import GuestStopped, TrioGuest


async def answer(value: int) -> int:
    await trio.lowlevel.checkpoint()
    return value


async def fail() -> None:
    await trio.lowlevel.checkpoint()
    raise ValueError("broken call")


def test_results_and_errors_come_back_to_asyncio() -> None:
    async def host() -> None:
        guest = TrioGuest()
        try:
            assert await asyncio.gather(*(guest.run(answer, n) for n in range(5))) == [0, 1, 2, 3, 4]
            with pytest.raises(ValueError, match="broken call"):
                await guest.run(fail)
            assert await guest.run(answer, 7) == 7, "a failed job does not end the guest"
            assert trio.lowlevel.current_trio_token() is not None  # sync trio API works once it started
        finally:
            await guest.aclose()
        assert guest.finished

    asyncio.run(host())


def test_a_cancelled_task_cancels_its_trio_side_and_waits_for_it() -> None:
    async def host() -> None:
        guest = TrioGuest()
        cleaned_up = asyncio.Event()
        loop = asyncio.get_running_loop()
        started = asyncio.Event()

        async def forever() -> None:
            try:
                loop.call_soon_threadsafe(started.set)
                await trio.sleep_forever()
            finally:
                with trio.CancelScope(shield=True):
                    await trio.sleep(0.05)  # clean-up that takes a while: the task waits for it
                loop.call_soon_threadsafe(cleaned_up.set)

        try:
            task = asyncio.create_task(guest.run(forever))
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0)  # the clean-up's threadsafe callback runs before the task's end is seen
            assert cleaned_up.is_set()
        finally:
            await guest.aclose()

    asyncio.run(host())


def test_a_guest_belongs_to_the_loop_that_started_it() -> None:
    guest = TrioGuest()

    async def first() -> None:
        assert await guest.run(answer, 1) == 1

    async def second() -> None:
        with pytest.raises(RuntimeError, match="another event loop"):
            await guest.run(answer, 2)

    async def closing() -> None:
        await guest.aclose()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(first())
        asyncio.run(second())
    finally:
        loop.run_until_complete(closing())
        loop.close()
    assert guest.finished
    with pytest.raises(GuestStopped):
        asyncio.run(guest.start())
