"""One accepted media stream's call, from its plan to its end.

`TelephonyServer` admits a stream (token, call slot, the CallSid's claim); this module runs what
follows: the call's plan (model, NLP, language), its trace file, `run_call` (or, with `relay`, the
benchmark's bare relay), and what a call leaves behind it: the counters of `/metrics` and one log
line read off its outcome, INFO for a call the caller could use, ERROR for one they could not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
import trio

from actors.call_supervisor import run_call
from actors.config import CallConfig
from actors.db import StoreGateway
from actors.defaults import Language
from actors.supervision import describe
from actors.trace import trace_file
from callrt.loadtest.relay import relay_call
from callrt.logsafe import escape_for_log
from callrt.scenario.outcome import call_outcome, runtime_failure
from callrt.server.config import ServerConfig
from callrt.server.metrics import MeteredTrace, Metrics
from callrt.server.plan import CallPlan
from callrt.telephony.media import StreamStart, TwilioCallerLine

if TYPE_CHECKING:
    from store import Store

logger = logging.getLogger("callrt.server.app")
"""The server's logger: a call's start and end are one log for operators, whichever module writes them."""


@attrs.frozen
class CallRunner:
    """Runs the calls of one server: its configuration, store, counters and database threads."""

    config: ServerConfig
    store: Store
    metrics: Metrics
    db_limiter: trio.CapacityLimiter
    call_config: CallConfig = attrs.field(kw_only=True)
    planner: Callable[[ServerConfig, StreamStart], CallPlan] = attrs.field(kw_only=True)
    goodbye_now: trio.Event = attrs.field(kw_only=True)
    """Set by a draining server: every running call says its goodbye and ends."""

    async def run(self, line: TwilioCallerLine, start: StreamStart, business_id: int) -> bool:
        """The call, to its end; False when it was refused instead: a trace of its CallSid exists already."""
        call = escape_for_log(start.call_sid)
        self.metrics.calls_total += 1
        self.metrics.calls_active += 1
        ended_by = "error"
        trace: MeteredTrace | None = None
        started = trio.current_time()
        try:
            plan = self.planner(self.config, start)
            language = plan.language or await self._language_of(business_id)
            trace = self._open_trace(start, plan, business_id, language)
            line.trace = trace
            outcome = await run_call(
                call_sid=start.call_sid,
                business_id=business_id,
                line=line,
                model=plan.model,
                store=self.store,
                caller_phone=start.custom_parameters.get("caller") or None,
                language=language,
                extractor=plan.extractor,
                config=self.call_config,
                trace=trace,
                gateway=StoreGateway(self.db_limiter),
                goodbye_now=self.goodbye_now,
            )
            ended_by = outcome.ended_by
        except FileExistsError:
            ended_by = "refused"
        except Exception as exc:
            # One broken call must never take the server (or the other calls) down with it.
            logger.exception("call %s failed", call)
            if trace is not None:
                trace.record("call_failed", reason="server_error", error=describe(exc)[:300])
        finally:
            self.metrics.calls_active -= 1
            self.metrics.calls_ended[ended_by] += 1
            if ended_by != "refused":
                self._call_ended(call, business_id, trio.current_time() - started, trace)
            if trace is not None:
                trace.close()
        return ended_by != "refused"

    async def relay(self, line: TwilioCallerLine, start: StreamStart) -> None:
        """The call as the bare relay of `callrt bench`'s baseline: no actors, no trace, no store."""
        self.metrics.calls_total += 1
        self.metrics.calls_active += 1
        ended_by = "error"
        try:
            plan = self.planner(self.config, start)
            language = plan.language or self.config.language
            ended_by = await relay_call(line, plan.model, self.metrics, language=language, config=self.call_config)
        except Exception:
            logger.exception("relay call %s failed", escape_for_log(start.call_sid))
        finally:
            self.metrics.calls_active -= 1
            self.metrics.calls_ended[ended_by] += 1

    def _open_trace(self, start: StreamStart, plan: CallPlan, business_id: int, language: str) -> MeteredTrace:
        """The call's trace: a new file (never one that exists) capped in size, or counters only."""
        meta = {
            "stream_sid": start.stream_sid,
            "business_id": business_id,
            "model": type(plan.model).__name__,
            "dialect": plan.model.dialect,
            "language": language,
            "caller_phone": start.custom_parameters.get("caller") or None,  # masked by the trace
        }
        if not self.config.write_traces:
            return MeteredTrace(start.call_sid, None, self.metrics, meta=meta, keep_in_memory=False)
        path = trace_file(self.config.trace_dir, start.call_sid)
        return MeteredTrace(
            start.call_sid, path, self.metrics, meta=meta, max_bytes=self.config.trace_max_bytes, exclusive=True
        )

    def _call_ended(self, call: str, business_id: int, duration_s: float, trace: MeteredTrace | None) -> None:
        """The call's one line at its end, read off its outcome (`callrt.scenario.call_outcome`): INFO, or
        ERROR for a call the caller could not use, which is also counted in `callrt_calls_failed_total{reason}`
        (once per call, here)."""
        outcome = call_outcome(trace.outcome_events) if trace is not None else runtime_failure("server_error")
        appointment = escape_for_log(outcome.appointment_id, 32) if outcome.appointment_id else "none"
        facts = f"business={business_id} duration={duration_s:.1f}s appointment={appointment}"
        words = escape_for_log(outcome.words, 400)
        if outcome.kind != "failed":
            logger.info("call %s ended: %s (%s)", call, words, facts)
            return
        reason = outcome.reason or "unknown"
        self.metrics.calls_failed[reason] += 1
        logger.error("call %s failed (%s): %s (%s)", call, reason, words, facts)

    async def _language_of(self, business_id: int) -> Language:
        """The business's language, read as the call starts (a change saved later is for the next call)."""
        try:
            settings = await trio.to_thread.run_sync(self.store.get_business, business_id, limiter=self.db_limiter)
        except Exception as exc:  # the call still goes on, in the server's default language
            logger.warning("business %d: language unavailable (%s); using %s", business_id, exc, self.config.language)
            return self.config.language
        return "en" if settings.language == "en" else "he"
