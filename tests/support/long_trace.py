"""A long call's trace, made by repeating the conversation of a real scenario run.

The first `body_ms` of a scenario trace (greeting, caller turn, answers: the busiest part of a
call) is laid end to end until the call lasts `minutes`, every copy shifted in time, `seq`,
mailbox ids and item/response ids so that sends still match their receives and turns their
audio; the original's end closes it. Every line keeps the exact format the runtime writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_TIMES = ("t", "at_ms", "speech_at_ms", "clear_at_ms", "since")
_IDS = ("item_id", "response_id", "turn_id", "request_id")


def _shifted(event: dict[str, Any], offset_ms: float, copy: int, id_step: int) -> dict[str, Any]:
    out = dict(event)
    for key in _TIMES:
        if isinstance(out.get(key), int | float):
            out[key] = round(out[key] + offset_ms, 3)
    for key in _IDS:
        if isinstance(out.get(key), str):
            out[key] = f"{out[key]}-{copy}"
    if isinstance(out.get("id"), int) and out.get("ev") in ("send", "recv"):
        out["id"] = out["id"] + copy * id_step
    if isinstance(out.get("fields"), dict):
        out["fields"] = _shifted(out["fields"], offset_ms, copy, id_step)
    return out


def write_long_trace(source: Path, out: Path, *, minutes: float = 30.0, body_ms: float = 12_000.0) -> Path:
    lines = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    header, events = lines[0], lines[1:]
    body = [e for e in events if float(e["t"]) < body_ms and e["ev"] not in ("trace_end", "call_end")]
    tail = [e for e in events if e["ev"] in ("call_end", "trace_end")]
    id_step = 1 + max((int(e["id"]) for e in body if isinstance(e.get("id"), int)), default=0)
    total_ms = minutes * 60_000.0
    copies = int(total_ms // body_ms)
    seq = 0
    with out.open("w", encoding="utf-8") as file:
        file.write(json.dumps(header, ensure_ascii=False) + "\n")
        for copy in range(copies):
            for event in body:
                seq += 1
                event = _shifted(event, copy * body_ms, copy, id_step) | {"seq": seq}
                file.write(json.dumps(event, ensure_ascii=False) + "\n")
        for event in tail:
            seq += 1
            event = dict(event, t=copies * body_ms, seq=seq)
            if event["ev"] == "call_end":
                event["duration_ms"] = copies * body_ms
            file.write(json.dumps(event, ensure_ascii=False) + "\n")
    return out
