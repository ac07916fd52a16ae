"""The scenario runner: whole calls in virtual time.

Each call is the real runtime (`run_call` with the four actors) between the
simulated caller (speaking Twilio Media Streams JSON through the real
`TwilioCallerLine`) and the simulated model peer (speaking the Realtime
protocol), over in-memory transports, on a real database, under
`MockClock(autojump_threshold=0)`. Faults from the scenario are injected into
the call through its mailboxes and its store gateway; the peer applies its own.
Invariants are checked on the call's trace and the database afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from actors.call_context import CallContext
from actors.call_supervisor import run_call
from actors.config import CallConfig
from actors.db import StoreGateway
from actors.defaults import DEFAULT_DIALECT
from actors.messages import InjectedCrash
from actors.trace import Trace
from callrt.net.transport import memory_transport_pair
from callrt.scenario.invariants import check_appointments_in_store, check_foreign_appointments, check_trace
from callrt.scenario.model import Scenario, script_duration_ms
from callrt.scenario.report import build_report
from callrt.scenario.verdict import judge
from callrt.sim.caller import SimulatedCaller
from callrt.sim.peer_script import SimScript
from callrt.sim.realtime_peer import InMemoryModelConnector
from callrt.telephony.media import TwilioCallerLine
from store import AppointmentInfo, Store

CALL_GRACE_MS = 120_000.0
"""How long a call may outlive its caller's script before it counts as `call_never_ended`."""


@attrs.frozen
class RunOptions:
    db_url: str | None = None
    trace_dir: Path = attrs.field(factory=lambda: Path(os.environ.get("CALLRT_TRACE_DIR", "traces")))
    dialect: str = DEFAULT_DIALECT
    config: CallConfig = attrs.field(factory=CallConfig)


def create_business(store: Store, scenario: Scenario) -> int:
    business = scenario.business
    business_id = store.create_business(
        name=str(business.get("name", scenario.name)),
        timezone=str(business.get("timezone", "Asia/Jerusalem")),
        opening_hours=business.get("opening_hours"),
        working_hours=business.get("working_hours"),
        slot_size_min=int(business.get("slot_size_min", 30)),
        min_notice_min=int(business.get("min_notice_min", 60)),
        horizon_days=int(business.get("horizon_days", 60)),
        capacity=int(business.get("capacity", 1)),
    )
    for appointment in scenario.appointments:
        store.add_appointment(
            business_id,
            dt.datetime.fromisoformat(str(appointment["start"])),
            int(appointment.get("minutes", business.get("slot_size_min", 30))),
            name=appointment.get("name"),
            phone=appointment.get("phone"),
        )
    return business_id


