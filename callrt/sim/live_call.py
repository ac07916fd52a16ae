"""A simulated caller against a running server (`callrt serve`, or any server speaking Twilio's protocol),
over the real network path.

It does what Twilio does: POSTs the webhook (`/twiml`, signed when an auth
token is given), reads the `<Connect><Stream>` TwiML, opens the media websocket
with the stream's `<Parameter>`s (the token, the caller and the `sim_script`
for the server's simulated model peer), and plays the scenario's script in real
time. Afterwards it fetches the call's trace from the server's trace routes and
builds the same report as `callrt scenario run`. Traces are private: given a console user
and password it logs in to the business console first, as a person would.

Against other servers (`Target`): the media websocket may be given directly (it then replaces the TwiML's
stream URL), and without a webhook the stream's parameters are the caller and the `sim_script` alone. Without
the server's trace routes the report is the caller's side only: `"trace": null`, `trace_checked: false`, what
the caller heard under `caller`, and the bookings read from the database when one is given.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from typing import Any

import attrs
import httpx
import trio
from trio_websocket import open_websocket_url

from callrt.net.transport import WebSocketTransport
from callrt.scenario import Scenario
from callrt.scenario.invariants import (
    Event,
    check_appointments_in_store,
    check_foreign_appointments,
    check_trace,
    server_note_texts,
)
from callrt.scenario.outcome import caller_side_failure
from callrt.scenario.report import build_report, failed_json
from callrt.scenario.verdict import judge
from callrt.sim.caller import SimulatedCaller
from callrt.sim.peer_script import SimScript
from callrt.telephony.webhook import compute_signature, parse_stream_twiml
from store import AppointmentInfo, Store
from store.errors import CallrtError

TRACE_WAIT_S = 10.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class LiveCallError(CallrtError, RuntimeError):
    """The server refused the call or its trace could not be fetched."""


@attrs.frozen
class Target:
    """Where the call goes: `server`'s routes (`/twiml`, the TwiML's stream, `/traces`), or any of them given."""

    server: str | None = None
    """Base URL of a server with callrt's routes: the webhook at `/twiml` and the call's trace at `/traces`."""
    twiml_url: str | None = None
    """The voice webhook (default `<server>/twiml`); none at all without a server: no webhook is called."""
    media_url: str | None = None
    """The media websocket (default: the stream URL in the webhook's TwiML)."""

    def __attrs_post_init__(self) -> None:
        if not (self.server or self.media_url):
            raise LiveCallError("give a server URL or a media websocket URL")

    @property
    def webhook(self) -> str | None:
        return self.twiml_url or (self.server.rstrip("/") + "/twiml" if self.server else None)


def _note_fields(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split()[1:] if "=" in part)


def appointments_from_trace(events: list[Event], call_sid: str) -> list[AppointmentInfo]:
    """The call's bookings as the server reported them in its notes (used when no database URL is given)."""
    booked: dict[int, AppointmentInfo] = {}
    name = None
    for event in events:
        if event.get("ev") == "send" and event.get("type") == "BookingRequest":
            name = event["fields"].get("name")
    for _, text in server_note_texts(events):
        fields = _note_fields(text)
        kind = text.split(" ", 1)[0]
        if kind in ("appointment_created", "appointment_rescheduled") and "id" in fields and "start" in fields:
            appointment_id = int(fields["id"])
            booked[appointment_id] = AppointmentInfo(
                id=appointment_id,
                start=dt.datetime.fromisoformat(fields["start"]),
                minutes=0,
                name=name,
                phone=None,
                call_sid=call_sid,
                status="active",
            )
        elif kind == "appointment_cancelled" and "id" in fields:
            booked.pop(int(fields["id"]), None)
    return list(booked.values())


async def console_login(http: httpx.AsyncClient, username: str, password: str) -> None:
    """Log `http` in to the server's business console (its session cookie then opens the traces)."""
    page = await http.get("/admin/login")
    token = _CSRF.search(page.text)
    if page.status_code != 200 or token is None:
        raise LiveCallError(f"GET /admin/login answered {page.status_code}: no console to log in to")
    form = {"csrf_token": token.group(1), "username": username, "password": password, "next": "/admin/"}
    response = await http.post("/admin/login", data=form)
    if response.status_code != 303:
        raise LiveCallError(f"console login as {username!r} refused ({response.status_code})")


async def fetch_trace(http: httpx.AsyncClient, name: str) -> list[Event]:
    """The call's trace, once the server has written its end (the server closes it after the call)."""
    with trio.move_on_after(TRACE_WAIT_S):
        while True:
            response = await http.get(f"/traces/{name}.jsonl")
            if response.status_code == 303:
                raise LiveCallError(
                    "the server's traces need a console login: pass --user NAME (password in CALLRT_CONSOLE_PASSWORD)"
                )
            if response.status_code == 200:
                events = [json.loads(line) for line in response.text.splitlines() if line.strip()]
                if events and events[-1].get("ev") == "trace_end":
                    return events
            await trio.sleep(0.2)
    raise LiveCallError(f"the server did not publish a complete trace for {name} within {TRACE_WAIT_S:g} s")


async def _open_stream(
    http: httpx.AsyncClient, target: Target, form: dict[str, str], auth_token: str | None
) -> tuple[str, dict[str, str]]:
    """The media websocket's URL and the stream's parameters: from the webhook's TwiML, or as Twilio would send
    them with a TwiML that set no token (the caller, the script)."""
    webhook = target.webhook
    if webhook is None:
        assert target.media_url is not None
        return target.media_url, {"caller": form["From"], "sim_script": form["sim_script"]}
    headers = {"X-Twilio-Signature": compute_signature(auth_token, webhook, form)} if auth_token else {}
    response = await http.post(webhook, data=form, headers=headers)
    if response.status_code != 200:
        raise LiveCallError(f"POST {webhook} answered {response.status_code}: {response.text[:200]}")
    try:
        stream_url, parameters = parse_stream_twiml(response.text)
    except ValueError as exc:  # e.g. the short message for a number no business owns
        raise LiveCallError(f"POST {webhook} did not connect a stream ({exc}): {response.text[:200]}") from None
    return target.media_url or stream_url, parameters


def _businesses_of(store: Store, events: list[Event]) -> list[int]:
    """The call's business, from its trace; without a trace, every business (the call's bookings are by callSid)."""
    start = next((e for e in events if e.get("ev") == "call_start"), None)
    return [int(start["business_id"])] if start is not None else store.business_ids()


async def live_call(
    target: Target | str,
    scenario: Scenario,
    *,
    auth_token: str | None = None,
    db_url: str | None = None,
    db_schema: str | None = None,
    to: str = "",
    login: tuple[str, str] | None = None,
    cookies: httpx.Cookies | None = None,
) -> dict[str, Any]:
    """One call to `target` (a `Target`, or a server's base URL; to the number `to`), then its trace, fetched
    as the console user `login` when the target has callrt's trace routes (or with the `cookies` of a console
    session already open: calls placed together log in once)."""
    target = Target(server=target) if isinstance(target, str) else target
    call_sid = f"CAlive{secrets.token_hex(8)}"
    started_at = dt.datetime.now(dt.UTC)  # a live server books against the real clock, not the file's `now`
    form = {
        "CallSid": call_sid,
        "From": scenario.caller_phone or "",
        "To": to,
        "sim_script": SimScript.from_scenario(scenario.raw).to_json(),
    }
    async with httpx.AsyncClient(base_url=target.server or "", timeout=10.0, cookies=cookies) as http:
        if login is not None and cookies is None and target.server:
            await console_login(http, *login)
        stream_url, parameters = await _open_stream(http, target, form, auth_token)
        async with open_websocket_url(stream_url) as ws:
            caller = SimulatedCaller(WebSocketTransport(ws), scenario.script, parameters=parameters, call_sid=call_sid)
            caller_report = await caller.run()
        events = await fetch_trace(http, call_sid) if target.server else []
    violations = check_trace(events) if target.server else []  # no trace: nothing to check it on
    if caller_report.wait_timeouts:
        violations.append("wait_timed_out")
    if db_url:
        store = Store(db_url, schema=db_schema)
        try:
            appointments = []
            for business_id in _businesses_of(store, events):
                ours = store.list_appointments(business_id, call_sid=call_sid)
                appointments += ours
                violations += check_appointments_in_store(store, business_id, ours, started_at)
                violations += check_foreign_appointments(
                    call_sid,
                    scenario.caller_phone,
                    store.list_appointments(business_id, active_only=False),
                    store.load_call_state(call_sid).appointment_id,
                )
        finally:
            store.dispose()
    else:
        appointments = appointments_from_trace(events, call_sid)
    report = build_report(
        scenario_name=scenario.name,
        events=events,
        appointments=appointments,
        violations=violations,
        trace_path=f"{target.server.rstrip('/')}/traces/{call_sid}" if target.server else None,
    )
    if not target.server:
        report["trace_checked"] = False
        report["caller"] = caller_report.to_json()
        # No trace to read the outcome off: the caller's own side tells only whether it heard anything.
        report["outcome"] = None
        report["failed"] = failed_json(caller_side_failure(caller_report.heard_ms, caller_report.ended_at_ms or 0.0))
    return judge(report, scenario.expect, live=True)
