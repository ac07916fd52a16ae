"""How a command reports a mistake: `CliError`, the exit statuses, and the one line `main()` prints
for it and for the library's own errors (`callrt COMMAND: what is wrong and what to do`).

Exit statuses (docs/cli.md): 0 done; 2 the command line cannot work as written (argparse's own errors,
an option's value such as a port or a URL, a file that is missing or is not what it should be); 1 the
command ran and failed (a value the store refuses, a database or server that cannot be reached or was
never initialised, a port in use). The commands that give a verdict, `scenario run` and `call`, keep 1
for it: an error that keeps them from reaching one is 2.
"""

from __future__ import annotations

from store.errors import CallrtError, InvalidDatabaseUrl, StoreUnavailable

EXIT_FAILURE = 1
EXIT_USAGE = 2


class CliError(CallrtError):
    """A mistake the person running the command can fix, or a failure they can act on: `main()` prints
    it as one line, without a traceback (unless `--debug`), and exits with `status`."""

    def __init__(self, message: str, *, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


def reported_error(exc: BaseException) -> CallrtError | None:
    """The error to report for `exc`: itself, or the one error a trio nursery wrapped in a group; None for
    anything else (a bug, whose traceback is shown)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc if isinstance(exc, CallrtError) else None


def exit_status(exc: CallrtError) -> int:
    """The exit status for an error that ended a command."""
    if isinstance(exc, CliError):
        return exc.status
    if isinstance(exc, InvalidDatabaseUrl):
        return EXIT_USAGE  # --db or $CALLRT_DB_URL as written cannot work
    return EXIT_FAILURE


def error_line(exc: CallrtError) -> str:
    """What `main()` prints after `callrt COMMAND: ` for an error that ended a command: one line (drivers'
    messages, psycopg's among them, span several), with what to do where the error itself cannot say."""
    line = " ".join(str(exc).split())
    if isinstance(exc, StoreUnavailable):
        line += " (check --db or $CALLRT_DB_URL)"
    return line
