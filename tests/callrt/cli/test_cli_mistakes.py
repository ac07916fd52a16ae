"""The mistakes people make with `callrt`, each run as they would run it (a process of its own, real sockets,
a real database): a non-zero exit status, one line naming what is wrong and what to do, and no traceback
unless `--debug` or CALLRT_DEBUG=1 asks for it. Argument errors show the usage of the command that was
given, not the top-level one."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from callrt import __version__, cli
from callrt.cli.options import ENVIRONMENT
from tests.support.live_scenarios import live_scenario, write_scenario
from tests.support.live_server import OWNER, OWNER_PASSWORD, SALON_NUMBER, prepare_database, serving
from tests.support.postgres import require_postgres
from tests.support.processes import child_env, free_port

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
"""A log line (serve logs what it is about to serve before it binds): not the error's line."""
HOLD_THE_LINE = live_scenario("hold-the-line", [{"wait": "ai_done"}, {"pause_ms": 3000}, {"hangup": True}])


class Setting:
    """What a mistake is made against, built only when its row asks for it, and cleaned up afterwards."""

    def __init__(self, folder: Path, stack: contextlib.ExitStack) -> None:
        self.folder = folder
        self.stack = stack

    def scenario(self) -> str:
        return str(write_scenario(self.folder, HOLD_THE_LINE))

    def business_db(self) -> str:
        url = f"sqlite:///{self.folder / 'served.db'}"
        prepare_database(url)
        return url

    def busy_port(self) -> str:
        holder = self.stack.enter_context(socket.socket())
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        return str(holder.getsockname()[1])

    def fresh_postgres(self) -> str:
        """A PostgreSQL schema of its own where `callrt db init` never ran (the URL's search_path names it)."""
        base = sa.make_url(require_postgres())
        schema = f"callrt_cli_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(base)
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

        def drop() -> None:
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

        self.stack.callback(drop)
        url = base.set(drivername="postgresql").update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def not_a_trace(self) -> str:
        path = self.folder / "notes.jsonl"
        path.write_text("a shopping list, not a call\n", encoding="utf-8")
        return str(path)

    def trace(self) -> str:
        path = self.folder / "call.jsonl"
        path.write_text('{"t":0,"seq":1,"ev":"trace_start","call_sid":"CA1"}\n', encoding="utf-8")
        return str(path)

    def server_with_one_call_slot(self) -> str:
        return self.stack.enter_context(serving(self.folder, "--max-calls", "1")).base


@attrs.frozen
class Mistake:
    command: str
    """`db init`: the command whose name starts the error's line."""
    options: Callable[[Setting], list[str]]
    status: int
    says: str
    usage: bool = False
    """An argument error: argparse's usage of the command, then its one line."""


MISTAKES = {
    "malformed database URL": Mistake("db init", lambda s: ["--db", "not a url"], 2, "is not a URL"),
    # postgres:// is accepted as PostgreSQL: the mistake here is only that nothing listens on port 1.
    "unreachable database": Mistake(
        "serve", lambda s: ["--db", "postgres://postgres@127.0.0.1:1/test"], 1, "database unavailable"
    ),
    "database not initialised": Mistake("serve", lambda s: ["--db", s.fresh_postgres()], 1, "`callrt db init`"),
    "server URL without a scheme": Mistake(
        "call", lambda s: ["--server", "127.0.0.1:8080", "--scenario", s.scenario()], 2, "http://", usage=True
    ),
    "server down": Mistake(
        "call",
        lambda s: ["--server", f"http://127.0.0.1:{free_port()}", "--scenario", s.scenario()],
        2,
        "is the server running",
    ),
    "port out of range": Mistake("serve", lambda s: ["--port", "70000"], 2, "out of range", usage=True),
    "port in use": Mistake(
        "serve", lambda s: ["--db", s.business_db(), "--port", s.busy_port()], 1, "the port is in use"
    ),
    "public URL without a scheme": Mistake(
        "serve", lambda s: ["--public-url", "calls.example.com"], 2, "https://", usage=True
    ),
    "no such business": Mistake(
        "serve", lambda s: ["--db", s.business_db(), "--business-id", "999"], 1, "no such business"
    ),
    "trace view of a file that is not a trace": Mistake(
        "trace view", lambda s: [s.not_a_trace()], 2, "is not a callrt trace"
    ),
    "trace view into a folder that does not exist": Mistake(
        "trace view",
        lambda s: [s.trace(), "--html", str(s.folder / "no" / "such" / "call.html")],
        2,
        "create it first",
    ),
    "call refused at capacity": Mistake(
        "call",
        lambda s: [
            "--server",
            s.server_with_one_call_slot(),
            "--scenario",
            s.scenario(),
            s.scenario(),
            "--to",
            SALON_NUMBER,
            "--user",
            OWNER,
        ],
        2,
        "turned the call away",
    ),
    "unknown option of an action": Mistake(
        "db init", lambda s: ["--bogus"], 2, "unrecognized arguments: --bogus", usage=True
    ),
}


def callrt(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = child_env(CALLRT_CONSOLE_PASSWORD=OWNER_PASSWORD, **env)
    for name in ("CALLRT_DEBUG", "CALLRT_DB_URL", "CALLRT_DB_SCHEMA", "CALLRT_PUBLIC_URL"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "callrt", *argv],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def setting(tmp_path: Path) -> Iterator[Setting]:
    with contextlib.ExitStack() as stack:
        yield Setting(tmp_path, stack)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.postgres) if name == "database not initialised" else name
        for name in MISTAKES
    ],
)
def test_a_mistake_is_one_line_and_a_non_zero_exit(name: str, setting: Setting) -> None:
    mistake = MISTAKES[name]
    argv = [*mistake.command.split(), *mistake.options(setting)]
    result = callrt(argv, setting.folder)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == mistake.status, result.stderr
    lines = [line for line in result.stderr.splitlines() if not LOG_LINE.match(line)]
    command = f"callrt {mistake.command}"
    if mistake.usage:
        assert lines[0].startswith(f"usage: {command} "), result.stderr
        assert lines[-1].startswith(f"{command}: error: "), result.stderr
    else:
        assert len(lines) == 1 and lines[0].startswith(f"{command}: "), result.stderr
    assert mistake.says in lines[-1], result.stderr


@pytest.mark.parametrize("ask", ["--debug", "CALLRT_DEBUG=1"])
def test_debug_shows_the_traceback(ask: str, tmp_path: Path) -> None:
    argv = ["db", "init", "--db", "not a url"]
    result = callrt([ask, *argv], tmp_path) if ask == "--debug" else callrt(argv, tmp_path, CALLRT_DEBUG="1")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "InvalidDatabaseUrl" in result.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out == f"callrt {__version__}\n"


def test_every_command_describes_itself_and_its_environment() -> None:
    parser = cli.build_parser()
    for command in cli._subparsers(parser):
        assert command.description, command.prog
        epilog = command.epilog or ""
        assert epilog.startswith("environment variables:\n"), command.prog
        named = re.findall(r"^  ([A-Z_]+) ", epilog, re.MULTILINE)
        assert named and set(named) <= set(ENVIRONMENT), command.prog
        for action in command._actions:
            if "--db" in action.option_strings:
                assert action.metavar == "URL", command.prog
