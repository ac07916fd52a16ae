"""The BookingActor: turns the NLP's booking requests into store operations and reports each result
to the RealtimeActor as a machine-readable `ServerNote`, the only thing that lets the AI confirm.

Note texts are `<kind> key=value …` with ISO-8601 minute times carrying their UTC offset, in the
business's time zone, and values without spaces (parsed by the prompt rules and the simulators):

    appointment_created id=7 start=2026-11-25T18:00+02:00
    appointment_rescheduled id=7 start=2026-11-26T10:00+02:00
    appointment_cancelled id=7
    outside_hours reason=closed_day requested=2026-11-28T18:00+02:00 alternatives=2026-11-29T09:00+02:00,…
    slot_unavailable reason=taken requested=2026-11-25T17:00+02:00 alternatives=…
    need_name start=2026-11-25T18:00+02:00
    booking_failed reason=db_unavailable | no_appointment | invalid_request | store_error | unverified_caller

`outside_hours` is for a time the business does not take bookings at all (closed_day, outside_hours,
beyond_horizon); `slot_unavailable` for a time that is possible in principle but not this one
(taken, too_soon, not_on_slot_grid, in_past). `alternatives=` is left out when there are none.

Cancel and move act on the appointment this call booked, or else on the next one of the verified caller
line (actors.caller_identity), never on a number said aloud. A cancel or move that finds nothing it may
touch while the line is withheld, or the caller named another number, is handed to a person: a callback
request is recorded (reason `unverified_caller`) and the note makes the AI say the handoff line.

The actor keeps no durable state: the store is idempotent per call, so a request repeated (by the NLP,
or after a restart) never books, moves or cancels twice: a cancel asked again finds the appointment this
call cancelled, a move asked again finds the appointment already at its new time, and the note says so
again. A note identical to the previous one is not re-sent, unless the caller asked again
(`BookingRequest.asked_again`) or it is a failure: the caller is then waiting for the answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from store import BookingOutcome, StoreError, StoreUnavailable

from .call_context import CallContext
from .caller_identity import may_touch_appointments_of_line
from .db import RETRY_DELAYS_S
from .errors import InjectedFault
from .messages import BookingRequest, InjectedCrash, NoteKind, ServerNote
from .trace import mask_phone

P = ParamSpec("P")
R = TypeVar("R")


OUTSIDE_HOURS_REASONS = frozenset({"closed_day", "outside_hours", "beyond_horizon"})
UNVERIFIED_CALLER = "unverified_caller"


def iso_minute(instant: dt.datetime) -> str:
    """`2026-11-25T18:00+02:00`: minute precision, with the offset."""
    return instant.isoformat(timespec="minutes")


def refusal_note(reason: str, requested: dt.datetime, alternatives: list[dt.datetime]) -> ServerNote:
    kind: NoteKind = "outside_hours" if reason in OUTSIDE_HOURS_REASONS else "slot_unavailable"
    text = f"{kind} reason={reason} requested={iso_minute(requested)}"
    if alternatives:
        text += " alternatives=" + ",".join(iso_minute(slot) for slot in alternatives)
    return ServerNote(kind=kind, text=text)


def failure_note(reason: str) -> ServerNote:
    return ServerNote(kind="booking_failed", text=f"booking_failed reason={reason}")


class BookingActor:
    name = "booking"

    def __init__(self, ctx: CallContext) -> None:
        self.ctx = ctx
        self._realtime = ctx.mailboxes.realtime.outbox(self.name)
        self._timezone: ZoneInfo | None = None
        self._last_note: str | None = None
        self._handed_off: set[str] = set()
        """Kinds of request already recorded as a callback in this call (one record each, however often asked)."""

    async def run(self) -> None:
        async for message in self.ctx.mailboxes.booking:
            if isinstance(message, InjectedCrash):
                raise InjectedFault(message.reason)
            note = await self._handle(message)
            if note is not None:
                self._send(note, message)

    # -- one request -----------------------------------------------------------

    async def _handle(self, request: BookingRequest) -> ServerNote | None:
        try:
            if request.kind == "cancel_appointment":
                return await self._cancel(request)
            if request.start is None or request.start.tzinfo is None:
                self._log(f"request {request.request_id} without an aware start time; ignored")
                return failure_note("invalid_request")
            if request.kind == "reschedule_appointment":
                return await self._reschedule(request, request.start)
            return await self._create(request, request.start)
        except StoreUnavailable as exc:
            self._log(f"database unavailable after {len(RETRY_DELAYS_S) + 1} attempts: {exc}")
            return failure_note("db_unavailable")
        except StoreError as exc:
            self._log(f"store refused request {request.request_id}: {exc}")
            return failure_note("store_error")

    async def _create(self, request: BookingRequest, start: dt.datetime) -> ServerNote:
        store, now = self.ctx.store, self.ctx.now()
        if not request.name:
            # A valid slot without a name is not booked: the AI asks for the name first.
            check = await self._call(store.check_slot, self.ctx.business_id, start, now)
            local = start.astimezone(await self._business_timezone())
            if check.ok:
                return ServerNote(kind="need_name", text=f"need_name start={iso_minute(local)}")
            assert check.reason is not None
            alternatives = await self._call(store.alternatives, self.ctx.business_id, start, now)
            return refusal_note(check.reason, local, alternatives)
        phone = self._phone(request)
        self._log(
            f"create_appointment_from_realtime(start={iso_minute(start)}, name={request.name}, "
            f"phone={mask_phone(phone) if phone else None})"
        )
        outcome = await self._call(
            store.create_appointment_from_realtime,
            business_id=self.ctx.business_id,
            call_sid=self.ctx.call_sid,
            start=start,
            name=request.name,
            phone=phone,
            now=now,
        )
        return self._booked_note(outcome)

    async def _reschedule(self, request: BookingRequest, start: dt.datetime) -> ServerNote:
        line = self._line_phone(request)
        outcome = await self._call(
            self.ctx.store.reschedule_appointment,
            business_id=self.ctx.business_id,
            call_sid=self.ctx.call_sid,
            phone=line,
            new_start=start,
            now=self.ctx.now(),
        )
        if outcome.reason == "no_appointment" and line is None:
            return await self._hand_off(request)
        return self._booked_note(outcome, moved=True)

    async def _cancel(self, request: BookingRequest) -> ServerNote:
        line = self._line_phone(request)
        outcome = await self._call(
            self.ctx.store.cancel_appointment,
            business_id=self.ctx.business_id,
            call_sid=self.ctx.call_sid,
            phone=line,
            now=self.ctx.now(),
        )
        if outcome.reason == "no_appointment" and line is None:
            return await self._hand_off(request)
        if outcome.reason is not None:
            return failure_note(outcome.reason)
        self._log_done(f"appointment_cancelled id={outcome.appointment_id}", outcome)
        return ServerNote(
            kind="appointment_cancelled",
            text=f"appointment_cancelled id={outcome.appointment_id}",
            appointment_id=outcome.appointment_id,
        )

    async def _hand_off(self, request: BookingRequest) -> ServerNote:
        """A change the line may not make itself: a person of the business calls back and checks."""
        spoken = request.phone
        wanted = request.kind + (f" to {iso_minute(request.start)}" if request.start is not None else "")
        about = f"the appointment of {spoken} (number said by the caller)" if spoken else "the caller's appointment"
        self._log(
            f"{request.kind} refused: caller line {mask_phone(self.ctx.caller_phone or '') or 'withheld'}, "
            f"number said {mask_phone(spoken) if spoken else 'none'}; handing over to a person"
        )
        if request.kind not in self._handed_off:
            await self._call(
                self.ctx.store.record_callback_request,
                business_id=self.ctx.business_id,
                call_sid=self.ctx.call_sid,
                phone=self.ctx.caller_phone or spoken,
                name=request.name,
                request=f"{wanted}: {about}",
                reason=UNVERIFIED_CALLER,
                at=self.ctx.now(),
            )
            self._handed_off.add(request.kind)
        return failure_note(UNVERIFIED_CALLER)

    def _booked_note(self, outcome: BookingOutcome, *, moved: bool = False) -> ServerNote:
        """`moved`: the request was a move, so its answer says rescheduled even when the store had nothing
        to change (a move asked again, or to the time the appointment already has)."""
        if outcome.reason == "no_appointment":
            return failure_note("no_appointment")
        if outcome.reason is not None:
            assert outcome.start is not None
            return refusal_note(outcome.reason, outcome.start, outcome.alternatives)
        assert outcome.start is not None and outcome.appointment_id is not None
        kind: NoteKind = "appointment_rescheduled" if moved or outcome.moved else "appointment_created"
        line = f"{kind} id={outcome.appointment_id} start={iso_minute(outcome.start)}"
        self._log_done(line, outcome)
        return ServerNote(kind=kind, text=line, appointment_id=outcome.appointment_id)

    # -- helpers -----------------------------------------------------------------

    async def _call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """A store call through the gateway, retried with backoff (virtual time) while the database is down."""
        return await self.ctx.gateway.run_retrying(self._log_retry, fn, *args, **kwargs)

    def _log_retry(self, error: StoreUnavailable, delay: float) -> None:
        self._log(f"database unavailable ({error}); retrying in {delay:g} s")

    async def _business_timezone(self) -> ZoneInfo:
        if self._timezone is None:
            business = await self._call(self.ctx.store.get_business, self.ctx.business_id)
            self._timezone = ZoneInfo(business.timezone)
        return self._timezone

    def _phone(self, request: BookingRequest) -> str | None:
        """A new booking's contact: the number said aloud, else the caller line."""
        return request.phone or self.ctx.caller_phone

    def _line_phone(self, request: BookingRequest) -> str | None:
        """The number a cancel or move may look the caller's appointment up by: the verified line, unless
        the request named another number; None limits it to the appointment this call booked."""
        return self.ctx.caller_phone if may_touch_appointments_of_line(self.ctx.caller_phone, request.phone) else None

    def _send(self, note: ServerNote, request: BookingRequest) -> None:
        # A duplicated request (the NLP restarted and handed on its action again) gives the very same
        # outcome: the model has it already. The caller asking again is always answered, though, and so
        # is a failure: they asked, and silence would leave them waiting.
        if note.text == self._last_note and not request.asked_again and note.kind != "booking_failed":
            self._log(f"not repeating: {note.text}")
            return
        self._last_note = note.text
        self._realtime.send_nowait(note)

    def _log(self, line: str) -> None:
        self.ctx.log(self.name, line)

    def _log_done(self, line: str, outcome: BookingOutcome) -> None:
        self._log(line + (" (duplicate request: already done)" if outcome.duplicate else ""))
