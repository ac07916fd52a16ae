"""The simulated peer's faults (docs/scenario-format.md: realtime_disconnect, late_transcription, duplicate_events,
ai_false_claim) and a Hypothesis check that any order of client events keeps its protocol invariants.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.claims import detect_claim
from actors.ports import ModelClosed
from callrt.sim.peer_script import PeerFault, SimScript
from callrt.sim.realtime_peer import InMemoryModelConnector
from tests.support.sim_peer import PeerClient, ulaw_append

SAYS = ("אני רוצה תור מחר בשש", "קוראים לי דנה", "תודה")


def script(*faults: PeerFault, language: str = "he") -> SimScript:
    return SimScript(language=language, business_name="מספרת דנה", says=SAYS, faults=faults)  # type: ignore[arg-type]


async def say(client: PeerClient, ms: int = 1500) -> str:
    await client.send(ulaw_append(ms))
    await client.send({"type": "input_audio_buffer.commit"})
    return str((await client.until("input_audio_buffer.committed"))["item_id"])


async def reply(client: PeerClient) -> str:
    await client.send({"type": "response.create"})
    done = await client.until("response.done")
    rid = done["response"]["id"]
    return "".join(e["delta"] for e in client.events if e.get("response_id") == rid and "transcript.delta" in e["type"])


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_realtime_disconnect_then_a_fresh_session(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    connector = InMemoryModelConnector(script(PeerFault("realtime_disconnect", at_ms=3000)), dialect)
    start = trio.current_time()
    first = await PeerClient.open(connector)
    await reply(first)
    first_item = await say(first)
    await first.drain(60)
    assert first.closed
    assert trio.current_time() - start == pytest.approx(3.0, abs=0.05)
    await trio.sleep(0.01)  # the peer's close of its receiving side completes
    with pytest.raises(ModelClosed):
        await first.send({"type": "response.create"})

    second = await PeerClient.open(connector)
    assert second.events[0]["session"]["id"] != first.events[0]["session"]["id"]
    # A new session knows nothing of the old conversation until the client replays it...
    await second.send(
        {"type": "conversation.item.truncate", "item_id": first_item, "content_index": 0, "audio_end_ms": 1}
    )
    assert (await second.until("error"))["error"]["param"] == "item_id"
    # ...but the caller's script goes on where it was, and the fault does not fire twice.
    await say(second)
    completed = await second.until("conversation.item.input_audio_transcription.completed")
    assert completed["transcript"] == SAYS[1]
    await second.drain(30)
    assert not second.closed
    assert connector.connections == 2


async def test_late_transcription_lands_after_the_response_started(autojump_clock: trio.abc.Clock) -> None:
    connector = InMemoryModelConnector(script(PeerFault("late_transcription", at_ms=0, ms=1500)), "beta")
    client = await PeerClient.open(connector)
    await say(client)
    await client.send({"type": "response.create"})
    created = await client.until("response.created")
    created_at = client.received_at[-1]
    completed = await client.until("conversation.item.input_audio_transcription.completed")
    assert completed["transcript"] == SAYS[0]
    assert client.received_at[-1] - created_at == pytest.approx(1.5, abs=0.02)
    types = client.types()
    assert types.index("response.done") < types.index("conversation.item.input_audio_transcription.completed")
    assert created["response"]["status"] == "in_progress"
    # Only the first turn is late.
    await say(client)
    committed_at = trio.current_time()
    await client.until("conversation.item.input_audio_transcription.completed")
    assert trio.current_time() - committed_at < 1.0


async def test_duplicate_events_from_at_ms(autojump_clock: trio.abc.Clock) -> None:
    connector = InMemoryModelConnector(script(PeerFault("duplicate_events", at_ms=2000)), "ga")
    client = await PeerClient.open(connector)
    before = len(client.events)
    assert len({e["event_id"] for e in client.events}) == before  # nothing doubled before at_ms
    await trio.sleep(2.5)
    await reply(client)
    after = client.events[before:]
    await client.drain(1)  # the second copy of response.done
    after = client.events[before:]
    assert len(after) % 2 == 0 and after
    assert all(after[i] == after[i + 1] for i in range(0, len(after), 2))
    assert [e["type"] for e in after].count("response.done") == 2


@pytest.mark.parametrize("language", ["he", "en"])
async def test_ai_false_claim_once_after_at_ms(language: str, autojump_clock: trio.abc.Clock) -> None:
    connector = InMemoryModelConnector(script(PeerFault("ai_false_claim", at_ms=5000), language=language), "beta")
    client = await PeerClient.open(connector)
    greeting = await reply(client)
    assert detect_claim(greeting) is None
    await trio.sleep(6)
    await say(client)
    lie = await reply(client)
    assert lie == {"he": "קבעתי לך תור למחר בשש.", "en": "I've booked you for tomorrow at six."}[language]
    assert detect_claim(lie) == "booking"
    await say(client)
    assert detect_claim(await reply(client)) is None


async def test_without_faults_the_peer_never_claims_a_booking(autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(script(), "ga"))
    for _ in range(4):
        await say(client)
        assert detect_claim(await reply(client)) is None


# --- any order of client events ----------------------------------------------------------------

ACTIONS = st.one_of(
    st.tuples(st.just("append"), st.integers(20, 1500)),
    st.tuples(st.just("commit"), st.just(0)),
    st.tuples(st.just("clear"), st.just(0)),
    st.tuples(st.just("create"), st.just(0)),
    st.tuples(st.just("cancel"), st.just(0)),
    st.tuples(st.just("truncate"), st.integers(0, 8000)),
    st.tuples(st.just("note"), st.sampled_from(["appointment_created start=2026-11-25T18:00+02:00", "silence_prompt"])),
    st.tuples(st.just("wait"), st.integers(0, 800)),
)


async def _drive(dialect: str, actions: list[tuple[str, Any]]) -> None:
    client = await PeerClient.open(InMemoryModelConnector(script(), dialect))
    sent = {"create": 0, "cancel": 0}

    async def reader() -> None:
        await client.drain(3600)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        for kind, arg in actions:
            if kind == "append":
                await client.send(ulaw_append(arg))
            elif kind in ("commit", "clear"):
                await client.send({"type": f"input_audio_buffer.{kind}"})
            elif kind == "create":
                sent["create"] += 1
                await client.send({"type": "response.create"})
            elif kind == "cancel":
                sent["cancel"] += 1
                await client.send({"type": "response.cancel"})
            elif kind == "truncate":
                items = [e["item"]["id"] for e in client.events if e["type"] == "response.output_item.added"]
                if items:
                    await client.send(
                        {
                            "type": "conversation.item.truncate",
                            "item_id": items[-1],
                            "content_index": 0,
                            "audio_end_ms": arg,
                        }
                    )
            elif kind == "note":
                text = f"[SERVER] {arg}"
                item = {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]}
                await client.send({"type": "conversation.item.create", "item": item})
            await trio.sleep(arg / 1000 if kind == "wait" else 0)
        await trio.sleep(30)  # every response and transcription runs out
        nursery.cancel_scope.cancel()

    events = client.events
    errors = [e["error"]["code"] for e in events if e["type"] == "error"]
    created = [e["response"]["id"] for e in events if e["type"] == "response.created"]
    done = {e["response"]["id"]: e["response"]["status"] for e in events if e["type"] == "response.done"}
    # Each response.create starts exactly one response or is refused; each cancel cancels or is refused.
    assert len(created) + errors.count("conversation_already_has_active_response") == sent["create"]
    assert sorted(done) == sorted(created)
    cancelled = [rid for rid, status in done.items() if status == "cancelled"]
    assert len(cancelled) + errors.count("response_cancel_not_active") == sent["cancel"]
    # Responses never overlap, and nothing of a response follows its response.done.
    active: str | None = None
    finished: set[str] = set()
    for event in events:
        rid = event.get("response_id") or (event.get("response") or {}).get("id")
        if event["type"] == "response.created":
            assert active is None
            active = rid
        elif rid is not None:
            assert rid == active and rid not in finished, event["type"]
            if event["type"] == "response.done":
                finished.add(rid)
                active = None
    # Truncation never reaches beyond the audio the item had.
    audio_ms: dict[str, int] = {}
    for event in events:
        if event["type"].endswith("audio.delta"):
            audio_ms[event["item_id"]] = audio_ms.get(event["item_id"], 0) + len(event["delta"]) * 3 // 4 // 8
        if event["type"] == "conversation.item.truncated":
            assert event["audio_end_ms"] <= audio_ms[event["item_id"]]
            audio_ms[event["item_id"]] = event["audio_end_ms"]
    # Unexpected errors would mean the peer refused something valid.
    allowed = {
        "conversation_already_has_active_response",
        "response_cancel_not_active",
        "input_audio_buffer_commit_empty",
        "invalid_value",  # truncation past the audio (then clamped)
    }
    assert set(errors) <= allowed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dialect=st.sampled_from(["beta", "ga"]),
    actions=st.lists(ACTIONS, max_size=25),
    _random=st.random_module(),
)
def test_any_client_event_order_keeps_the_protocol_invariants(
    dialect: str, actions: list[tuple[str, Any]], _random: Any
) -> None:
    trio.run(_drive, dialect, actions, clock=trio.testing.MockClock(autojump_threshold=0))
