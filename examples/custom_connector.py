"""A model connector of your own: `actors.ModelConnector` is two members (`dialect`, `connect()`), and the
connection it opens is three methods (`send`, `receive`, `aclose`) over Realtime events as plain dicts.

`TranscriptLog` wraps any connector and keeps what was said on the call (the caller's transcriptions and the
AI's spoken text, the audio left out): an audit log kept by the embedder, whichever model answers. Run it:

    python examples/custom_connector.py

It plays one call in virtual time: the simulated caller asks for an appointment, the simulated model (behind
the wrapper) answers, and the transcript is printed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import trio
import trio.testing

from actors import ModelConnection, ModelConnector, StoreGateway, run_call
from callrt import InMemoryModelConnector, SimScript, SimulatedCaller, TwilioCallerLine, memory_transport_pair
from store import Store, ensure_demo_business

SPOKEN = {
    "conversation.item.input_audio_transcription.completed": ("caller", "transcript"),
    "response.output_audio_transcript.done": ("ai", "transcript"),  # GA spelling
    "response.audio_transcript.done": ("ai", "transcript"),  # beta spelling
}


class LoggedConnection:
    """One model session; every server event passes through `receive`, where the spoken text is noted."""

    def __init__(self, inner: ModelConnection, transcript: list[tuple[str, str]]) -> None:
        self._inner = inner
        self._transcript = transcript

    async def send(self, event: Mapping[str, Any]) -> None:
        await self._inner.send(event)

    async def receive(self) -> dict[str, Any]:
        event = await self._inner.receive()
        spoken = SPOKEN.get(str(event.get("type")))
        if spoken is not None:
            self._transcript.append((spoken[0], str(event.get(spoken[1], ""))))
        return event

    async def aclose(self) -> None:
        await self._inner.aclose()


class TranscriptLog:
    """A `ModelConnector` around another: the same model, with the call's words kept in `transcript`."""

    def __init__(self, inner: ModelConnector) -> None:
        self._inner = inner
        self.transcript: list[tuple[str, str]] = []

    @property
    def dialect(self) -> str:
        return self._inner.dialect

    async def connect(self) -> ModelConnection:
        return LoggedConnection(await self._inner.connect(), self.transcript)


SCENARIO = {
    "language": "en",
    "business": {"name": "Barber Avi"},
    "script": [
        {"wait": "ai_done"},
        {"say": "I'd like an appointment tomorrow at six pm, my name is Dana", "ms": 2600},
        {"wait": "ai_done"},
        {"hangup": True},
    ],
}


async def one_call(store: Store) -> list[tuple[str, str]]:
    """One whole call through `TranscriptLog`; returns its transcript."""
    script = SimScript.from_scenario(SCENARIO)
    model = TranscriptLog(InMemoryModelConnector(script, "ga"))
    caller_end, server_end = memory_transport_pair()
    caller = SimulatedCaller(caller_end, SCENARIO["script"], sim_script=script.to_json())
    line = TwilioCallerLine(server_end)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller.run)
        start = await line.read_start()
        await run_call(
            call_sid=start.call_sid,
            business_id=ensure_demo_business(store),
            line=line,
            model=model,
            store=store,
            language="en",
            gateway=StoreGateway(inline=True),  # the store in this thread: virtual time must not outrun a worker
        )
    return model.transcript


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'calls.db'}")
        store.init_schema()
        try:
            transcript = trio.run(one_call, store, clock=trio.testing.MockClock(autojump_threshold=0))
        finally:
            store.dispose()
    for who, text in transcript:
        print(f"{who:>6}: {text}")


if __name__ == "__main__":
    main()
