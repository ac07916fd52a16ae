"""The runtime speaking for itself: its own lines played to the caller, then (optionally) the hang-up.

Used when the model is given up (the handoff line, then the goodbye), when the model is late for a line
the runtime owns (the opening, "are you still on the line?", the silence goodbye) and when the server
ends a call (the goodbye). Each line's audio is the business's (uploaded, or the model's
first) or the packaged prompt (`runtime_lines.VoiceLines`); it goes to the AudioActor as AI audio of an
item of its own (`runtime-<line>-<n>`), so it is paced, marked and heard like the model's, and the trace
says which audio played (`runtime_line`, with its `source`). `HangUpAfterPlayout` then ends the call once
the caller heard it.
"""

from __future__ import annotations

import itertools

from .call_context import CallContext
from .mailbox import Outbox
from .messages import AiAudio, AiAudioDone, AudioControl, HangUpAfterPlayout
from .runtime_lines import RuntimeLine, chunks, duration_ms

_items = itertools.count(1)

SPOKEN: dict[RuntimeLine, tuple[RuntimeLine, ...]] = {"handoff": ("handoff", "goodbye")}
"""What the caller hears for a line, when more than the line itself: the handoff line ends with the goodbye."""


def say_runtime_line(
    ctx: CallContext, audio_box: Outbox[AudioControl], line: RuntimeLine, *, hang_up: str | None = None
) -> list[str]:
    """Queue the line's audio for the caller (and the hang-up after it, with reason `hang_up`); its item ids
    (none for a line the runtime has no audio of: the opening before the business has any)."""
    items = []
    for part in SPOKEN.get(line, (line,)):
        found = ctx.voice_lines.audio(part, ctx.language)
        if found is None:
            continue
        source, audio = found
        item_id = f"runtime-{part}-{next(_items)}"
        ctx.trace.record("runtime_line", line=part, item_id=item_id, source=source, ms=round(duration_ms(audio)))
        for chunk in chunks(audio):
            audio_box.send_nowait(AiAudio(response_id=item_id, item_id=item_id, payload=chunk))
        audio_box.send_nowait(AiAudioDone(response_id=item_id, item_id=item_id))
        items.append(item_id)
    if hang_up is not None:
        audio_box.send_nowait(HangUpAfterPlayout(reason=hang_up))
    return items
