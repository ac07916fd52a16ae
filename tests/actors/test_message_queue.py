"""MessageQueue against the trio memory channel it stands in for: the same programs of sends,
receives (waiting ones, cancelled ones) and a close must give the same results, step by step."""

from __future__ import annotations

import math
from functools import partial
from typing import Any, Protocol

import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from actors.message_queue import MessageQueue


class _Under(Protocol):
    def send_nowait(self, item: int) -> None: ...
    def receive_nowait(self) -> int: ...
    async def receive(self) -> int: ...
    def close(self) -> None: ...
    def depth(self) -> int: ...


class _Channel:
    def __init__(self, capacity: float) -> None:
        self.send, self.recv = trio.open_memory_channel[int](capacity)

    def send_nowait(self, item: int) -> None:
        self.send.send_nowait(item)

    def receive_nowait(self) -> int:
        return self.recv.receive_nowait()

    async def receive(self) -> int:
        return await self.recv.receive()

    def close(self) -> None:
        self.send.close()

    def depth(self) -> int:
        return self.recv.statistics().current_buffer_used


class _Queue:
    def __init__(self, capacity: float) -> None:
        self.queue: MessageQueue[int] = MessageQueue(capacity)
        self.send_nowait = self.queue.send_nowait
        self.receive_nowait = self.queue.receive_nowait
        self.receive = self.queue.receive
        self.close = self.queue.close

    def depth(self) -> int:
        return len(self.queue)


def _outcome(call: Any) -> object:
    try:
        return ("ok", call())
    except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError) as exc:
        return type(exc).__name__


operations = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 99)),
        st.tuples(st.just("receive_nowait")),
        st.tuples(st.just("wait")),
        st.tuples(st.just("cancel"), st.integers(0, 7)),
        st.tuples(st.just("close")),
    ),
    max_size=40,
)


def _run(under: _Under, program: list[tuple[Any, ...]]) -> list[object]:
    log: list[object] = []
    woken: list[tuple[str, ...]] = []  # receivers that finished during one step: trio runs them in either order

    async def receiver(index: int, scope: trio.CancelScope) -> None:
        with scope:
            try:
                woken.append((f"receiver {index}", "got", str(await under.receive())))
            except trio.EndOfChannel:
                woken.append((f"receiver {index}", "EndOfChannel"))
            return
        woken.append((f"receiver {index}", "cancelled"))

    async def main() -> None:
        scopes: list[trio.CancelScope] = []
        async with trio.open_nursery() as nursery:
            for op in program:
                if op[0] == "send":
                    log.append(("send", op[1], _outcome(partial(under.send_nowait, op[1]))))
                elif op[0] == "receive_nowait":
                    log.append(("receive_nowait", _outcome(under.receive_nowait)))
                elif op[0] == "wait":
                    scopes.append(trio.CancelScope())
                    nursery.start_soon(receiver, len(scopes) - 1, scopes[-1])
                elif op[0] == "cancel" and op[1] < len(scopes):
                    scopes[op[1]].cancel()
                elif op[0] == "close":
                    under.close()
                await trio.testing.wait_all_tasks_blocked()
                log.append(("depth", under.depth(), sorted(woken)))
                woken.clear()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return log


@given(program=operations, capacity=st.sampled_from([0, 1, 2, 5, math.inf]))
def test_the_queue_behaves_as_a_memory_channel(program: list[tuple[Any, ...]], capacity: float) -> None:
    assert _run(_Queue(capacity), program) == _run(_Channel(capacity), program)


def test_a_cancelled_receive_leaves_the_buffered_message_for_the_next() -> None:
    async def main() -> None:
        queue: MessageQueue[str] = MessageQueue(math.inf)
        queue.send_nowait("frame")
        with trio.CancelScope() as scope:
            scope.cancel()
            await queue.receive()
        assert scope.cancelled_caught and len(queue) == 1
        assert await queue.receive() == "frame"

    trio.run(main)
