"""The NlpActor: after every completed caller transcription, extract the booking action from the
conversation so far and hand it on: a `BookingRequest` to the BookingActor when the slot is
known, or a `need_date` / `need_time` server note to the RealtimeActor so the AI asks for it.

Extraction (possibly a slow LLM call) runs in a child task; a newer transcript cancels it,
because the newer one carries the whole conversation and supersedes it. The same action is
handed on again only when the caller's latest turn asks about it again ("cancel it please",
"so is it cancelled?"), or after the server said it failed: every later transcript reads the
same action ("thanks" after a cancellation), and re-sending it would make the AI repeat its
answer; not re-sending it when the caller asks again would leave them waiting in silence.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal
from zoneinfo import ZoneInfo

import trio

from store import StoreError
from store.errors import BrokenSettings

from .appointment_nlp import Action, Extractor, asks_again
from .call_context import CallContext
from .errors import InjectedFault
from .messages import BookingKind, BookingRequest, HistoryTurn, InjectedCrash, ServerNote, UserTranscript

FAILED_NOTE = "booking_failed"
"""A server note saying the last request could not be carried out: the same request may be tried again."""


class NlpActor:
    name = "nlp"

    def __init__(self, ctx: CallContext, extractor: Extractor) -> None:
        self.ctx = ctx
        self.extractor = extractor
        self._timezone: str | None = None
        self._last_handled: Action | None = None
        self._handled_at = 0
        self._booking = ctx.mailboxes.booking.outbox(self.name)
        self._realtime = ctx.mailboxes.realtime.outbox(self.name)

    async def run(self) -> None:
        crash: InjectedCrash | None = None
        async with trio.open_nursery() as nursery:
            in_flight = trio.CancelScope()
            async for message in self.ctx.mailboxes.nlp:
                if isinstance(message, InjectedCrash):
                    crash = message
                    nursery.cancel_scope.cancel()
                    break
                in_flight.cancel()  # the newer transcript carries the whole conversation
                in_flight = trio.CancelScope()
                nursery.start_soon(self._extract_and_forward, message, in_flight)
        # Raised outside the nursery so that the supervisor sees the fault itself, not an exception group.
        if crash is not None:
            raise InjectedFault(crash.reason)

    async def _extract_and_forward(self, transcript: UserTranscript, scope: trio.CancelScope) -> None:
        with scope:
            timezone = await self._business_timezone()
            if timezone is None:
                return
            action = await self.extractor.extract(transcript.history, self.ctx.now(), timezone)
            self.ctx.log(
                self.name, f"[NLP] appointment action detected: {json.dumps(action.to_json(), ensure_ascii=False)}"
            )
            if action.action == "none":
                return
            asked_again = self._asked_again(action, transcript, timezone)
            if not asked_again and self._already_handled(action, transcript.history):
                return
            self._last_handled = action
            self._handled_at = len(transcript.history)
            self._forward(transcript.turn_id, action.action, action, asked_again=asked_again)
        if scope.cancelled_caught:
            self.ctx.trace.record("nlp_superseded", turn_id=transcript.turn_id)

    def _asked_again(self, action: Action, transcript: UserTranscript, timezone: str) -> bool:
        """A caller turn later than the one that handed the action on asks about it again ("cancel it
        please", "so is it cancelled?"): the server answers it again, even if with the same words."""
        if action != self._last_handled or len(transcript.history) <= self._handled_at:
            return False  # another action, or the very transcript that handed it on, delivered again
        return asks_again(transcript.text, self.ctx.now().astimezone(ZoneInfo(timezone)).date())

    def _already_handled(self, action: Action, history: Sequence[HistoryTurn]) -> bool:
        """The same action was sent before and did not fail since: every later transcript reads it again
        (the latest statement wins) without the caller asking for it again."""
        if action != self._last_handled:
            return False
        since = history[self._handled_at :]
        return not any(turn.role == "server" and FAILED_NOTE in turn.text for turn in since)

    async def _business_timezone(self) -> str | None:
        if self._timezone is None:
            try:
                business = await self.ctx.gateway.run_retrying(
                    self._log_retry, self.ctx.store.get_business, self.ctx.business_id
                )
            except BrokenSettings as exc:
                self.ctx.log(self.name, f"[NLP] business settings invalid ({exc}); no booking in this call")
                self._realtime.send_nowait(
                    ServerNote(kind="booking_unavailable", text="booking_unavailable reason=invalid_settings")
                )
                return None
            except StoreError as exc:
                # Without the time zone "tomorrow" means nothing: the caller must not be left waiting in silence.
                self.ctx.log(self.name, f"[NLP] business settings unavailable ({type(exc).__name__}); booking failed")
                self._realtime.send_nowait(
                    ServerNote(kind="booking_failed", text="booking_failed reason=db_unavailable")
                )
                return None
            self._timezone = business.timezone
        return self._timezone

    def _log_retry(self, error: StoreError, delay: float) -> None:
        self.ctx.log(self.name, f"[NLP] database unavailable ({error}); retrying in {delay:g} s")

    def _forward(self, turn_id: str, kind: BookingKind, action: Action, *, asked_again: bool) -> None:
        if kind != "cancel_appointment" and action.start is None:
            self._realtime.send_nowait(need_note(action))
            return
        self._booking.send_nowait(
            BookingRequest(
                request_id=f"{self.ctx.call_sid}:{turn_id}:{kind}",
                kind=kind,
                start=action.start,
                name=action.name,
                phone=action.phone or self.ctx.caller_phone,
                asked_again=asked_again,
            )
        )


def need_note(action: Action) -> ServerNote:
    """`need_date …` when the day is missing (asked first), else `need_time …`; known pieces as key=value."""
    fields: dict[str, str] = {"action": action.action}
    if action.date is not None:
        fields["date"] = action.date.isoformat()
    if action.time is not None:
        fields["time"] = action.time.strftime("%H:%M")
    kind: Literal["need_date", "need_time"] = "need_date" if action.date is None else "need_time"
    text = " ".join([kind, *(f"{key}={value}" for key, value in fields.items())])
    return ServerNote(kind=kind, text=text)
