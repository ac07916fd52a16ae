"""The frozen-model and text-only-answer detector, without trio: times are plain numbers."""

from __future__ import annotations

import math

from actors.response_watch import MAX_TEXT_ONLY_RETRIES, ResponseWatch


def test_no_audio_in_time_recycles_then_gives_up() -> None:
    watch = ResponseWatch(5.0)
    assert watch.deadline == math.inf
    watch.response_requested(10.0)
    assert watch.deadline == 15.0 and watch.waiting_for == "audio"
    assert watch.expired() == "recycle"
    assert watch.deadline == math.inf
    watch.session_requested(16.0)
    assert watch.deadline == 21.0 and watch.waiting_for == "session.updated"
    assert watch.expired() == "give_up"


def test_audio_proves_the_model_alive() -> None:
    watch = ResponseWatch(5.0)
    watch.response_requested(0.0)
    assert watch.expired() == "recycle"
    watch.session_requested(5.0)
    watch.session_acknowledged()
    assert watch.deadline == math.inf
    watch.response_requested(6.0)
    watch.audio("r1")
    assert watch.deadline == math.inf
    watch.response_requested(20.0)
    assert watch.expired() == "recycle", "a freeze after the model spoke again starts the count again"


def test_a_response_without_audio_is_asked_again_then_given_up() -> None:
    watch = ResponseWatch(5.0)
    answers = []
    for n in range(MAX_TEXT_ONLY_RETRIES + 1):
        watch.response_requested(float(n))
        answers.append(watch.done(f"r{n}", "completed", cut=False))
    assert answers == ["retry"] * MAX_TEXT_ONLY_RETRIES + ["give_up"]


def test_only_a_completed_uncut_silent_response_counts() -> None:
    watch = ResponseWatch(5.0)
    watch.audio("spoken")
    assert watch.done("spoken", "completed", cut=False) == "ok"
    assert watch.done("cancelled", "cancelled", cut=True) == "ok"
    assert watch.done("cut", "completed", cut=True) == "ok"
    assert watch.done("failed", "failed", cut=False) == "ok"
    assert watch.done("silent", "completed", cut=False) == "retry"
    watch.audio("next")
    assert watch.text_only == 0


def test_a_dropped_connection_forgets_the_deadline() -> None:
    watch = ResponseWatch(5.0)
    watch.response_requested(0.0)
    watch.connection_dropped()
    assert watch.deadline == math.inf and watch.waiting_for is None