class ScenarioCall:
    """One simulated call of a scenario against a business that already exists."""

    def __init__(
        self,
        scenario: Scenario,
        store: Store,
        business_id: int,
        options: RunOptions,
        *,
        index: int = 0,
        started_at: dt.datetime | None = None,
        alone: bool = True,
    ) -> None:
        self.scenario = scenario
        self.store = store
        self.business_id = business_id
        self.options = options
        self.call_sid = f"CA{index:02d}-{scenario.name}"
        self.trace_path = options.trace_dir / f"{scenario.name}.jsonl"
        self.gateway = StoreGateway(inline=True)
        self.started_at = started_at or scenario.now
        self._faults_scope = trio.CancelScope()
        self._t0 = 0.0
        self._alone = alone
        self._appointments_before: list[AppointmentInfo] = []

    def now(self) -> dt.datetime:
        """The scenario's wall clock: its `now`, advanced by virtual time since the call started."""
        return self.started_at + dt.timedelta(seconds=trio.current_time() - self._t0)

    async def run(self) -> dict[str, Any]:
        self._t0 = trio.current_time()
        self._appointments_before = self.store.list_appointments(self.business_id, active_only=False)
        meta = {
            "scenario": self.scenario.name,
            "business": str(self.scenario.business.get("name", self.scenario.name)),
            "language": self.scenario.language,
            "caller_phone": self.scenario.caller_phone,
        }
        self.trace = Trace(self.call_sid, self.trace_path, meta=meta)
        caller_end, server_end = memory_transport_pair()
        line = TwilioCallerLine(server_end, self.trace)
        sim_script = SimScript.from_scenario(self.scenario.raw)
        peer = InMemoryModelConnector(sim_script, self.options.dialect)
        caller = SimulatedCaller(
            caller_end,
            self.scenario.script,
            sim_script=sim_script.to_json(),
            parameters={"caller": self.scenario.caller_phone or ""},
            call_sid=self.call_sid,
        )
        limit_s = (script_duration_ms(self.scenario) + CALL_GRACE_MS) / 1000.0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._run_caller, caller)
            with trio.move_on_after(limit_s):
                await line.read_start()
                async with trio.open_nursery() as call_nursery:
                    ctx: CallContext = await call_nursery.start(self._run_call, line, peer)
                    with self._faults_scope:
                        await self._inject_faults(ctx)
            nursery.cancel_scope.cancel()
        return self.report()

    async def _run_caller(self, caller: SimulatedCaller) -> None:
        report = await caller.run()
        for timeout in report.wait_timeouts:
            self.trace.record("caller", what="wait_timed_out", wait=timeout.wait, step=timeout.step)

    async def _run_call(self, line: TwilioCallerLine, peer: InMemoryModelConnector, *, task_status: Any) -> None:
        await run_call(
            call_sid=self.call_sid,
            business_id=self.business_id,
            line=line,
            model=peer,
            store=self.store,
            caller_phone=self.scenario.caller_phone,
            language="en" if self.scenario.language == "en" else "he",
            config=self.options.config,
            now=self.now,
            trace=self.trace,
            gateway=self.gateway,
            task_status=task_status,
        )
        self._faults_scope.cancel()  # the call is over: nothing is left to inject faults into

    async def _inject_faults(self, ctx: CallContext) -> None:
        crash: dict[str, Callable[[InjectedCrash], None]] = {
            "audio": ctx.mailboxes.audio.outbox("faults").send_nowait,
            "realtime": ctx.mailboxes.realtime.outbox("faults").send_nowait,
            "nlp": ctx.mailboxes.nlp.outbox("faults").send_nowait,
            "booking": ctx.mailboxes.booking.outbox("faults").send_nowait,
        }
        for fault in sorted(self.scenario.faults, key=lambda f: f.at_ms):
            await trio.sleep_until(self._t0 + fault.at_ms / 1000.0)
            if fault.kind == "crash" and fault.actor is not None:
                ctx.trace.record("fault", kind="crash", actor=fault.actor)
                crash[fault.actor](InjectedCrash(reason="scenario fault"))
            elif fault.kind == "db_down" and fault.ms is not None:
                ctx.trace.record("fault", kind="db_down", ms=fault.ms)
                self.gateway.outage_until = trio.current_time() + fault.ms / 1000.0

    def report(self) -> dict[str, Any]:
        self.trace.close()
        events = self.trace.events
        created = self.store.list_appointments(self.business_id, call_sid=self.call_sid)
        violations = check_trace(events, self.options.config.silence_timeout_ms)
        violations += check_appointments_in_store(self.store, self.business_id, created, self.started_at)
        violations += check_foreign_appointments(
            self.call_sid,
            self.scenario.caller_phone,
            self.store.list_appointments(self.business_id, active_only=False),
            self.store.load_call_state(self.call_sid).appointment_id,
            # Simultaneous calls move their own callers' appointments: a changed start is only this call's doing alone.
            self._appointments_before if self._alone else None,
        )
        if any(e.get("ev") == "caller" and e.get("what") == "wait_timed_out" for e in events):
            violations.append("wait_timed_out")
        report = build_report(
            scenario_name=self.scenario.name,
            events=events,
            appointments=created,
            violations=violations,
            trace_path=str(self.trace_path),
        )
        return judge(report, self.scenario.expect)


def _open_store(options: RunOptions, tmp: str) -> Store:
    store = Store(options.db_url or f"sqlite:///{Path(tmp) / 'scenarios.db'}")
    store.init_schema()
    return store


def run_scenarios(scenarios: Sequence[Scenario], options: RunOptions) -> list[dict[str, Any]]:
    """Each scenario its own call, business and virtual clock, one after the other."""
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        store = _open_store(options, tmp)
        try:
            for index, scenario in enumerate(scenarios):
                business_id = create_business(store, scenario)
                # A call id of its own: a second call with the first one's id would resume its stored state.
                call = ScenarioCall(scenario, store, business_id, options, index=index)
                reports.append(trio.run(call.run, clock=trio.testing.MockClock(autojump_threshold=0)))
        finally:
            store.dispose()
    return reports


def run_concurrent(scenarios: Sequence[Scenario], options: RunOptions) -> list[dict[str, Any]]:
    """All scenarios as simultaneous calls to the first one's business, on one database and one clock."""
    with tempfile.TemporaryDirectory() as tmp:
        store = _open_store(options, tmp)
        try:
            business_id = create_business(store, scenarios[0])
            calls = [
                ScenarioCall(s, store, business_id, options, index=i, started_at=scenarios[0].now, alone=False)
                for i, s in enumerate(scenarios)
            ]
            reports: list[dict[str, Any]] = [{} for _ in calls]

            async def run_all() -> None:
                async def one(i: int) -> None:
                    reports[i] = await calls[i].run()

                async with trio.open_nursery() as nursery:
                    for i in range(len(calls)):
                        nursery.start_soon(one, i)

            trio.run(run_all, clock=trio.testing.MockClock(autojump_threshold=0))
        finally:
            store.dispose()
    return reports
