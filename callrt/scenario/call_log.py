"""A call's trace as a readable call log: who said what, and the runtime's own log lines."""

from __future__ import annotations

from collections.abc import Sequence

from callrt.scenario.invariants import Event, ai_turns


def _stamp(t: float) -> str:
    return f"[{t / 1000.0:7.2f}s]"


def _short(text: str, limit: int = 110) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def call_log_lines(events: Sequence[Event]) -> list[str]:
    lines: list[str] = []
    turns = {turn["t"]: turn for turn in ai_turns(events)}
    for event in events:
        ev, t = event.get("ev"), float(event.get("t", 0.0))
        if ev == "log":
            lines.append(f"{_stamp(t)} {event.get('actor', '?'):>10}  {event.get('msg', '')}")
        elif ev == "realtime" and event.get("what") == "ai_turn" and t in turns:
            turn = turns[t]
            cut = (
                f" (interrupted: heard {turn['heard_ms']:.0f} of {turn['audio_ms']:.0f} ms)"
                if turn["interrupted"]
                else ""
            )
            lines.append(f"{_stamp(turn['started_t'])} {'AI':>10}  «{turn['text']}»{cut}")
        elif ev == "barge_in":
            lines.append(
                f"{_stamp(t)} {'audio':>10}  [TURN] barge-in: caller voice since"
                f" {float(event.get('speech_at_ms', 0)) / 1000:.2f}s -> Twilio clear; the caller heard"
                f" {event.get('audio_end_ms')} ms of the AI's reply"
            )
        elif ev == "realtime" and event.get("what") == "user_turn":
            lines.append(f"{_stamp(t)} {'realtime':>10}  Transcription completed: «{event.get('text', '')}»")
        elif ev == "realtime" and event.get("what") == "note_injected":
            lines.append(f"{_stamp(t)} {'realtime':>10}  {_short(str(event.get('text', '')))}")
        elif ev in ("crash", "restart", "escalate"):
            detail = event.get("error") or event.get("action") or f"attempt {event.get('attempt')}"
            lines.append(f"{_stamp(t)} {'supervisor':>10}  {ev} {event.get('actor')}: {detail}")
        elif ev == "call_end":
            lines.append(f"{_stamp(t)} {'call':>10}  ended by {event.get('by')} ({event.get('reason')})")
    return lines
