"""The runtime speaking for itself: one of its own lines played to the caller, then (optionally) the hang-up.

Used when the model cannot speak (refused, unreachable or frozen: the handoff line) and when the server
ends a call (the goodbye). The audio goes to the AudioActor as AI audio of an item of its own
(`runtime-<line>-<n>`), so it is paced, marked and heard like the model's; `HangUpAfterPlayout` then
ends the call once the caller heard it.
"""

from __future__ import annotations

import itertools

from .call_context import CallContext
from .mailbox import Outbox
from .messages import AiAudio, AiAudioDone, AudioControl, HangUpAfterPlayout
from .runtime_lines import RuntimeLine, chunks, duration_ms, packaged_line

_items = itertools.count(1)


def say_runtime_line(
    ctx: CallContext, audio_box: Outbox[AudioControl], line: RuntimeLine, *, hang_up: str | None = None
) -> str:
    """Queue the line's audio for the caller (and the hang-up after it, with reason `hang_up`); its item id."""
    audio = packaged_line(line, ctx.language)
    item_id = f"runtime-{line}-{next(_items)}"
    ctx.trace.record("runtime_line", line=line, item_id=item_id, source="packaged", ms=round(duration_ms(audio)))
    for chunk in chunks(audio):
        audio_box.send_nowait(AiAudio(response_id=item_id, item_id=item_id, payload=chunk))
    audio_box.send_nowait(AiAudioDone(response_id=item_id, item_id=item_id))
    if hang_up is not None:
        audio_box.send_nowait(HangUpAfterPlayout(reason=hang_up))
    return item_id
