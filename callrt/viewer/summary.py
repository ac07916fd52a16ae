"""One call's summary for a person: who called, what came of it, and the conversation.

`call_summary(events)` is what `callrt trace summary`, the viewer's header and conversation
panel, and the trace list show (as JSON, `SUMMARY_VERSION` 1). The turns come from the
scenario checks' own readings of a trace (`callrt.scenario.invariants`: AI turns and what the
caller heard of them, committed utterances, server notes), the outcome from
`callrt.scenario.outcome`.

`read_summary_events(path)` reads a trace for it without decoding the bulk of the file: the
JSON of mailbox receives, aggregated audio windows, frame-lag samples and most external I/O is
never parsed, which keeps a 30-minute trace's summary well under a second.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from callrt.scenario.invariants import Event, ai_turns, heard_text, server_note_texts, user_turns
from callrt.scenario.outcome import call_outcome
from callrt.viewer.trace_files import open_trace

SUMMARY_VERSION = 1
RTL_LANGUAGES = frozenset({"he", "iw", "ar", "fa", "ur", "yi"})

_KIND = re.compile(r'"ev":\s*"([A-Za-z_]+)"')
_TYPE = re.compile(r'"type":\s*"([^"]+)"')
_SKIPPED_KINDS = frozenset({"recv", "audio", "frame_lag", "audio_state", "send_after_close"})
_KEPT_SENDS = frozenset({"BookingRequest"})
_KEPT_IO = frozenset({"media", "input_audio_buffer.commit", "input_audio_buffer.committed", "response.create"})
"""External I/O the turn readings need: the caller's AI audio (its length), and the commits
and responses that say which utterance each transcript belongs to."""


def _needed(line: str) -> bool:
    kind = _KIND.search(line, 0, 120)
    if kind is None:
        return True  # odd formatting: decode it and let the readers decide
    name = kind.group(1)
    if name in _SKIPPED_KINDS:
        return False
    if name in ("send", "io"):
        found = _TYPE.search(line)
        return found is not None and found.group(1) in (_KEPT_SENDS if name == "send" else _KEPT_IO)
    return True


def read_summary_events(path: Path) -> list[Event]:
    """The events of the trace at `path` that a summary reads, in order; unreadable lines are skipped."""
    events: list[Event] = []
    with os.fdopen(open_trace(path), encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not _needed(line):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a cut-off last line of a trace still being written
            if isinstance(event, dict):
                events.append(event)
    return events


def _ms(value: Any) -> float:
    return round(float(value), 1)


def _first(events: Sequence[Event], ev: str) -> Event:
    return next((e for e in events if e.get("ev") == ev), {})


def _caller(meta: dict[str, Any], requests: Sequence[Event]) -> dict[str, Any]:
    phone = meta.get("caller_phone")
    name = None
    for request in requests:
        fields = request.get("fields") or {}
        phone = phone or fields.get("phone")
        name = fields.get("name") or name
    return {"phone": phone or None, "name": name}


def _business_id(meta: dict[str, Any], start: Event) -> int | None:
    business_id = meta.get("business_id", start.get("business_id"))
    return business_id if isinstance(business_id, int) and not isinstance(business_id, bool) else None


def _business(meta: dict[str, Any], start: Event) -> str:
    if meta.get("business"):
        return str(meta["business"])
    business_id = meta.get("business_id", start.get("business_id"))
    return f"business #{business_id}" if business_id is not None else "unknown"


def _user_entries(events: Sequence[Event]) -> list[dict[str, Any]]:
    return [
        {
            "kind": "caller",
            "t": _ms(utterance["at_ms"] if utterance else event["t"]),
            "seq": event.get("seq", 0),
            "text": str(event.get("text", "")),
            "item_id": str(event.get("item_id", "")),
            "duration_ms": _ms(utterance["duration_ms"]) if utterance else None,
        }
        for event, utterance in user_turns(events)
    ]


_AFTER_ALL = 1 << 62
"""An AI turn starts after whatever else happened at its instant (the note or turn it answers)."""


def _ai_entries(events: Sequence[Event]) -> list[dict[str, Any]]:
    entries = []
    for turn in ai_turns(events):
        heard = heard_text(turn) if turn["interrupted"] else turn["text"]
        entries.append(
            {
                "kind": "ai",
                "t": _ms(turn["started_t"]),
                "seq": _AFTER_ALL,
                "text": turn["text"],
                "heard": heard,
                "interrupted": turn["interrupted"],
                "item_id": turn["item_id"],
                "audio_ms": _ms(turn["audio_ms"]),
                "heard_ms": _ms(turn["heard_ms"]),
            }
        )
    return entries


def _request_words(fields: dict[str, Any]) -> str:
    parts = [str(fields.get("kind", "request")).replace("_", " ")]
    if fields.get("start"):
        parts.append(f"for {str(fields['start'])[:16].replace('T', ' ')}")
    if fields.get("name"):
        parts.append(f"name {fields['name']}")
    if fields.get("phone"):
        parts.append(f"phone {fields['phone']}")
    return ", ".join(parts)


def _system_entry(event: Event) -> dict[str, Any] | None:
    ev = event.get("ev")
    if ev == "crash":
        text = f"{event.get('actor')} crashed: {event.get('error')}"
    elif ev == "restart":
        text = f"{event.get('actor')} restarted (attempt {event.get('attempt')})"
    elif ev == "escalate":
        text = f"{event.get('actor')} kept failing: {event.get('action')}"
    elif ev == "realtime" and event.get("what") == "false_claim_cut":
        text = f"false {event.get('claim')} claim cut: «{event.get('text', '')}»"
    elif ev == "realtime" and event.get("what") == "model_disconnected":
        text = "the model disconnected"
    elif ev == "call_end":
        text = f"call ended by {event.get('by')} ({event.get('reason')})"
    else:
        return None
    return {"kind": "event", "t": _ms(event["t"]), "seq": event.get("seq", 0), "what": str(ev), "text": text}


def conversation(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Caller and AI turns, server notes, booking requests, ignored noise and supervision, in time order."""
    entries = _user_entries(events) + _ai_entries(events)
    notes = [e for e in events if e.get("ev") == "realtime" and e.get("what") == "note_injected"]
    for (t, text), note in zip(server_note_texts(events), notes, strict=True):
        entries.append({"kind": "note", "t": _ms(t), "seq": note.get("seq", 0), "note": note.get("kind"), "text": text})
    for event in events:
        ev = event.get("ev")
        if ev == "send" and event.get("type") == "BookingRequest":
            fields = event.get("fields") or {}
            entries.append(
                {"kind": "action", "t": _ms(event["t"]), "seq": event.get("seq", 0), "text": _request_words(fields)}
            )
        elif ev == "ignored_segment":
            entries.append(
                {
                    "kind": "noise",
                    "t": _ms(event.get("at_ms", event["t"])),
                    "seq": event.get("seq", 0),
                    "duration_ms": _ms(event.get("duration_ms", 0)),
                    "text": f"noise ignored ({float(event.get('duration_ms', 0)):.0f} ms)",
                }
            )
        elif (entry := _system_entry(event)) is not None:
            entries.append(entry)
    entries.sort(key=lambda entry: (entry["t"], entry["seq"]))
    for entry in entries:
        del entry["seq"]
    return entries


