"""The dialogue state: the caller's current request (intent, day, time, name, phone), updated turn by
turn, and the offer on the table that a short answer refers to.

Each caller turn updates the pieces it states; the others keep their latest value ("בעצם, אפשר
בשבע?" changes the time only). An offer comes from the server's refusal note
(`alternatives=`, until the next booking note) or else from the assistant's last turn ("I have
11:30, does that work?"). It only completes a short answer: "yes" takes the one offered slot,
"eleven" or "the first one" picks one of several, "Thursday" the one on that day. The result is a
request like any other: the server still checks the slot. A refusal ("no thanks", "never mind")
after an offer, or a deferral ("I'll call back") at any time, ends a request not yet booked.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import attrs

from .action import Action, ActionKind
from .lexicon import Intent
from .replies import Reply
from .utterance import Slot, Utterance

ACTION_OF_INTENT: dict[Intent, ActionKind] = {
    "create": "create_appointment",
    "reschedule": "reschedule_appointment",
    "cancel": "cancel_appointment",
}
_ALTERNATIVES = re.compile(r"\balternatives=(\S+)")


def offered_slots(note: str, zone: ZoneInfo) -> tuple[dt.datetime, ...]:
    """The starts a refusal note offers (`alternatives=2026-11-29T09:00+02:00,…`) in business time; an entry
    that is not an ISO date-time with its offset is skipped."""
    match = _ALTERNATIVES.search(note)
    if match is None:
        return ()
    slots = []
    for text in match.group(1).split(","):
        try:
            slot = dt.datetime.fromisoformat(text)
        except ValueError:
            continue
        if slot.tzinfo is not None:
            slots.append(slot.astimezone(zone))
    return tuple(slots)


def same_clock(offered: dt.time, said: dt.time) -> bool:
    """ "two" is the offered 14:00 and "8" the offered 20:00: the hour on a 12-hour dial, and the minutes."""
    return offered.minute == said.minute and offered.hour % 12 == said.hour % 12


@attrs.define
class DialogueState:
    intent: Intent | None = None
    date: dt.date | None = None
    time: dt.time | None = None
    name: str | None = None
    phone: str | None = None
    booked: bool = False
    """The server confirmed an appointment in this call (and it was not cancelled since)."""
    week_ahead: bool = False
    """The caller's day is "next week" alone: a weekday said later falls in that week."""
    server_offer: tuple[Slot, ...] = ()
    """The free starts the server's last refusal offered instead (business time), until the next booking note."""
    assistant_offer: tuple[Slot, ...] = ()
    """The slots the assistant's last turn named as available."""
    proposed: bool = False
    """The assistant's last turn named a time: a yes answers it."""
    settled: bool = False
    """A booking note came and the caller has asked for nothing since: the assistant's words confirm, not offer."""

    def hear_server(self, text: str, zone: ZoneInfo) -> None:
        if "appointment_cancelled" in text:
            self.booked = False
            self.server_offer = ()
        elif "appointment_created" in text or "appointment_rescheduled" in text:
            self.booked = self.settled = True
            self.server_offer = ()
        elif "slot_unavailable" in text or "outside_hours" in text:
            self.server_offer = tuple((slot.date(), slot.time()) for slot in offered_slots(text, zone))

    def hear_assistant(self, said: Utterance) -> None:
        self.proposed = said.time is not None
        self.assistant_offer = () if self.settled else said.slots

    def hear_caller(self, said: Utterance, reply: Reply) -> None:
        names_slot = said.date is not None or said.time is not None
        if reply.defers:
            if not self.booked:
                self._drop_request()  # "I get off at six, I'll call back": nothing asked, and what was asked ends
            return
        offer = self.server_offer or self.assistant_offer
        if offer and reply.drops and not names_slot and said.intent is None and not self.booked:
            self._drop_request()
            return
        said = self._complete(said, reply, offer)
        self._update(said)
        if said.intent is not None or names_slot:
            self.settled = False
        if said.date is not None:
            self.week_ahead = said.week_only

    def _drop_request(self) -> None:
        self.intent = self.date = self.time = None
        self.server_offer = self.assistant_offer = ()
        self.week_ahead = False

    def _complete(self, said: Utterance, reply: Reply, offer: tuple[Slot, ...]) -> Utterance:
        """A short answer to the offer, completed from it (unchanged when it is not one, or is ambiguous)."""
        if not offer or said.intent == "cancel":
            return said
        if said.date is not None:  # a day the caller names wins; it picks the one time offered on it
            same_day = [time for day, time in offer if day == said.date]
            return attrs.evolve(said, time=same_day[0]) if said.time is None and len(same_day) == 1 else said
        if said.time is not None:
            matches = [(day, time) for day, time in offer if same_clock(time, said.time)]
            if len({time for _, time in matches}) != 1:
                return said
            days = {day for day, _ in matches}
            return attrs.evolve(said, date=days.pop() if len(days) == 1 else None, time=matches[0][1])
        if reply.place is not None and len(offer) >= 2 and -len(offer) <= reply.place < len(offer):
            chosen = offer[reply.place]
        elif reply.yes and self.proposed and len(offer) == 1:
            chosen = offer[0]
        else:
            return said
        return attrs.evolve(said, date=chosen[0], time=chosen[1])

    def _update(self, said: Utterance) -> None:
        intent = said.intent
        changes_slot = (said.date is not None and said.date != self.date) or (
            said.time is not None and said.time != self.time
        )
        if intent is None and self.booked and changes_slot and self.intent in (None, "create", "reschedule"):
            intent = "reschedule"  # "actually, seven instead?" after the booking was confirmed
        elif intent is None and self.intent is None and said.time is not None and not said.info_question:
            intent = "create"  # a caller naming a time on a booking line wants that time
        if intent == "reschedule" and self.intent == "create" and not self.booked:
            intent = "create"  # "can we move it to seven?" before anything was booked revises the request
        self.intent = intent or self.intent
        self.date = said.date or self.date
        self.time = said.time or self.time
        self.name = said.name or self.name
        self.phone = said.phone or self.phone

    def action(self, timezone: str, now: dt.datetime) -> Action:
        """The request as an action. A day already past is not requested, nor a time already past today:
        that piece is left out, and the assistant asks for it again."""
        if self.intent is None:
            return Action("none")
        zone = ZoneInfo(timezone)
        date, time = self.date, self.time
        if date is not None and date < now.astimezone(zone).date():
            date = None
        if date is not None and time is not None and dt.datetime.combine(date, time, tzinfo=zone) < now:
            time = None
        return Action.build(ACTION_OF_INTENT[self.intent], date, time, timezone, self.name, self.phone)
