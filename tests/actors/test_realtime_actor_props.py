"""Hypothesis over orderings of server events and inbox messages around a reactive, protocol-faithful
server on the wire double: deltas, dones, cancel races (late deltas after a cancel), transcriptions before or
after the response, duplicated events. After every step the issue's invariants must hold."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.messages import AiAudio, BargeIn, CallerAudio, NoiseIgnored, ServerNote, SilenceElapsed, UtteranceEnded
from store import Store
from tests.support.realtime_harness import Harness, make_store
from tests.support.realtime_wire import Server

STEPS = st.lists(
    st.sampled_from(
        [
            "server",
            "server",
            "server",
            "server",
            "dup",
            "transcribe",
            "utterance",
            "barge_in",
            "noise",
            "silence",
            "note",
        ]
    ),
    min_size=5,
    max_size=60,
)


class ReactiveServer:
    """Answers the client's events as the service does; the test decides when each server event is delivered."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.s: Server = h.server
        self.queue: deque[dict[str, Any]] = deque()
        self.transcriptions: deque[dict[str, Any]] = deque()
        self.seen = 0
        self.active: str | None = None
        self.responses = 0
        self.commits = 0
        self.audio_ms: dict[str, int] = {}
        self.violations: list[str] = []

    def react(self, late_deltas: int) -> None:
        sent = self.h.wire.sent
        for event in sent[self.seen :]:
            kind = event["type"]
            if kind == "response.create":
                if self.active is not None:
                    self.violations.append("response.create while a response is active")
                    self.queue.append(
                        self.s.error("conversation_already_has_active_response", "busy", event["event_id"])
                    )
                    continue
                self.responses += 1
                rid, item = f"resp_{self.responses}", f"item_{self.responses}"
                self.active = rid
                self.audio_ms[item] = 300
                self.queue.extend(self.s.response(rid, item, "רגע, אני בודקת את השעה", audio_ms=300, chunks=3))
            elif kind == "response.cancel":
                if self.active is None or event.get("response_id") != self.active:
                    self.queue.append(self.s.error("response_cancel_not_active", "no active response"))
                    continue
                # Cancel race: a few already-generated deltas still arrive, then the cancelled done.
                rid = self.active
                pending = [
                    e for e in self.queue if e.get("response_id") == rid or e.get("response", {}).get("id") == rid
                ]
                for e in pending:
                    self.queue.remove(e)
                late = [e for e in pending if e["type"].endswith("audio.delta")][:late_deltas]
                self.queue.extend([*late, self.s.response_done(rid, "cancelled")])
            elif kind == "input_audio_buffer.commit":
                self.commits += 1
                item = f"item_u{self.commits}"
                self.queue.append(self.s.committed(item))
                self.transcriptions.append(self.s.user_transcript(item, "אני רוצה תור מחר"))
            elif kind == "conversation.item.truncate" and event["audio_end_ms"] > self.audio_ms.get(
                event["item_id"], 0
            ):
                self.violations.append(f"truncate beyond the item's audio: {event}")
        self.seen = len(sent)

    def deliver(self, event: dict[str, Any]) -> None:
        if event["type"] == "response.done" and event["response"]["id"] == self.active:
            self.active = None
        self.h.push(event)


def forwarded_ms(h: Harness, item: str) -> int:
    return sum(len(m.payload) for m in h.audio_out if isinstance(m, AiAudio) and m.item_id == item) // 8


def check_invariants(h: Harness, server: ReactiveServer) -> None:
    actor = h.actor
    assert not server.violations, server.violations
    # Never two responses pending, and no response.create while one is pending (client view).
    outstanding = 0
    for event in h.trace.events:
        if event["ev"] == "io" and event.get("dir") == "out" and event.get("type") == "response.create":
            outstanding += 1
            assert outstanding == 1, "response.create while a response was pending"
        if event["ev"] == "realtime" and event["what"] == "response_done":
            outstanding = max(0, outstanding - 1)
        if event["ev"] == "realtime" and event["what"] == "model_error" and event.get("event_id"):
            outstanding = 0 if not actor.has_pending_ai_response else outstanding
    # Truncation never beyond the audio the caller could have heard.
    for event in h.realtime_events("truncate"):
        assert event["audio_end_ms"] <= forwarded_ms(h, event["item_id"])
    # At most one silence prompt.
    assert len(h.realtime_events("silence_prompt")) <= 1
    # No audio of a cancelled response after its cancel.
    for cancel in h.realtime_events("cancel"):
        rid = cancel["response_id"]
        later = [
            e
            for e in h.trace.events
            if e.get("seq", 0) > cancel["seq"]
            and e["ev"] == "send"
            and e.get("type") == "AiAudio"
            and e["fields"]["response_id"] == rid
        ]
        assert not later, f"audio of {rid} after its cancel"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, int]:
    return make_store(tmp_path_factory.mktemp("realtime_props"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=STEPS,
    dialect=st.sampled_from(["beta", "ga"]),
    late_deltas=st.integers(min_value=0, max_value=2),
    seed=st.random_module(),
    data=st.data(),
)
async def test_invariants_hold_under_any_ordering(
    store: tuple[Store, int],
    steps: list[str],
    dialect: str,
    late_deltas: int,
    seed: object,
    data: st.DataObject,
) -> None:
    h = Harness(*store, dialect=dialect)
    server = ReactiveServer(h)
    async with h.running():
        for step in steps:
            server.react(late_deltas)
            if step in ("server", "dup") and server.queue:
                event = server.queue.popleft()
                server.deliver(event)
                if step == "dup":
                    h.push(event)  # the same event (same event_id) twice
            elif step == "transcribe" and server.transcriptions:
                h.push(server.transcriptions.popleft())
            elif step == "utterance":
                h.send(CallerAudio(b"\x10" * 800), UtteranceEnded(at_ms=0, duration_ms=1000, rms=900, silence_ms=600))
            elif step == "barge_in" and h.actor.last_ai_turn_id:
                item = h.actor.last_ai_turn_id
                heard = data.draw(st.integers(min_value=0, max_value=max(0, forwarded_ms(h, item))))
                h.send(BargeIn(item_id=item, audio_end_ms=heard, speech_at_ms=0))
            elif step == "noise":
                h.send(NoiseIgnored(at_ms=0, duration_ms=300, rms=900, interrupted_ai=data.draw(st.booleans())))
            elif step == "silence":
                h.send(SilenceElapsed(15_000))
            elif step == "note":
                h.send(ServerNote("need_name", "need_name"))
            await h.idle()
            if step == "barge_in":
                assert not h.actor.is_ai_speaking
            check_invariants(h, server)
        # Drain: deliver everything the server still owes; the call must end up answered, never stuck.
        for _ in range(500):
            server.react(late_deltas)
            if not server.queue and not server.transcriptions:
                break
            server.deliver(server.queue.popleft()) if server.queue else h.push(server.transcriptions.popleft())
            await h.idle()
            check_invariants(h, server)
        assert not h.actor.has_pending_ai_response and not h.actor.is_ai_speaking
        assert h.actor.ledger.wanted is None, "a wanted response was never created: the AI went mute"
