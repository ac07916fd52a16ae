"""The simulated peer's server VAD: the edges it finds in audio, and the service's events around them.

Every server event received through `PeerClient` is validated against the SDK's model for its type.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.codec import ulaw_to_pcm16
from callrt.sim.peer_script import SimScript
from callrt.sim.peer_vad import DEFAULTS, ServerVad, SpeechStarted, SpeechStopped, VadSettings
from callrt.sim.realtime_peer import InMemoryModelConnector
from callrt.sim.signals import noise_frames, silence_frames, speech_frames
from tests.support.sim_peer import PeerClient

DIALECTS = ("beta", "ga")
SCRIPT = SimScript(language="en", business_name="Dana's Salon", says=("What are your hours?",))
ULAW = "g711_ulaw"
SETTINGS = VadSettings.of({"type": "server_vad"})
assert SETTINGS is not None


def speech(ms: float) -> bytes:
    return b"".join(speech_frames("What are your opening hours on Friday?", ms))


def quiet(ms: float) -> bytes:
    return b"".join(silence_frames(ms))


def vad_session(dialect: str, **turn_detection: Any) -> dict[str, Any]:
    """A phone relay's session: mu-law both ways, the server's VAD deciding turns."""
    detection = {"type": "server_vad", **turn_detection}
    if dialect == "beta":
        return {"input_audio_format": ULAW, "output_audio_format": ULAW, "turn_detection": detection}
    return {
        "type": "realtime",
        "audio": {
            "input": {"format": {"type": "audio/pcmu"}, "turn_detection": detection},
            "output": {"format": {"type": "audio/pcmu"}},
        },
    }


def append(audio: bytes) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}


async def open_vad_client(dialect: str, **turn_detection: Any) -> PeerClient:
    client = await PeerClient.open(InMemoryModelConnector(SCRIPT, dialect), configure=False)
    await client.send({"type": "session.update", "session": vad_session(dialect, **turn_detection)})
    await client.until("session.updated")
    return client


# --- the detector ---------------------------------------------------------------------------------------


def test_settings_follow_the_session_and_fill_the_services_defaults() -> None:
    assert VadSettings.of(None) is None
    assert VadSettings.of({"type": "semantic_vad"}) is None
    assert VadSettings(**DEFAULTS) == SETTINGS
    assert VadSettings.of({"type": "server_vad", "silence_duration_ms": 200, "create_response": False}) == VadSettings(
        threshold=0.5, prefix_padding_ms=300, silence_duration_ms=200, create_response=False, interrupt_response=True
    )


def test_speech_then_silence_gives_one_start_and_one_stop_at_the_services_positions() -> None:
    vad = ServerVad(SETTINGS, ULAW)
    edges = vad.feed(quiet(1000) + speech(1200) + quiet(800))
    # Speech from 1000 ms: the start includes the 300 ms prefix padding; the stop comes 500 ms after its last
    # voiced window and includes that silence.
    assert edges[0] == SpeechStarted(700)
    assert isinstance(edges[1], SpeechStopped) and 2200 + 500 - 40 <= edges[1].audio_end_ms <= 2200 + 500
    assert len(edges) == 2 and not vad.speaking and vad.position_ms == 3000


def test_line_noise_is_not_speech_and_a_loud_cough_is() -> None:
    assert ServerVad(SETTINGS, ULAW).feed(quiet(3000)) == []
    cough = b"".join(noise_frames("cough", 260, 1800))
    assert [type(e) for e in ServerVad(SETTINGS, ULAW).feed(cough + quiet(600))] == [SpeechStarted, SpeechStopped]


def pcm24k(ulaw: bytes) -> bytes:
    """The same audio as 24 kHz PCM16, the service's default input format."""
    return np.repeat(ulaw_to_pcm16(ulaw), 3).astype("<i2").tobytes()


