"""How fast this machine runs the server's kind of work: one number that makes bench figures from
different machines, or from different days of a shared virtual machine, comparable.

The server's CPU is spent in CPython's bytecode loop (see docs/performance.md), and a shared host's
interpreter speed can change by half from one day to the next. The probe times the kind of work every
media frame pays, parsing an inbound Twilio `media` message, on the CPU the server will run on; CPU
figures scale with it. The work is fixed, the standard library's JSON and base64 as
`callrt.telephony.media.parse_event` did them until it moved to orjson, so the probe does not move when the
server's own code gets faster.
"""

from __future__ import annotations

import base64
import json
import os
import timeit

PROBE_NUMBER = 20_000
PROBE_REPEAT = 5


def _media_message() -> str:
    payload = base64.b64encode(bytes(range(160))).decode("ascii")
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": "42",
            "media": {"track": "inbound", "chunk": "41", "timestamp": "820", "payload": payload},
            "streamSid": "MZ" + "0" * 32,
        }
    )


def _parse(message: str) -> bytes:
    media = json.loads(message)["media"]
    int(media["timestamp"]), int(media["chunk"])
    return base64.b64decode(media["payload"], validate=True)


def probe_us(cpus: set[int] | None) -> float:
    """Microseconds to parse one inbound media message, best of several runs, on `cpus` (if given)."""
    message = _media_message()
    saved = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        best = min(timeit.repeat(lambda: _parse(message), number=PROBE_NUMBER, repeat=PROBE_REPEAT))
    finally:
        os.sched_setaffinity(0, saved)
    return round(best / PROBE_NUMBER * 1e6, 3)
