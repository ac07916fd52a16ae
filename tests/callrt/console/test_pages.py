"""The console over HTTP, live on loopback (hypercorn, trio, real sockets): sessions and their
cookie, CSRF, the login limit, who may see which business and which traces, moves refused with
the reason, callbacks marked done. Real sockets need the real clock: every wait is bounded."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import pytest

from callrt.console.passwords import hash_password
from callrt.console.ratelimit import MAX_FAILURES_PER_USER
from callrt.server.app import TelephonyServer
from callrt.server.config import ServerConfig
from store import ISRAELI_HOURS, Store
from tests.callrt.server.test_app import STEP_S, live
from tests.support.store import NOW

PASSWORD = "a-long-password"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'console.db'}")
    store.init_schema()
    first = store.create_business(name="Salon", opening_hours=ISRAELI_HOURS)
    second = store.create_business(name="Barber", opening_hours=ISRAELI_HOURS, language="en")
    store.create_console_user("owner", hash_password(PASSWORD))
    store.create_console_user("dana", hash_password(PASSWORD), first)
    assert (first, second) == (1, 2)
    return store


def server_for(store: Store, tmp_path: Path, **config: object) -> TelephonyServer:
    return TelephonyServer(ServerConfig(trace_dir=tmp_path / "traces", **config), store, None)  # type: ignore[arg-type]


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get(path)).text)
    assert match, path
    return match.group(1)


async def log_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    token = await csrf_of(client, "/admin/login")
    return await client.post(
        "/admin/login", data={"csrf_token": token, "username": username, "password": password, "next": "/admin/"}
    )


async def test_the_session_cookie_and_csrf(store: Store, tmp_path: Path) -> None:
    behind_https = server_for(store, tmp_path, public_url="https://calls.example.com")
    async with live(behind_https) as base, httpx.AsyncClient(base_url=base, timeout=STEP_S) as client:
        cookie = (await client.get("/admin/login")).headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    server = server_for(store, tmp_path)
    async with live(server) as base, httpx.AsyncClient(base_url=base, timeout=STEP_S) as client:
        assert (await client.post("/admin/login", data={"username": "owner", "password": PASSWORD})).status_code == 403
        response = await log_in(client, "owner")
        assert response.status_code == 303 and response.headers["location"] == "/admin/"
        assert "Secure" not in response.headers["set-cookie"]  # plain http: a Secure cookie would never come back
        token = await csrf_of(client, "/admin/b/1/settings")
        posts = [
            "/admin/b/1/settings",
            "/admin/b/1/bookings/1/cancel",
            "/admin/b/1/bookings/1/move",
            "/admin/b/1/callbacks/1/done",
            "/admin/logout",
        ]
        for path in posts:
            assert (await client.post(path, data={"name": "Hijacked"})).status_code == 403, path
            assert (await client.post(path, data={"csrf_token": token + "x", "name": "x"})).status_code == 403, path
        assert store.get_business(1).name == "Salon"
        forged = httpx.AsyncClient(base_url=base, timeout=STEP_S, cookies={"callrt_console": "eyJ1Ijoib3duZXIifQ.x.y"})
        async with forged:
            assert (await forged.get("/admin/b/1/bookings")).status_code == 303


async def test_logins_are_limited_per_user(store: Store, tmp_path: Path) -> None:
    server = server_for(store, tmp_path)
    async with live(server) as base, httpx.AsyncClient(base_url=base, timeout=STEP_S) as client:
        for _ in range(MAX_FAILURES_PER_USER):
            assert "login-error" in (await log_in(client, "dana", "wrong-password")).text
        blocked = await log_in(client, "dana")  # the right password, but too late
        assert blocked.status_code == 429
        assert (await log_in(client, "owner")).status_code == 303  # another user is not blocked


async def test_a_bound_user_sees_only_their_business_and_its_traces(store: Store, tmp_path: Path) -> None:
    traces = tmp_path / "traces"
    traces.mkdir()
    for name, business in (("CAmine", 1), ("CAtheirs", 2)):
        header = f'{{"ev":"trace_start","call_sid":"{name}","meta":{{"business_id":{business}}}}}\n'
        (traces / f"{name}.jsonl").write_text(header + '{"t":1,"seq":1,"ev":"trace_end"}\n', encoding="utf-8")
    server = server_for(store, tmp_path)
    async with live(server) as base, httpx.AsyncClient(base_url=base, timeout=STEP_S) as client:
        assert (await client.get("/traces/CAmine.jsonl")).status_code == 303
        await log_in(client, "dana")
        for page in ("settings", "bookings", "calls", "callbacks"):
            assert (await client.get(f"/admin/b/1/{page}")).status_code == 200
            assert (await client.get(f"/admin/b/2/{page}")).status_code == 403
        listing = (await client.get("/traces")).text
        assert "CAmine" in listing and "CAtheirs" not in listing
        assert (await client.get("/traces/CAmine.jsonl")).status_code == 200
        assert (await client.get("/traces/CAtheirs.jsonl")).status_code == 404
        assert (await client.get("/traces/CAtheirs")).status_code == 404


async def test_a_move_into_a_taken_slot_is_refused_with_the_reason(store: Store, tmp_path: Path) -> None:
    monday = dt.datetime.now(NOW.tzinfo).date() + dt.timedelta(days=14)
    monday -= dt.timedelta(days=monday.weekday())
    ten = dt.datetime(monday.year, monday.month, monday.day, 10, tzinfo=NOW.tzinfo)
    taken = store.add_appointment(1, ten, 30, "Noa", "+972501")
    moving = store.add_appointment(1, ten + dt.timedelta(hours=1), 30, "Dana", "+972502")
    store.record_callback_request(business_id=1, call_sid="CA1", phone="+972503", name=None, request="x", reason="r")
    server = server_for(store, tmp_path)
    async with live(server) as base, httpx.AsyncClient(base_url=base, timeout=STEP_S) as client:
        await log_in(client, "owner")
        token = await csrf_of(client, "/admin/b/1/bookings")
        form = {"csrf_token": token, "new_start": f"{monday.isoformat()}T10:00", "view": "day", "date": str(monday)}
        refused = await client.post(f"/admin/b/1/bookings/{moving}/move", data=form, follow_redirects=True)
        assert "המשבצת תפוסה" in refused.text  # "that slot is taken", on a Hebrew business's page
        form["new_start"] = f"{monday.isoformat()}T10:30"
        moved = await client.post(f"/admin/b/1/bookings/{moving}/move", data=form, follow_redirects=True)
        assert "התור הועבר." in moved.text
        other = await client.post(f"/admin/b/2/bookings/{taken}/cancel", data=form, follow_redirects=True)
        assert "no such appointment" in other.text  # business 1's appointment, through business 2's page
        done = await client.post("/admin/b/1/callbacks/1/done", data={"csrf_token": token}, follow_redirects=True)
        assert done.status_code == 200 and store.callback_requests(1) == []
    assert [a.start.strftime("%H:%M") for a in store.list_appointments(1)] == ["10:00", "10:30"]


async def test_every_worker_accepts_every_workers_session(store: Store, tmp_path: Path) -> None:
    """Two servers over one database stand for two workers: a login on one opens the other."""
    first, second = server_for(store, tmp_path), server_for(store, tmp_path)
    async with live(first) as one, live(second) as two, httpx.AsyncClient(timeout=STEP_S) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get(one + "/admin/login")).text)
        assert token
        form = {"csrf_token": token.group(1), "username": "owner", "password": PASSWORD, "next": "/admin/"}
        assert (await client.post(one + "/admin/login", data=form)).status_code == 303
        assert (await client.get(two + "/admin/b/2/settings")).status_code == 200
