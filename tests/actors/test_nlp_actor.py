"""NlpActor: transcripts in, booking requests or need_… notes out; superseding, dedupe, crash, store outage.

A CallContext over a real Store on a temporary SQLite file; virtual time (autojump_clock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.testing

from actors.appointment_nlp import Action, RuleExtractor
from actors.call_context import CallContext
from actors.errors import InjectedFault
from actors.messages import BookingRequest, HistoryTurn, InjectedCrash, ServerNote, UserTranscript
from actors.nlp_actor import NlpActor
from store import Store
from tests.support.context import make_context
from tests.support.waiting import WatchedTrace

TZ = ZoneInfo("Asia/Jerusalem")
NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=TZ)  # a Tuesday


class SlowRules(RuleExtractor):
    """The rule extractor taking `delays[i]` virtual seconds for its i-th call: a stand-in for a slow LLM."""

    def __init__(self, delays: Sequence[float]) -> None:
        self.delays = list(delays)
        self.started = 0
        self.first_started = trio.Event()
        """Set when the first extraction begins: the actor may read the store in a worker thread before."""

    async def extract(self, history: Sequence[HistoryTurn], now: dt.datetime, timezone: str) -> Action:
        delay = self.delays[self.started] if self.started < len(self.delays) else 0.0
        self.started += 1
        self.first_started.set()
        await trio.sleep(delay)
        return self.extract_sync(history, now, timezone)


def make_store(tmp_path: Path, timezone: str = "Asia/Jerusalem") -> tuple[Store, int]:
    store = Store(f"sqlite:///{tmp_path / 'nlp.db'}")
    store.init_schema()
    business_id = store.create_business(name="מספרת דנה", timezone=timezone, working_hours="09:00-19:00")
    return store, business_id


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[CallContext]:
    store, business_id = make_store(tmp_path)
    yield make_context(call_sid="CAnlp", trace=WatchedTrace("CAnlp"), business_id=business_id, store=store)
    store.dispose()


def transcript(turn_id: str, *texts: str) -> UserTranscript:
    history = tuple(HistoryTurn("user", text) for text in texts)
    return UserTranscript(turn_id=turn_id, text=texts[-1], history=history)


def drain(ctx: CallContext) -> tuple[list[BookingRequest], list[ServerNote]]:
    ctx.mailboxes.booking.close()
    ctx.mailboxes.realtime.close()
    requests = [m for m in _all(ctx.mailboxes.booking) if isinstance(m, BookingRequest)]
    notes = [m for m in _all(ctx.mailboxes.realtime) if isinstance(m, ServerNote)]
    return requests, notes


def _all(mailbox: object) -> list[object]:
    items = []
    while True:
        try:
            items.append(mailbox.receive_nowait())  # type: ignore[attr-defined]
        except (trio.WouldBlock, trio.EndOfChannel):
            return items


def nlp_logs(ctx: CallContext) -> list[str]:
    return [e["msg"] for e in ctx.trace.events if e["ev"] == "log" and e["actor"] == "nlp"]


async def wait_for_logs(ctx: CallContext, count: int) -> None:
    # The store runs in a worker thread, during which the autojump clock moves on: wait on the outcome, not on time.
    assert isinstance(ctx.trace, WatchedTrace)
    await ctx.trace.changes.until(lambda: len(nlp_logs(ctx)) >= count)


async def run_actor(ctx: CallContext, extractor: RuleExtractor, *messages: UserTranscript, gap_s: float = 0.0) -> None:
    """Feed the messages one at a time (each handled, then gap_s more), close the mailbox, wait for the actor."""
    actor = NlpActor(ctx, extractor)
    outbox = ctx.mailboxes.nlp.outbox("realtime")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        for count, message in enumerate(messages, start=1):
            outbox.send_nowait(message)
            await wait_for_logs(ctx, count)
            await trio.sleep(gap_s)
        ctx.mailboxes.nlp.close()


async def test_full_request_goes_to_booking_with_the_callers_phone(ctx: CallContext, autojump_clock: object) -> None:
    await run_actor(ctx, RuleExtractor(), transcript("u1", "אני רוצה לקבוע תור למחר בשש בערב, קוראים לי דנה"))
    requests, notes = drain(ctx)
    assert notes == []
    [request] = requests
    assert request.kind == "create_appointment"
    assert request.start == dt.datetime(2026, 11, 25, 18, 0, tzinfo=TZ)
    assert request.name == "דנה"
    assert request.phone == "+972501234567"
    assert request.request_id == "CAnlp:u1:create_appointment"
    [line] = nlp_logs(ctx)
    assert line.startswith("[NLP] appointment action detected: {")
    assert '"name": "דנה"' in line and '"start": "2026-11-25T18:00:00+02:00"' in line


async def test_missing_name_still_books_so_the_booking_actor_checks_the_slot_first(
    ctx: CallContext, autojump_clock: object
) -> None:
    await run_actor(ctx, RuleExtractor(), transcript("u1", "can I come in tomorrow at 4?"))
    [request], notes = drain(ctx)
    assert notes == []
    assert request.name is None and request.start == dt.datetime(2026, 11, 25, 16, 0, tzinfo=TZ)


async def test_missing_time_or_date_becomes_a_need_note(ctx: CallContext, autojump_clock: object) -> None:
    await run_actor(
        ctx,
        RuleExtractor(),
        transcript("u1", "אני רוצה לקבוע תור למחר"),
        transcript("u2", "I want to book at 6"),
        transcript("u3", "I want to book an appointment"),
        gap_s=1.0,
    )
    requests, notes = drain(ctx)
    assert requests == []
    assert [(n.kind, n.text) for n in notes] == [
        ("need_time", "need_time action=create_appointment date=2026-11-25"),
        ("need_date", "need_date action=create_appointment time=18:00"),
        ("need_date", "need_date action=create_appointment"),
    ]
    for note in notes:
        assert all(" " not in part.partition("=")[2] for part in note.text.split()[1:])


async def test_chit_chat_sends_nothing_but_is_logged(ctx: CallContext, autojump_clock: object) -> None:
    await run_actor(ctx, RuleExtractor(), transcript("u1", "מה השעות שלכם?"))
    assert drain(ctx) == ([], [])
    assert nlp_logs(ctx) == ['[NLP] appointment action detected: {"action": "none", "start": null, '
                             '"date": null, "time": null, "name": null, "phone": null}']  # fmt: skip


async def test_an_unchanged_action_is_not_sent_twice(ctx: CallContext, autojump_clock: object) -> None:
    first = "Can I book tomorrow at 5? This is Bob"
    await run_actor(
        ctx,
        RuleExtractor(),
        transcript("u1", first),
        transcript("u2", first, "great, thanks"),
        transcript("u3", first, "great, thanks", "actually make it 6"),
        gap_s=1.0,
    )
    requests, _ = drain(ctx)
    assert [r.start.hour for r in requests if r.start] == [17, 18]


async def test_the_same_action_is_sent_again_after_the_server_said_it_failed(
    ctx: CallContext, autojump_clock: object
) -> None:
    ask = "Can I book tomorrow at 5? This is Bob"
    failed = HistoryTurn("server", "[SERVER] booking_failed reason=db_unavailable")
    retry = UserTranscript(turn_id="u2", text=ask, history=(HistoryTurn("user", ask), failed, HistoryTurn("user", ask)))
    await run_actor(ctx, RuleExtractor(), transcript("u1", ask), retry, gap_s=1.0)
    requests, _ = drain(ctx)
    assert [r.request_id.split(":")[1] for r in requests] == ["u1", "u2"]


def answered_then(asked: str, server: str, assistant: str, *follow_ups: str) -> tuple[UserTranscript, ...]:
    """Transcripts u1 (the request), then u2, u3 … (the follow-ups) after the server's note and the AI's answer."""
    history: tuple[HistoryTurn, ...] = (HistoryTurn("user", asked),)
    transcripts = [UserTranscript("u1", asked, history)]
    history += (HistoryTurn("server", f"[SERVER] {server}"), HistoryTurn("assistant", assistant))
    for number, text in enumerate(follow_ups, start=2):
        history += (HistoryTurn("user", text),)
        transcripts.append(UserTranscript(f"u{number}", text, history))
    return tuple(transcripts)


async def test_a_cancel_asked_again_is_handed_on_again_marked_so(ctx: CallContext, autojump_clock: object) -> None:
    await run_actor(
        ctx,
        RuleExtractor(),
        *answered_then(
            "I need to cancel my appointment",
            "appointment_cancelled id=1",
            "Your appointment is cancelled. Anything else?",
            "thanks",
            "so is it cancelled?",
            "cancel it please",
            "great, bye",
        ),
        gap_s=1.0,
    )
    requests, notes = drain(ctx)
    assert notes == []
    # "thanks" and "great, bye" read the same action but do not ask for it: nothing goes out for them.
    assert [(r.request_id, r.asked_again) for r in requests] == [
        ("CAnlp:u1:cancel_appointment", False),
        ("CAnlp:u3:cancel_appointment", True),
        ("CAnlp:u4:cancel_appointment", True),
    ]


async def test_a_move_asked_again_is_handed_on_again_with_its_time(ctx: CallContext, autojump_clock: object) -> None:
    await run_actor(
        ctx,
        RuleExtractor(),
        *answered_then(
            "אני רוצה להזיז את התור שלי למחר בחמש וחצי",
            "appointment_rescheduled id=1 start=2026-11-25T17:30+02:00",
            "העברתי את התור ליום רביעי 25.11 בשעה 17:30.",
            "תודה",
            "אז הזזת אותו?",
        ),
        gap_s=1.0,
    )
    requests, _ = drain(ctx)
    half_past_five = dt.datetime(2026, 11, 25, 17, 30, tzinfo=TZ)
    assert [(r.request_id, r.kind, r.start, r.asked_again) for r in requests] == [
        ("CAnlp:u1:reschedule_appointment", "reschedule_appointment", half_past_five, False),
        ("CAnlp:u3:reschedule_appointment", "reschedule_appointment", half_past_five, True),
    ]


async def test_the_same_transcript_delivered_twice_is_no_asking_again(ctx: CallContext, autojump_clock: object) -> None:
    ask = transcript("u1", "I need to cancel my appointment")
    await run_actor(ctx, RuleExtractor(), ask, ask, gap_s=1.0)
    requests, _ = drain(ctx)
    assert [(r.request_id, r.asked_again) for r in requests] == [("CAnlp:u1:cancel_appointment", False)]


async def test_a_request_without_a_day_asked_again_is_asked_about_again(
    ctx: CallContext, autojump_clock: object
) -> None:
    await run_actor(
        ctx,
        RuleExtractor(),
        transcript("u1", "I want to book an appointment"),
        transcript("u2", "I want to book an appointment", "ok"),
        transcript("u3", "I want to book an appointment", "ok", "can I book an appointment?"),
        gap_s=1.0,
    )
    requests, notes = drain(ctx)
    assert requests == []
    assert [n.text for n in notes] == ["need_date action=create_appointment"] * 2


async def test_a_newer_transcript_supersedes_a_slow_extraction(ctx: CallContext, autojump_clock: object) -> None:
    extractor = SlowRules([10.0, 0.5])
    actor = NlpActor(ctx, extractor)
    outbox = ctx.mailboxes.nlp.outbox("realtime")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        outbox.send_nowait(transcript("u1", "אני רוצה תור מחר בחמש"))
        await extractor.first_started.wait()
        assert extractor.started == 1  # the slow extraction is in flight
        await trio.sleep(1.0)
        arrived = trio.current_time()
        outbox.send_nowait(transcript("u2", "אני רוצה תור מחר בחמש", "בעצם בשש"))
        await wait_for_logs(ctx, 1)
        answered = trio.current_time()
        ctx.mailboxes.nlp.close()
    requests, _ = drain(ctx)
    assert extractor.started == 2
    assert [(r.request_id, r.start) for r in requests] == [
        ("CAnlp:u2:create_appointment", dt.datetime(2026, 11, 25, 18, 0, tzinfo=TZ))
    ]
    # The newer transcript was answered after its own 0.5 s, not after the first call's 10 s.
    assert answered - arrived == pytest.approx(0.5, abs=0.02)
    assert len(nlp_logs(ctx)) == 1
    assert any(e["ev"] == "nlp_superseded" and e["turn_id"] == "u1" for e in ctx.trace.events)


async def test_cancel_is_sent_even_without_a_slot(ctx: CallContext, autojump_clock: object) -> None:
    await run_actor(ctx, RuleExtractor(), transcript("u1", "I need to cancel my appointment"))
    [request], notes = drain(ctx)
    assert notes == []
    assert (request.kind, request.start, request.phone) == ("cancel_appointment", None, "+972501234567")


async def test_reschedule_after_a_confirmed_booking(ctx: CallContext, autojump_clock: object) -> None:
    history = (
        HistoryTurn("user", "אני רוצה תור מחר בחמש, שמי אורי"),
        HistoryTurn("server", "[SERVER] appointment_created id=7 start=2026-11-25T17:00+02:00"),
        HistoryTurn("assistant", "קבעתי לך תור למחר בחמש"),
        HistoryTurn("user", "בעצם, אפשר להזיז לשש?"),
    )
    await run_actor(ctx, RuleExtractor(), UserTranscript("u2", history[-1].text, history))
    [request], _ = drain(ctx)
    assert (request.kind, request.start, request.name) == (
        "reschedule_appointment",
        dt.datetime(2026, 11, 25, 18, 0, tzinfo=TZ),
        "אורי",
    )


async def test_the_business_time_zone_comes_from_the_store(tmp_path: Path, autojump_clock: object) -> None:
    store, business_id = make_store(tmp_path, timezone="America/New_York")
    # 05:00 in Jerusalem is still the evening before in New York: "tomorrow" is the 24th there.
    ctx = make_context(
        call_sid="CAnlp",
        trace=WatchedTrace("CAnlp"),
        business_id=business_id,
        store=store,
        now=dt.datetime(2026, 11, 24, 5, 0, tzinfo=TZ),
    )
    await run_actor(ctx, RuleExtractor(), transcript("u1", "I'd like to book tomorrow at 10am"))
    [request], _ = drain(ctx)
    assert request.start is not None and request.start.isoformat() == "2026-11-24T10:00:00-05:00"
    store.dispose()


async def test_store_outage_skips_the_turn_and_the_next_one_works(ctx: CallContext, autojump_clock: object) -> None:
    ctx.gateway.outage_until = trio.current_time() + 5.0
    await run_actor(
        ctx,
        RuleExtractor(),
        transcript("u1", "I'd like to book tomorrow at 10am"),
        transcript("u2", "I'd like to book tomorrow at 10am", "my name is Dan"),
        gap_s=6.0,
    )
    [request], _ = drain(ctx)
    assert request.request_id == "CAnlp:u2:create_appointment" and request.name == "Dan"
    assert any("business settings unavailable (StoreUnavailable)" in line for line in nlp_logs(ctx))


async def test_injected_crash_raises_the_fault_itself(ctx: CallContext, autojump_clock: object) -> None:
    actor = NlpActor(ctx, SlowRules([100.0]))
    outbox = ctx.mailboxes.nlp.outbox("supervisor")
    outbox.send_nowait(transcript("u1", "אני רוצה תור מחר בחמש"))
    outbox.send_nowait(InjectedCrash("test"))
    with pytest.raises(InjectedFault, match="test"):
        await actor.run()
    assert drain(ctx) == ([], [])


async def test_end_of_mailbox_returns_after_the_last_extraction(ctx: CallContext, autojump_clock: object) -> None:
    actor = NlpActor(ctx, SlowRules([2.0]))
    ctx.mailboxes.nlp.outbox("realtime").send_nowait(transcript("u1", "I'd like to book tomorrow at 10am"))
    ctx.mailboxes.nlp.close()
    await actor.run()
    [request], _ = drain(ctx)
    assert request.kind == "create_appointment"
