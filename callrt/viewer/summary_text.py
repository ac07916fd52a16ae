"""A call's summary (`callrt.viewer.summary`) as plain text, for a terminal or a ticket."""

from __future__ import annotations

from typing import Any

_LABELS = {"caller": "caller", "ai": "AI", "note": "note", "action": "request", "noise": "noise", "event": "call"}
_COUNTS = {
    "barge_ins": "barge-ins",
    "ignored_noises": "ignored noises",
    "silence_prompts": "silence prompts",
    "restarts": "restarts",
    "claims_cut": "claims cut",
}


def clock(ms: float) -> str:
    """Call-relative time as `m:ss.s`."""
    seconds = max(0.0, ms) / 1000.0
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _entry_text(entry: dict[str, Any]) -> str:
    if entry["kind"] != "ai" or not entry["interrupted"]:
        return str(entry["text"])
    unheard = str(entry["text"])[len(entry["heard"]) :]
    cut = f"[interrupted: heard {entry['heard_ms'] / 1000:.1f} of {entry['audio_ms'] / 1000:.1f} s"
    return f"{entry['heard']} {cut}" + (f"; not heard: {unheard.strip()}]" if unheard.strip() else "]")


def header_lines(summary: dict[str, Any]) -> list[str]:
    caller = " ".join(str(v) for v in (summary["caller"]["phone"], summary["caller"]["name"]) if v) or "unknown"
    started = str(summary["started"] or "?")[:19].replace("T", " ")
    call = summary["call_sid"] + (f"  (scenario {summary['scenario']})" if summary.get("scenario") else "")
    counts = " · ".join(f"{label} {summary['counts'][key]}" for key, label in _COUNTS.items())
    return [
        f"call      {call}",
        f"caller    {caller}",
        f"business  {summary['business']}",
        f"language  {summary['language'] or '?'}",
        f"started   {started} UTC",
        f"duration  {clock(summary['duration_ms'])}",
        f"outcome   {summary['outcome']['words']}",
        f"counts    {counts}",
    ]


def summary_text(summary: dict[str, Any]) -> str:
    lines = header_lines(summary)
    lines += ["", "conversation"]
    for entry in summary["conversation"]:
        lines.append(f"  {clock(entry['t']):>7}  {_LABELS.get(entry['kind'], entry['kind']):<8} {_entry_text(entry)}")
    return "\n".join(lines) + "\n"
