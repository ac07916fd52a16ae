"""`callrt admin create-user NAME [--business ID]`: a login for the business console.

The password is read from standard input (one line) when it is not a terminal, else prompted for
twice without echo; only its Argon2 hash is stored, and it is never printed or logged. Without
`--business` the user may open every business; with it, only that one.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from callrt.cli.db import DB_ENVIRONMENT, open_store
from callrt.cli.errors import EXIT_FAILURE, CliError
from callrt.cli.options import DEFAULT_DB_URL, add_db_option, describe


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = describe(subparsers, "admin", "business console users", __doc__, DB_ENVIRONMENT)
    default = f"$CALLRT_DB_URL or {DEFAULT_DB_URL}"
    add_db_option(admin, default)
    actions = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    create = describe(
        actions, "create-user", "create a console user (password from stdin or prompted)", __doc__, DB_ENVIRONMENT
    )
    add_db_option(create, default, repeated=True)
    create.add_argument("name", help="the user name to log in with")
    create.add_argument("--business", type=int, metavar="ID", help="the only business this user may see")
    create.set_defaults(handler=create_user)


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def create_user(args: argparse.Namespace) -> int:
    from callrt.console.passwords import hash_password

    try:
        password_hash = hash_password(_read_password())
    except (ValueError, EOFError) as exc:
        raise CliError(str(exc) or "no password on standard input", status=EXIT_FAILURE) from exc
    store = open_store(args)
    try:
        user_id = store.create_console_user(args.name, password_hash, args.business)
    finally:
        store.dispose()
    scope = f"business {args.business}" if args.business is not None else "every business"
    print(f"user {args.name} (id {user_id}) created; may see {scope}")
    return 0
