"""ResponseLedger without a model: the guard, deferred wishes, cancels, refusals and drops."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from actors.response_ledger import GUARD_LINE, ResponseLedger
from tests.support.recorder import Recorded


def make() -> tuple[ResponseLedger, Recorded]:
    recorded = Recorded()
    return ResponseLedger(recorded, recorded.log), recorded


def test_a_second_request_while_one_is_pending_is_guarded_then_served_after_done() -> None:
    ledger, recorded = make()
    assert ledger.request("greeting", ready=True) == "send"
    ledger.create_sent("greeting", "rt_1")
    assert ledger.created("resp_1")
    assert ledger.request("user_turn", ready=True) == "guard"
    assert recorded.lines == [GUARD_LINE]
    assert recorded.events[-1] == ("guard_skip", {"reason": "user_turn", "pending": "resp_1"})
    assert ledger.take_wanted(ready=True) is None  # still pending
    assert ledger.done("resp_1", "completed")
    assert ledger.take_wanted(ready=True) == "user_turn"
    assert ledger.take_wanted(ready=True) is None  # one response serves the wish


def test_a_request_before_the_session_is_ready_is_deferred_without_the_guard_line() -> None:
    ledger, recorded = make()
    assert ledger.request("greeting", ready=False) == "defer"
    assert recorded.lines == [] and recorded.whats() == ["response_deferred"]
    assert ledger.take_wanted(ready=False) is None
    assert ledger.take_wanted(ready=True) == "greeting"


def test_a_response_the_server_started_is_pending_under_the_reason_server() -> None:
    ledger, recorded = make()
    assert ledger.created("resp_vad")
    assert ledger.pending and ledger.active == "resp_vad"
    assert recorded.events[-1] == ("response_created", {"response_id": "resp_vad", "reason": "server"})
    assert not ledger.created("resp_vad")  # a repeat changes nothing


def test_a_cancelled_response_speaks_no_more_and_a_done_one_cannot_be_cancelled() -> None:
    ledger, _ = make()
    ledger.create_sent("greeting", "rt_1")
    ledger.created("resp_1")
    ledger.item_added("resp_1", "item_1")
    assert ledger.speaking and ledger.last_item == "item_1"
    assert ledger.cancel() == "resp_1"
    assert not ledger.speaking and ledger.is_cut("resp_1")
    assert not ledger.audio_delta("resp_1", "item_1")
    assert not ledger.audio_done("resp_1")
    assert not ledger.transcribing("resp_1")
    ledger.done("resp_1", "cancelled")
    assert ledger.cancel() is None


def test_a_refused_create_clears_pending_unless_a_response_is_already_active() -> None:
    ledger, _ = make()
    ledger.create_sent("greeting", "rt_1")
    ledger.create_refused("rt_1", "conversation_already_has_active_response")
    assert ledger.pending
    ledger.create_refused("rt_0", "invalid_value")
    assert ledger.pending  # not our create
    ledger.create_refused("rt_1", "invalid_value")
    assert not ledger.pending


def test_a_drop_owes_an_unfinished_response_again_under_its_reason() -> None:
    ledger, _ = make()
    ledger.create_sent("silence_prompt", "rt_1")
    ledger.created("resp_1")
    ledger.connection_dropped()
    assert not ledger.pending and ledger.active is None
    assert ledger.wanted == "silence_prompt"


def test_a_drop_after_the_transcript_finished_or_a_cut_owes_nothing() -> None:
    ledger, _ = make()
    ledger.create_sent("greeting", "rt_1")
    ledger.created("resp_1")
    assert ledger.transcript_finished("resp_1")
    assert not ledger.transcript_finished("resp_1")
    ledger.connection_dropped()
    assert ledger.wanted is None
    ledger.create_sent("user_turn", "rt_2")
    ledger.created("resp_2")
    ledger.cancel()
    ledger.connection_dropped()
    assert ledger.wanted is None


def test_a_claim_cut_response_is_known_as_such() -> None:
    ledger, _ = make()
    ledger.created("resp_1")
    ledger.cut_claim("resp_1")
    assert ledger.cut_for_claim("resp_1") and not ledger.speaking


class LedgerDrivenLikeTheActor(RuleBasedStateMachine):
    """Any order of wishes, server events, cancels, refusals and drops: never a create while one is pending."""

    @initialize()
    def start(self) -> None:
        self.recorded = Recorded()
        self.ledger = ResponseLedger(self.recorded, self.recorded.log)
        self.ready = False
        self.sent = 0
        self.started: list[str] = []

    def _send(self, reason: str) -> None:
        if self.ledger.request(reason, self.ready) == "send":
            assert not self.ledger.pending, "a response.create while one is pending"
            self.sent += 1
            self.ledger.create_sent(reason, f"rt_{self.sent}")

    @rule(reason=st.sampled_from(["user_turn", "silence_prompt", "need_date"]))
    def wish(self, reason: str) -> None:
        self._send(reason)

    @rule()
    def session_acknowledged(self) -> None:
        self.ready = True
        reason = self.ledger.take_wanted(self.ready)
        if reason is not None:
            self._send(reason)

    @rule()
    def server_creates(self) -> None:
        response_id = f"resp_{len(self.started)}"
        if self.ledger.created(response_id):
            self.started.append(response_id)

    @rule(data=st.data())
    def server_finishes(self, data: st.DataObject) -> None:
        if self.started and self.ledger.done(data.draw(st.sampled_from(self.started)), "completed"):
            reason = self.ledger.take_wanted(self.ready)
            if reason is not None:
                self._send(reason)

    @rule()
    def barge_in(self) -> None:
        self.ledger.cancel()

    @rule()
    def last_create_refused(self) -> None:
        was_pending = self.ledger.pending
        self.ledger.create_refused(f"rt_{self.sent}", "invalid_value")
        if was_pending and not self.ledger.pending:
            self.recorded("refused")

    @rule()
    def connection_drops(self) -> None:
        self.ready = False
        self.ledger.connection_dropped()
        self.recorded("model_disconnected")

    @invariant()
    def two_creates_always_have_an_end_between_them(self) -> None:
        # The scenario suite's "response while pending" check, on the ledger's own reports.
        open_create = False
        for what in self.recorded.whats():
            if what == "response_create":
                assert not open_create, f"a second response.create while one was pending: {self.recorded.whats()}"
                open_create = True
            elif what in ("response_done", "model_disconnected", "refused"):
                open_create = False

    @invariant()
    def an_active_response_is_pending(self) -> None:
        assert self.ledger.active is None or self.ledger.pending


LedgerDrivenLikeTheActor.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
test_the_ledger_never_creates_while_pending = LedgerDrivenLikeTheActor.TestCase
