"""SilenceLadder without time or a store: ask once, then goodbye, then hang up, and never ask twice."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.silence_ladder import SilenceLadder
from tests.support.recorder import Recorded


def make() -> tuple[SilenceLadder, Recorded]:
    recorded = Recorded()
    return SilenceLadder(recorded), recorded


def test_prompt_then_goodbye_then_the_hang_up_when_the_goodbye_was_said() -> None:
    ladder, recorded = make()
    assert ladder.tick(pending=False, speaking=False) == "claim_prompt"
    assert ladder.prompt_claimed(True) == "silence_prompt"
    assert ladder.tick(pending=False, speaking=False) == "silence_goodbye"
    assert ladder.stage == "goodbye"
    ladder.response_created("resp_bye")
    ladder.response_created("resp_other")  # the first response of the stage is the goodbye
    assert ladder.goodbye_response_id == "resp_bye"
    assert ladder.audio_done("resp_bye")
    assert not ladder.audio_done("resp_bye") and not ladder.response_done("resp_bye", cut=False)  # asked once
    assert recorded.whats() == ["silence_prompt", "silence_goodbye", "hangup_requested"]
    assert recorded.events[-1][1] == {"reason": "silence", "repeat": False}


def test_a_tick_during_the_goodbye_stage_asks_for_the_hang_up_again() -> None:
    ladder, recorded = make()
    ladder.restore(prompt_used=True, goodbye_unanswered=True)
    assert ladder.tick(pending=False, speaking=False) == "hang_up"
    assert ladder.hang_up(repeat=True) and ladder.hang_up(repeat=True)
    assert recorded.events == [("hangup_requested", {"reason": "silence", "repeat": True})] * 2


def test_ticks_while_the_ai_is_busy_are_ignored() -> None:
    ladder, recorded = make()
    assert ladder.tick(pending=True, speaking=False) == "ignored"
    assert ladder.tick(pending=False, speaking=True) == "ignored"
    assert recorded.events[-1] == ("silence_ignored", {"pending": False, "speaking": True})
    assert not ladder.prompt_used


def test_an_unconfirmed_claim_means_no_prompt_and_the_next_tick_says_goodbye() -> None:
    ladder, recorded = make()
    assert ladder.tick(pending=False, speaking=False) == "claim_prompt"
    assert ladder.prompt_claimed(None) == "unconfirmed"
    assert ladder.tick(pending=False, speaking=False) == "silence_goodbye"
    assert "silence_prompt" not in recorded.whats()


def test_a_refused_claim_goes_straight_to_the_goodbye() -> None:
    ladder, _ = make()
    ladder.tick(pending=False, speaking=False)
    assert ladder.prompt_claimed(False) == "silence_goodbye"


def test_the_caller_speaking_aborts_a_goodbye_not_handed_over_yet() -> None:
    ladder, recorded = make()
    ladder.restore(prompt_used=True, goodbye_unanswered=False)
    assert ladder.tick(pending=False, speaking=False) == "silence_goodbye"
    ladder.response_created("resp_bye")
    assert ladder.abort("caller_spoke")
    assert ladder.stage == "none" and ladder.goodbye_response_id is None
    assert not ladder.abort("caller_spoke")
    assert recorded.events[-1] == ("silence_goodbye_aborted", {"why": "caller_spoke"})


def test_a_goodbye_whose_hang_up_was_asked_for_is_not_aborted() -> None:
    ladder, _ = make()
    ladder.restore(prompt_used=True, goodbye_unanswered=True)
    ladder.response_created("resp_bye")
    assert ladder.response_done("resp_bye", cut=False)
    assert not ladder.abort("barge_in")
    assert ladder.stage == "goodbye"


def test_a_goodbye_cut_by_us_does_not_hang_up_when_it_ends() -> None:
    ladder, _ = make()
    ladder.restore(prompt_used=True, goodbye_unanswered=True)
    ladder.response_created("resp_bye")
    assert not ladder.response_done("resp_bye", cut=True)


def test_a_drop_before_the_goodbye_finished_makes_the_next_response_the_goodbye() -> None:
    ladder, _ = make()
    ladder.restore(prompt_used=True, goodbye_unanswered=True)
    ladder.response_created("resp_lost")
    ladder.connection_dropped(goodbye_done=False)
    ladder.response_created("resp_again")
    assert ladder.goodbye_response_id == "resp_again"
    ladder.connection_dropped(goodbye_done=True)
    assert ladder.goodbye_response_id == "resp_again"


class StoreDouble:
    """`mark_silence_prompt_used`: granted once per call, across instances; None while the store is down."""

    def __init__(self) -> None:
        self.used = False

    def claim(self, up: bool) -> bool | None:
        if not up:
            return None
        granted, self.used = not self.used, True
        return granted


def quiet_tick(ladder: SilenceLadder, store: StoreDouble, store_up: bool) -> None:
    """One tick as the actor handles it: the claim asked of the store, the repeated hang-up."""
    step = ladder.tick(pending=False, speaking=False)
    if step == "claim_prompt":
        ladder.prompt_claimed(store.claim(store_up))
    elif step == "hang_up":
        ladder.hang_up(repeat=True)


EVENTS = ["quiet_tick", "busy_tick", "caller_spoke", "created", "audio_done", "done", "drop", "restart"]


@given(st.lists(st.tuples(st.sampled_from(EVENTS), st.booleans()), max_size=60))
def test_the_ladder_never_asks_twice_and_a_silent_call_always_ends(script: list[tuple[str, bool]]) -> None:
    recorded, store = Recorded(), StoreDouble()
    ladder = SilenceLadder(recorded)
    responses = 0
    for what, flag in script:
        if what == "quiet_tick":
            quiet_tick(ladder, store, store_up=flag)
        elif what == "busy_tick":
            assert ladder.tick(pending=flag, speaking=not flag) == "ignored"
        elif what == "caller_spoke":
            ladder.abort("caller_spoke")
        elif what == "created":
            responses += 1
            ladder.response_created(f"resp_{responses}")
        elif what == "audio_done":
            ladder.audio_done(f"resp_{responses}")
        elif what == "done":
            ladder.response_done(f"resp_{responses}", cut=flag)
        elif what == "drop":
            ladder.connection_dropped(goodbye_done=flag)
        else:  # a restarted instance reloads what the store kept
            goodbye_unanswered = ladder.stage == "goodbye"
            ladder = SilenceLadder(recorded)
            ladder.restore(prompt_used=store.used, goodbye_unanswered=goodbye_unanswered)
        assert recorded.whats().count("silence_prompt") <= 1, "the caller was asked twice whether they are there"
    # Silence from here on, the store down or not: within three quiet ticks the hang-up is asked for.
    before = len(recorded.events)
    for _ in range(3):
        quiet_tick(ladder, store, store_up=False)
    assert "hangup_requested" in recorded.whats()[before:]