def test_pcm16_input_is_measured_in_its_own_format() -> None:
    edges = ServerVad(SETTINGS, "audio/pcm").feed(pcm24k(quiet(200) + speech(600) + quiet(600)))
    assert edges[0] == SpeechStarted(0) and isinstance(edges[1], SpeechStopped)


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=2000), max_size=12), gap_ms=st.integers(0, 1200))
def test_edges_do_not_depend_on_how_the_audio_was_cut(cuts: list[int], gap_ms: int) -> None:
    """The same audio appended in any chunks gives the same edges, alternating, in order of position."""
    audio = quiet(300) + speech(700) + quiet(gap_ms) + speech(400) + quiet(700)
    whole = ServerVad(SETTINGS, ULAW).feed(audio)
    vad = ServerVad(SETTINGS, ULAW)
    pieces, offset = [], 0
    for cut in sorted(cuts):
        pieces.append(audio[offset:cut])
        offset = max(offset, cut)
    pieces.append(audio[offset:])
    chunked = [edge for piece in pieces for edge in vad.feed(piece)]
    assert chunked == whole
    assert [type(e) for e in whole] == [SpeechStarted, SpeechStopped] * (len(whole) // 2)
    if gap_ms <= 400:
        assert len(whole) == 2  # one utterance: the pause was shorter than silence_duration_ms
    elif gap_ms >= 600:
        assert len(whole) == 4
    positions = [e.audio_start_ms if isinstance(e, SpeechStarted) else e.audio_end_ms for e in whole]
    assert positions == sorted(positions)


# --- the session ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_speech_is_committed_and_answered_by_the_server(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    client = await open_vad_client(dialect)
    for frame in speech_frames("Hello there", 1000) + silence_frames(700):
        await client.send(append(frame))
    started = await client.until("input_audio_buffer.speech_started")
    stopped = await client.until("input_audio_buffer.speech_stopped")
    committed = await client.until("input_audio_buffer.committed")
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    assert started["audio_start_ms"] == 0 and 1000 <= stopped["audio_end_ms"] <= 1520
    done = await client.until("response.done")
    assert done["response"]["status"] == "completed"
    order = client.types()
    assert order.index("input_audio_buffer.committed") < order.index("response.created")


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_speech_over_a_reply_cancels_it_as_turn_detected(dialect: str, autojump_clock: trio.abc.Clock) -> None:
    client = await open_vad_client(dialect)
    await client.send({"type": "response.create"})
    await client.until("response.created")
    await client.send(append(speech(200)))
    await client.until("input_audio_buffer.speech_started")
    done = await client.until("response.done")
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    # Cancelled already: the client's own cancel finds nothing to cancel, as on the service.
    await client.send({"type": "response.cancel"})
    assert (await client.until("error"))["error"]["code"] == "response_cancel_not_active"


async def test_create_response_false_commits_without_answering(autojump_clock: trio.abc.Clock) -> None:
    client = await open_vad_client("ga", create_response=False, interrupt_response=False)
    await client.send(append(speech(600) + quiet(700)))
    await client.until("input_audio_buffer.committed")
    assert "response.created" not in [e["type"] for e in await client.drain(3)]


async def test_without_turn_detection_speech_is_only_buffered(autojump_clock: trio.abc.Clock) -> None:
    client = await PeerClient.open(InMemoryModelConnector(SCRIPT, "ga"))  # turn_detection: null, as callrt sets it
    await client.send(append(speech(800) + quiet(800)))
    assert [e["type"] for e in await client.drain(3)] == []
    await client.send({"type": "input_audio_buffer.commit"})
    assert (await client.until("input_audio_buffer.committed"))["previous_item_id"] is None


async def test_the_default_session_runs_the_vad_on_pcm16(autojump_clock: trio.abc.Clock) -> None:
    """A client that never sends a session.update gets the service's default: server VAD on 24 kHz PCM16."""
    client = await PeerClient.open(InMemoryModelConnector(SCRIPT, "ga"), configure=False)
    await client.send(append(pcm24k(speech(500) + quiet(600))))
    await client.until("input_audio_buffer.speech_stopped")
    await client.until("response.done")
