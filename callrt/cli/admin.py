"""`callrt admin create-user NAME [--business ID]`: a login for the business console.

The password is read from standard input (one line) when it is not a terminal, else prompted for
twice without echo; only its Argon2 hash is stored, and it is never printed or logged. Without
`--business` the user may open every business; with it, only that one.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from callrt.cli.db import DEFAULT_DB_URL, open_store
from store import StoreError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = subparsers.add_parser("admin", help="business console users", description=__doc__)
    admin.add_argument(
        "--db", dest="db_url", default=None, help=f"database URL (default $CALLRT_DB_URL or {DEFAULT_DB_URL})"
    )
    actions = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    create = actions.add_parser("create-user", help="create a console user (password from stdin or prompted)")
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
        store = open_store(args)
        try:
            user_id = store.create_console_user(args.name, password_hash, args.business)
        finally:
            store.dispose()
    except (ValueError, StoreError, EOFError) as exc:
        print(f"callrt admin create-user: {exc}", file=sys.stderr)
        return 1
    scope = f"business {args.business}" if args.business is not None else "every business"
    print(f"user {args.name} (id {user_id}) created; may see {scope}")
    return 0
