"""One call, start to end: `run_call` opens the call's nursery, creates its
mailboxes, pumps the caller's line into the AudioActor, runs the four actors
under their child specs, and ends the call on hang-up (either side) or
escalation with every mailbox closed, no task left and the trace flushed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

import attrs
import trio

from store import Store, StoreError

from .appointment_nlp import Extractor, RuleExtractor
from .audio_actor import AudioActor
from .booking_actor import BookingActor
from .call_context import CallContext, CallMailboxes, Language
from .callback_writer import CallbackWriter, promise_callback
from .config import CallConfig
from .db import StoreGateway
from .messages import CallerFrame, EndCall, EndedBy, ServerNote
from .nlp_actor import NlpActor
from .ports import CallerLine, LineClosed, ModelConnector
from .realtime_actor import RealtimeActor
from .runtime_voice import say_runtime_line
from .session_row import keep_opening, open_within
from .supervision import ChildSpec, Escalation, describe, supervise
from .trace import Trace

logger = logging.getLogger(__name__)

HANG_UP_TIMEOUT_S = 2.0
SESSION_LAST_ATTEMPT_S = 5.0
"""How long an ending call still tries to create a session row it never got (then ends it)."""


@attrs.frozen
class CallOutcome:
    call_sid: str
    ended_by: EndedBy
    reason: str
    duration_ms: float
    restarts: tuple[tuple[str, float], ...]
    """(actor, call-relative ms) for every restart."""
    degraded: tuple[str, ...]


def default_child_specs(
    ctx: CallContext, line: CallerLine, model: ModelConnector, extractor: Extractor
) -> list[ChildSpec]:
    """Audio and realtime are the call itself; NLP and booking may degrade to a callback promise."""
    return [
        ChildSpec("audio", lambda: AudioActor(ctx, line), max_restarts=3, within_s=30.0),
        ChildSpec("realtime", lambda: RealtimeActor(ctx, model), max_restarts=3, within_s=60.0),
        ChildSpec(
            "nlp", lambda: NlpActor(ctx, extractor), max_restarts=3, within_s=60.0, on_exhausted=Escalation.DEGRADE
        ),
        ChildSpec("booking", lambda: BookingActor(ctx), max_restarts=3, within_s=60.0, on_exhausted=Escalation.DEGRADE),
    ]


class CallSupervisor:
    """Owns the end of the call and the reaction to escalations."""

    def __init__(self, ctx: CallContext, line: CallerLine) -> None:
        self.ctx = ctx
        self.line = line
        self.degraded: list[str] = []
        self.restarts: list[tuple[str, float]] = []
        self._supervisor_box = ctx.mailboxes.supervisor.outbox("supervisor")
        self._realtime_box = ctx.mailboxes.realtime.outbox("supervisor")
        self._audio_box = ctx.mailboxes.audio.outbox("supervisor")

    def on_restart(self, spec: ChildSpec, _attempt: int) -> None:
        self.restarts.append((spec.name, self.ctx.trace.now_ms()))

    def on_escalate(self, spec: ChildSpec, failure: BaseException | None) -> None:
        why = describe(failure) if failure is not None else "stopped"
        if spec.on_exhausted is Escalation.DEGRADE:
            self.degraded.append(spec.name)
            self.ctx.log("supervisor", f"{spec.name} gave up ({why}); booking degraded to a callback promise")
            self._realtime_box.send_nowait(
                ServerNote(kind="booking_unavailable", text=f"booking_unavailable reason={spec.name}_failed")
            )
        elif spec.name == "realtime":
            # The model is out of reach: the caller still hears words (the runtime's own), and is called back.
            self.ctx.log("supervisor", f"realtime gave up ({why}); the caller hears the handoff line")
            self.ctx.trace.record("call_failed", reason="model_unavailable")
            promise_callback(self.ctx, "model_unavailable", "(the model was unavailable: nothing could be asked)")
            say_runtime_line(self.ctx, self._audio_box, "handoff", hang_up="model_unavailable")
        else:
            self.ctx.log("supervisor", f"{spec.name} gave up ({why}); ending the call")
            self._supervisor_box.send_nowait(EndCall(by="supervisor", reason=f"{spec.name}_failed"))

    async def pump_line(self) -> None:
        """Caller line -> AudioActor mailboxes, until the caller hangs up."""
        frames = self.ctx.mailboxes.audio_frames.outbox("line")
        control = self.ctx.mailboxes.audio.outbox("line")
        try:
            while True:
                event = await self.line.receive()
                if isinstance(event, CallerFrame):
                    owed = frames.hand_over(event)
                    if owed is not None:  # the frame's handling queued a write (a barge-in's clear)
                        await owed()
                else:
                    control.send_nowait(event)
        except LineClosed as closed:
            self._supervisor_box.send_nowait(EndCall(by="caller", reason=str(closed) or "hangup"))
        except Exception as exc:  # a broken transport is a lost line, not a crash of the call
            self.ctx.trace.record("io_error", peer="caller", error=describe(exc))
            self._supervisor_box.send_nowait(EndCall(by="caller", reason="line_lost"))

    async def load_voice_lines(self) -> None:
        """The business's audio for the runtime's lines, read once as the call starts and never waited for:
        a line said before it arrives, or when the database failed, is the packaged prompt."""
        ctx = self.ctx
        try:
            stored = await ctx.gateway.run(ctx.store.voice_lines, ctx.business_id, ctx.config.voice)
        except StoreError as exc:
            ctx.log("supervisor", f"voice_lines failed ({exc}); the runtime's lines are the packaged prompts")
            return
        ctx.voice_lines.load(stored, ctx.language)
        found = sorted({f"{v.line}:{v.source}" for v in stored if v.language == ctx.language})
        ctx.trace.record("voice_lines_loaded", lines=found)

    async def end_politely(self, goodbye_now: trio.Event | None) -> None:
        """At `max_call_s`, or when the server asks (draining), the caller hears the goodbye, then the line
        closes once it was heard. The runtime says it itself: the model may be the reason the call is long."""
        reason = "max_duration"
        with trio.move_on_after(self.ctx.config.max_call_s):
            if goodbye_now is None:
                await trio.sleep_forever()
            await goodbye_now.wait()
            reason = "draining"
        self.ctx.log("supervisor", f"ending the call politely ({reason})")
        say_runtime_line(self.ctx, self._audio_box, "goodbye", hang_up=reason)

    async def hang_up_line(self) -> None:
        with trio.move_on_after(HANG_UP_TIMEOUT_S) as scope:
            scope.shield = True
            try:
                await self.line.hang_up()
            except Exception as exc:  # the line may already be gone; the call ends either way
                self.ctx.trace.record("io_error", peer="caller", error=describe(exc))


async def run_call(
    *,
    call_sid: str,
    business_id: int,
    line: CallerLine,
    model: ModelConnector,
    store: Store,
    extractor: Extractor | None = None,
    caller_phone: str | None = None,
    language: Language = "he",
    config: CallConfig | None = None,
    now: Callable[[], dt.datetime] | None = None,
    trace: Trace | None = None,
    gateway: StoreGateway | None = None,
    child_specs: Callable[[CallContext], Sequence[ChildSpec]] | None = None,
    goodbye_now: trio.Event | None = None,
    task_status: trio.TaskStatus[CallContext] = trio.TASK_STATUS_IGNORED,
) -> CallOutcome:
    """Run one call to its end and return how it ended.

    `child_specs` replaces the default four actors (tests and embedders supervising
    their own actors); `goodbye_now` set (a draining server) ends the call with the goodbye, as its
    maximum duration (`config.max_call_s`) does; `task_status` hands the call's context to `nursery.start`
    callers (the scenario runner injects faults through its mailboxes).
    """
    config = config or CallConfig()
    trace = trace or Trace(call_sid)
    gateway = gateway or StoreGateway()
    ctx = CallContext(
        call_sid=call_sid,
        business_id=business_id,
        caller_phone=caller_phone,
        language=language,
        config=config,
        trace=trace,
        gateway=gateway,
        store=store,
        now=now or (lambda: dt.datetime.now(dt.UTC)),
        mailboxes=CallMailboxes.create(trace, config),
    )
    supervisor = CallSupervisor(ctx, line)
    callbacks = CallbackWriter(ctx)
    specs = child_specs(ctx) if child_specs else default_child_specs(ctx, line, model, extractor or RuleExtractor())
    started = trio.current_time()
    trace.record("call_start", call_sid=call_sid, business_id=business_id, language=language)
    if await _store_quietly(ctx, "start_call_session", store.start_call_session, call_sid, business_id, caller_phone):
        ctx.session.opened()
    end = EndCall(by="supervisor", reason="cancelled")  # until an EndCall arrives
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(supervisor.load_voice_lines, name=f"{call_sid}:voice_lines")
            if ctx.session.state == "pending":
                # The call starts anyway (the caller is waiting); its turns are held until the session row
                # exists, which is retried for as long as the call lasts.
                nursery.start_soon(keep_opening, ctx, name=f"{call_sid}:session")
            for spec in specs:
                nursery.start_soon(
                    supervise,
                    spec,
                    trace,
                    supervisor.on_escalate,
                    supervisor.on_restart,
                    name=f"{call_sid}:{spec.name}",
                )
            nursery.start_soon(supervisor.pump_line, name=f"{call_sid}:line")
            nursery.start_soon(callbacks.run, name=f"{call_sid}:callbacks")
            nursery.start_soon(supervisor.end_politely, goodbye_now, name=f"{call_sid}:goodbye")
            task_status.started(ctx)
            end = await ctx.mailboxes.supervisor.receive()
            if end.by != "caller":
                await supervisor.hang_up_line()
            nursery.cancel_scope.cancel()
    finally:
        ctx.mailboxes.close_all()
        duration_ms = (trio.current_time() - started) * 1000.0
        await callbacks.flush()
        trace.record("call_end", by=end.by, reason=end.reason, duration_ms=round(duration_ms, 3))
        # The end is written only to a row that exists: one still missing gets a last, bounded chance first.
        if await open_within(ctx, SESSION_LAST_ATTEMPT_S):
            with trio.CancelScope(shield=True):
                await _store_quietly(
                    ctx, "end_call_session", store.end_call_session, call_sid, f"{end.by}:{end.reason}", retry=True
                )
        else:
            ctx.log("supervisor", f"no session row for this call ({ctx.session.state}): its record is lost")
            logger.error("%s: the call ended without a session row; nothing of it is stored", call_sid)
        trace.close()
    return CallOutcome(
        call_sid=call_sid,
        ended_by=end.by,
        reason=end.reason,
        duration_ms=duration_ms,
        restarts=tuple(supervisor.restarts),
        degraded=tuple(supervisor.degraded),
    )


async def _store_quietly(
    ctx: CallContext, what: str, fn: Callable[..., object], *args: object, retry: bool = False
) -> bool:
    """Session bookkeeping must never stop a call: a failing database is logged and the call goes on.
    `retry`: retried with the gateway's backoff while the database is unavailable (the session's end: a
    session never ended is closed as `interrupted` at the next start, but its real outcome is lost)."""

    def retrying(error: StoreError, delay: float) -> None:
        ctx.log("supervisor", f"{what} failed ({error}); retrying in {delay:g} s")

    try:
        if retry:
            await ctx.gateway.run_retrying(retrying, fn, *args)
        else:
            await ctx.gateway.run(fn, *args)
    except StoreError as exc:
        ctx.log("supervisor", f"{what} failed: {exc}")
        return False
    return True


__all__ = ["CallOutcome", "CallSupervisor", "default_child_specs", "run_call"]
