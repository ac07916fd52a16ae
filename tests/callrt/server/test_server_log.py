"""What `callrt serve` logs at the default level (no `-v`), as a user runs it: a line at start and a
line per call end, at INFO, on a real server over loopback with a real simulated call."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.live_scenarios import BOOKING_SCRIPT, live_scenario, write_scenario
from tests.support.live_server import call_report, serving

BOOKING = live_scenario("logged-booking", BOOKING_SCRIPT)
LINE = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<message>.*)$")


def test_serve_logs_its_start_and_each_call_end_at_info_without_verbose(tmp_path: Path) -> None:
    with serving(tmp_path, name="Dana\x1b[2J salon") as server:
        report = call_report(server, write_scenario(tmp_path, BOOKING))
    business_id = server.business_id
    [appointment] = report["appointments"]
    call_sid = report["trace"].rsplit("/", 1)[1]
    text = server.log.read_text(encoding="utf-8")
    assert "\x1b" not in text, "a business's name reached the log unescaped"
    lines = [m.groupdict() for m in map(LINE.match, text.splitlines()) if m]

    [start] = [line for line in lines if line["message"].startswith("callrt serve on ")]
    assert (start["level"], start["logger"]) == ("INFO", "callrt.serve")
    message = start["message"]
    assert message.startswith("callrt serve on 127.0.0.1:") and "public URL from each request" in message
    assert f"routed by the number called to business {business_id} (Dana\\u001b[2J salon)" in message
    assert "model simulated (no OPENAI_API_KEY)" in message
    assert "webhooks NOT signed (no TWILIO_AUTH_TOKEN)" in message and "1 worker(s)" in message

    [end] = [line for line in lines if line["message"].startswith(f"call {call_sid} ")]
    assert (end["level"], end["logger"]) == ("INFO", "callrt.server.app")
    fields = re.fullmatch(
        rf"call {call_sid} ended: booked for (?P<when>.+)"
        rf" \(business={business_id} duration=(?P<s>[0-9.]+)s appointment={appointment['id']}\)",
        end["message"],
    )
    assert fields is not None, end["message"]
    assert float(fields["s"]) > 0 and fields["when"].endswith(" 10:00")
