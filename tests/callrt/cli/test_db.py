"""`callrt db init` / `callrt db seed-demo` on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from callrt import cli
from store import Store
from tests.support.store import db_url, pg_url

__all__ = ["db_url", "pg_url"]  # fixtures used by this module


def run(*argv: str) -> int:
    return cli.main(list(argv))


def test_registered_in_the_cli() -> None:
    assert "callrt.cli.db" in cli.COMMANDS.values()


def test_init_then_seed_demo_once(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("db", "--db", db_url, "init") == 0
    assert run("db", "--db", db_url, "init") == 0
    assert run("db", "--db", db_url, "seed-demo") == 0
    assert run("db", "--db", db_url, "seed-demo") == 0
    lines = capsys.readouterr().out.split()
    first_id, second_id = int(lines[-2]), int(lines[-1])
    assert first_id == second_id
    store = Store(db_url)
    demo = store.get_business(first_id)
    store.dispose()
    assert demo.name == "מספרת דנה" and demo.timezone == "Asia/Jerusalem"
    assert demo.opening_hours["sun"] == demo.opening_hours["thu"] == [("09:00", "19:00")]
    assert demo.opening_hours["fri"] == [("08:00", "13:00")] and demo.opening_hours["sat"] == []


def test_init_says_whether_it_created_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert run("db", "init", "--db", url) == 0
    assert capsys.readouterr().out.startswith("schema created (revision ")
    assert run("db", "--db", url, "init") == 0
    assert capsys.readouterr().out.startswith("schema is up to date (revision ")


def test_url_from_environment(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLRT_DB_URL", f"sqlite:///{tmp_path}/env.db")
    assert run("db", "seed-demo") == 0
    assert capsys.readouterr().out.strip().isdigit()


def test_unreachable_database_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("db", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2", "init") == 1
    assert "database unavailable" in capsys.readouterr().err


def test_callbacks_listed_and_marked_done(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("db", "--db", db_url, "init") == 0
    store = Store(db_url)
    business = store.create_business(name="cli-callbacks", working_hours="09:00-18:00")
    request = store.record_callback_request(
        business_id=business,
        call_sid="CA1",
        phone="+972501234567",
        name="דנה",
        request="line one\nline two",
        reason="handoff",
    )
    store.dispose()
    capsys.readouterr()
    assert run("db", "--db", db_url, "callbacks", "--business", str(business)) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{request}\t") and "+972501234567\tדנה\thandoff\t" in line
    assert line.endswith('"line one\\nline two"'), "what the caller said stays on one line"
    assert run("db", "--db", db_url, "callbacks", "--business", str(business), "--done", str(request)) == 0
    assert run("db", "--db", db_url, "callbacks", "--business", str(business), "--done", str(request)) == 1
    assert "no open callback request" in capsys.readouterr().err
    assert run("db", "--db", db_url, "callbacks", "--business", str(business)) == 0
    assert capsys.readouterr().out.strip() == "no callback requests"
