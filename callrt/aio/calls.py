"""`run_call` for asyncio: `actors.run_call` in the process's trio guest run, awaited from an asyncio task.

Cancelling the awaiting task ends the call the way every call ends: the supervisor gets an
`EndCall` (by the supervisor, reason `cancelled`), hangs up the line, stops the actors, ends the
call's session in the store and closes the trace; the task's cancellation is re-raised once that
is done. A call that does not end within the guest's grace period is cut by its cancel scope (the
trace and the session are still closed, from `run_call`'s shielded clean-up).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Sequence

import trio

from actors.appointment_nlp import Extractor
from actors.call_context import CallContext, Language
from actors.call_supervisor import CallOutcome
from actors.call_supervisor import run_call as run_trio_call
from actors.config import CallConfig
from actors.db import StoreGateway
from actors.messages import EndCall
from actors.ports import CallerLine, ModelConnector
from actors.supervision import ChildSpec
from actors.trace import Trace
from callrt.aio.guest import current_guest
from store import Store


class _HostedCall:
    """One call on the trio side, with a hang-up the asyncio side can ask for at any moment."""

    def __init__(self, start: Callable[..., Awaitable[CallOutcome]]) -> None:
        self._start = start
        self._context: CallContext | None = None
        self._outcome: CallOutcome | None = None
        self._hang_up_requested = False

    async def run(self) -> CallOutcome:
        async with trio.open_nursery() as nursery:
            self._context = await nursery.start(self._run)
            if self._hang_up_requested:  # asked while the call was still opening its session
                self._send_end()
        assert self._outcome is not None
        return self._outcome

    async def _run(self, task_status: trio.TaskStatus[CallContext]) -> None:
        self._outcome = await self._start(task_status=task_status)

    def hang_up(self) -> None:
        """In trio: end the call through its supervisor, as soon as it has one."""
        self._hang_up_requested = True
        if self._context is not None:
            self._send_end()

    def _send_end(self) -> None:
        assert self._context is not None
        self._context.mailboxes.supervisor.outbox("host").send_nowait(EndCall(by="supervisor", reason="cancelled"))


async def run_call(
    *,
    call_sid: str,
    business_id: int,
    line: CallerLine,
    model: ModelConnector,
    store: Store,
    extractor: Extractor | None = None,
    caller_phone: str | None = None,
    language: Language = "he",
    config: CallConfig | None = None,
    now: Callable[[], dt.datetime] | None = None,
    trace: Trace | None = None,
    gateway: StoreGateway | None = None,
    child_specs: Callable[[CallContext], Sequence[ChildSpec]] | None = None,
) -> CallOutcome:
    """Run one call to its end in the trio guest run and return how it ended (see `actors.run_call`).

    `line` and `model` are trio objects (e.g. `WebSocketCallerLine.line`, `OpenAIRealtimeConnector`):
    they are used only from the guest run."""
    call = _HostedCall(
        functools.partial(
            run_trio_call,
            call_sid=call_sid,
            business_id=business_id,
            line=line,
            model=model,
            store=store,
            extractor=extractor,
            caller_phone=caller_phone,
            language=language,
            config=config,
            now=now,
            trace=trace,
            gateway=gateway,
            child_specs=child_specs,
        )
    )
    return await current_guest().run(call.run, on_cancel=call.hang_up)