def _count(events: Sequence[Event], ev: str, what: str | None = None) -> int:
    return sum(1 for e in events if e.get("ev") == ev and (what is None or e.get("what") == what))


def call_summary(events: Sequence[Event]) -> dict[str, Any]:
    """The summary of one call's trace: its events as JSON objects (all, or those `read_summary_events` keeps)."""
    header = _first(events, "trace_start")
    start = _first(events, "call_start")
    end = next((e for e in reversed(events) if e.get("ev") == "call_end"), None)
    meta = header.get("meta") if isinstance(header.get("meta"), dict) else {}
    assert isinstance(meta, dict)
    language = str(start.get("language") or meta.get("language") or "")
    last_t = max((float(e["t"]) for e in events if isinstance(e.get("t"), int | float)), default=0.0)
    requests = [e for e in events if e.get("ev") == "send" and e.get("type") == "BookingRequest"]
    return {
        "version": SUMMARY_VERSION,
        "call_sid": str(header.get("call_sid") or start.get("call_sid") or ""),
        "scenario": meta.get("scenario"),
        "caller": _caller(meta, requests),
        "business": _business(meta, start),
        "business_id": _business_id(meta, start),
        "language": language or None,
        "direction": "rtl" if language.split("-")[0] in RTL_LANGUAGES else "ltr",
        "started": header.get("wall_start"),
        "duration_ms": _ms(end["duration_ms"]) if end and end.get("duration_ms") else _ms(last_t),
        "ended": {"by": end.get("by"), "reason": end.get("reason")} if end else None,
        "outcome": call_outcome(events).to_json(),
        "counts": {
            "barge_ins": _count(events, "barge_in"),
            "ignored_noises": _count(events, "ignored_segment"),
            "silence_prompts": _count(events, "realtime", "silence_prompt"),
            "restarts": _count(events, "restart"),
            "claims_cut": _count(events, "realtime", "false_claim_cut"),
        },
        "conversation": conversation(events),
    }


def summarise_file(path: Path) -> dict[str, Any]:
    return call_summary(read_summary_events(path))
