"""The call's session row: created as soon as the database lets it, for the life of the call.

A call starts whether or not its `call_sessions` row could be created (the caller is waiting). Until the
row exists nothing of the call can be stored against it: the `TurnWriter` holds the turns (bounded), and
the session's end waits. `keep_opening` retries the creation with the gateway's outage backoff for the
whole call; `open_within` is the last, bounded attempt when the call (or a stopping actor) ends. A
refusal that is not an outage (the business is gone) settles it too: nothing of this call will be stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import trio

from store.errors import StoreError, StoreUnavailable

if TYPE_CHECKING:
    from .call_context import CallContext

SessionState = Literal["pending", "open", "failed"]


class SessionRow:
    """Whether the call's session row exists (`open`), may still (`pending`), or never will (`failed`)."""

    def __init__(self) -> None:
        self.state: SessionState = "pending"
        self.settled = trio.Event()
        """Set once the state is no longer `pending`."""

    def opened(self) -> None:
        self.state = "open"
        self.settled.set()

    def refused(self) -> None:
        if self.state == "pending":
            self.state = "failed"
            self.settled.set()


async def keep_opening(ctx: CallContext) -> None:
    """Create the session row, retrying while the database is unavailable, until it exists (or is refused)."""
    if ctx.session.state != "pending":
        return

    def retrying(error: StoreUnavailable, delay: float) -> None:
        ctx.log("supervisor", f"start_call_session failed ({error}); retrying in {delay:g} s")

    try:
        await ctx.gateway.run_until_available(
            retrying, ctx.store.start_call_session, ctx.call_sid, ctx.business_id, ctx.caller_phone
        )
    except StoreError as exc:
        ctx.log("supervisor", f"start_call_session refused: {exc}; nothing of this call is stored")
        ctx.trace.record("session_refused", error=str(exc)[:300])
        ctx.session.refused()
        return
    if ctx.session.state == "pending":  # the supervisor's task and a stopping actor may both have tried
        ctx.session.opened()
        ctx.trace.record("session_opened")


async def open_within(ctx: CallContext, timeout_s: float) -> bool:
    """The last attempts (the call or an actor is ending), shielded and bounded: whether the row exists."""
    with trio.CancelScope(shield=True), trio.move_on_after(timeout_s):
        await keep_opening(ctx)
    return ctx.session.state == "open"
