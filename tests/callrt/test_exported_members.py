"""The public facade: every exported name exists, is exported typed, and the errors share one root."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import actors
import callrt
import store
from callrt import CallrtError
from tests.support.paths import REPO_ROOT


def test_all_exports_exist_and_are_listed_once() -> None:
    for package in (callrt, actors, store):
        assert len(package.__all__) == len(set(package.__all__)), package.__name__
        for name in package.__all__:
            assert hasattr(package, name), f"{package.__name__}.{name} is listed in __all__ but missing"


def test_the_facade_lists_what_it_can_import() -> None:
    public = {name for name in dir(callrt) if not name.startswith("_")}
    assert public == {name for name in callrt.__all__ if not name.startswith("_")}
    for name in (
        "run_call",
        "CallConfig",
        "CallOutcome",
        "Trace",
        "Store",
        "TwilioCallerLine",
        "OpenAIRealtimeConnector",
    ):
        assert name in callrt.__all__


def test_every_exported_exception_derives_from_callrt_error() -> None:
    for package in (callrt, actors, store):
        for name in package.__all__:
            value = getattr(package, name)
            if isinstance(value, type) and issubclass(value, BaseException):
                assert issubclass(value, CallrtError), f"{package.__name__}.{name} is not a CallrtError"


def test_a_users_mypy_sees_the_real_types(tmp_path: Path) -> None:
    user = tmp_path / "user_code.py"
    user.write_text(
        "from callrt import CallOutcome, Store, run_call\n"
        "reveal_type(run_call)\n"
        "def ended(outcome: CallOutcome) -> None:\n"
        "    reveal_type(outcome.ended_by)\n"
        "reveal_type(Store)\n"
    )
    # mypy cannot follow setuptools' editable-install import hook: point it at the sources, as an
    # installed wheel (which carries py.typed, checked below) would.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stdout
    revealed = [line for line in result.stdout.splitlines() if "Revealed type" in line]
    assert len(revealed) == 3, result.stdout
    assert "def (*, call_sid: str, business_id: int, line: actors.ports.CallerLine" in revealed[0]
    assert revealed[0].endswith('actors.call_supervisor.CallOutcome]"')
    assert "Literal['caller'] | Literal['ai'] | Literal['supervisor']" in revealed[1]
    assert "store.store.Store" in revealed[2]
    assert 'Revealed type is "Any"' not in result.stdout


def test_the_packages_are_marked_typed() -> None:
    for package in (callrt, actors, store):
        assert resources.files(package.__name__).joinpath("py.typed").is_file(), package.__name__
    package_data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert all("py.typed" in package_data[name] for name in ("callrt", "actors", "store"))
