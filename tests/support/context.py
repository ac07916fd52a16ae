"""The one CallContext factory for tests: a call's identity and services built by hand, every field a
keyword option with a default that suits a unit test (one Tuesday morning in Israel, a fresh trace)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from actors.call_context import CallContext, CallMailboxes, Language
from actors.config import CallConfig
from actors.db import StoreGateway
from actors.trace import Trace

if TYPE_CHECKING:
    from store import Store

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))  # a Tuesday
PHONE = "+972501234567"


def make_context(
    *,
    call_sid: str = "CAtest",
    business_id: int = 1,
    store: Store | None = None,
    caller_phone: str | None = PHONE,
    language: Language = "he",
    config: CallConfig | None = None,
    trace: Trace | None = None,
    gateway: StoreGateway | None = None,
    now: dt.datetime = NOW,
    session_opened: bool = True,
) -> CallContext:
    """A context for one call. `store=None` is for actors that never touch the store (the AudioActor):
    one that does fails loudly on the missing store. `now` is the frozen wall clock bookings see.
    `session_opened`: the call's session row exists (the test created it), so turns are written at once."""
    config = config or CallConfig()
    trace = trace or Trace(call_sid)
    ctx = CallContext(
        call_sid=call_sid,
        business_id=business_id,
        caller_phone=caller_phone,
        language=language,
        config=config,
        trace=trace,
        gateway=gateway or StoreGateway(),
        store=cast("Store", store),
        now=lambda: now,
        mailboxes=CallMailboxes.create(trace, config),
    )
    if session_opened:
        ctx.session.opened()
    return ctx
