"""The model connection's keepalive in a call: the RealtimeActor on the Realtime connector, through a loopback
relay, to the simulated peer on a real websocket. A path that goes silent is found within the ping interval
plus the pong timeout and recycled; silent again, the model is given up with the handoff line and the
goodbye; a healthy quiet connection is pinged and answers, and the call never notices. Virtual time."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio
from trio.testing import MockClock

from actors.messages import AiAudioDone, CallerAudio, HangUpAfterPlayout, UserTranscript, UtteranceEnded
from callrt.model.realtime import PING_INTERVAL_S, PONG_TIMEOUT_S, OpenAIRealtimeConnector
from callrt.sim.peer_script import SimScript
from callrt.sim.realtime_peer import CALL_HEADER, SCRIPT_HEADER, serve_sim_peer
from store import Store
from tests.support.realtime_harness import Harness, make_store
from tests.support.tcp_relay import TcpRelay

SAY = "אני רוצה תור מחר בשש, קוראים לי דנה"
DETECTED_WITHIN_S = PING_INTERVAL_S + PONG_TIMEOUT_S


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, int]:
    return make_store(tmp_path_factory.mktemp("realtime_keepalive"))


async def until(h: Harness, condition: Callable[[], bool]) -> None:
    def holds() -> bool:
        h.drain()
        return condition()

    with trio.fail_after(120):
        await h.until(holds)


def answers(h: Harness) -> int:
    return sum(isinstance(m, AiAudioDone) for m in h.audio_out)


def disconnects(h: Harness) -> list[str]:
    return [e["reason"] for e in h.realtime_events("model_disconnected")]


@asynccontextmanager
async def call_through(store: tuple[Store, int]) -> AsyncIterator[tuple[Harness, TcpRelay]]:
    """A greeted call whose model connections go through a relay to the simulated peer (GA)."""
    h = Harness(*store, dialect="ga")
    script = SimScript(language="he", business_name="מספרת דנה", says=(SAY,))
    async with trio.open_nursery() as nursery:
        peer_port = await nursery.start(functools.partial(serve_sim_peer, "127.0.0.1", 0, "ga"))
        relay = TcpRelay(peer_port)
        relay_port = await nursery.start(relay.serve)
        h.connector = OpenAIRealtimeConnector(  # type: ignore[assignment]
            "sk-test",
            dialect="ga",
            url=f"ws://127.0.0.1:{relay_port}/v1/realtime",
            extra_headers={SCRIPT_HEADER: script.to_json(), CALL_HEADER: h.call_sid},
        )
        h.new_actor()
        nursery.start_soon(h.actor.run)
        await until(h, lambda: answers(h) >= 1 and not h.actor.has_pending_ai_response)  # the greeting
        yield h, relay
        nursery.cancel_scope.cancel()


async def caller_turn_answered(h: Harness) -> None:
    before = answers(h)
    h.send(CallerAudio(b"\x10" * 8000), CallerAudio(b"\x10" * 8000))
    h.send(UtteranceEnded(at_ms=0, duration_ms=2000, rms=900, silence_ms=600))
    await until(h, lambda: bool(h.nlp_out) and answers(h) > before and not h.actor.has_pending_ai_response)
    assert isinstance(h.nlp_out[-1], UserTranscript) and h.nlp_out[-1].text == SAY


async def test_a_silent_path_is_found_and_recycled(store: tuple[Store, int], autojump_clock: MockClock) -> None:
    async with call_through(store) as (h, relay):
        stalled_at = trio.current_time()
        relay.stall()
        await until(h, lambda: "unresponsive" in disconnects(h))
        assert trio.current_time() - stalled_at <= DETECTED_WITHIN_S
        (frozen,) = h.realtime_events("model_frozen")
        assert (frozen["waiting_for"], frozen["action"]) == ("pong", "recycle")
        await until(
            h, lambda: len(h.realtime_events("model_connected")) == 2 and h.actor.conversation.session.link.ready
        )
        await caller_turn_answered(h)  # the call goes on over the new connection
        assert not h.realtime_events("model_given_up")


async def test_silent_again_the_model_is_given_up_with_the_handoff_line(
    store: tuple[Store, int], autojump_clock: MockClock
) -> None:
    async with call_through(store) as (h, relay):
        relay.stall()
        await until(
            h, lambda: len(h.realtime_events("model_connected")) == 2 and h.actor.conversation.session.link.ready
        )
        stalled_at = trio.current_time()
        relay.stall()
        await until(h, lambda: bool(h.realtime_events("model_given_up")))
        assert trio.current_time() - stalled_at <= DETECTED_WITHIN_S
        assert [e["action"] for e in h.realtime_events("model_frozen")] == ["recycle", "give_up"]
        assert h.realtime_events("model_given_up")[0]["reason"] == "model_frozen"
        assert [e["line"] for e in h.trace.events if e["ev"] == "runtime_line"] == ["handoff", "goodbye"]
        await until(h, lambda: any(isinstance(m, HangUpAfterPlayout) for m in h.audio_out))
        assert h.ctx.callbacks.reasons == {"model_frozen"}
        await trio.sleep(60)
        assert len(h.realtime_events("model_connected")) == 2, "a model given up is never connected again"


async def test_a_healthy_quiet_connection_answers_pings_and_the_call_never_notices(
    store: tuple[Store, int], autojump_clock: MockClock
) -> None:
    async with call_through(store) as (h, relay):
        before = relay.carried()
        await trio.sleep(10 * DETECTED_WITHIN_S)  # nobody says anything
        after = relay.carried()
        # Pings went out and pongs came back (the actor itself sent and received nothing meanwhile).
        assert after[0] > before[0] and after[1] > before[1]
        assert disconnects(h) == [] and not h.realtime_events("model_frozen")
        await caller_turn_answered(h)
        assert len(h.realtime_events("model_connected")) == 1
