"""`callrt db init` / `seed-demo` / `callbacks`: the schema (Alembic `upgrade head`), a demo business,
and the callback requests a business owes its callers.

The database is `--db URL`, else `$CALLRT_DB_URL`, else `sqlite:///callrt.db`; on PostgreSQL, callrt's
tables go in `--schema NAME`, else `$CALLRT_DB_SCHEMA`, else the connection's default schema.
"""

from __future__ import annotations

import argparse
import json
import os

from callrt.cli.errors import EXIT_FAILURE, CliError
from callrt.cli.options import DEFAULT_DB_URL, add_db_option, describe
from store import Store, ensure_demo_business

DB_ENVIRONMENT = ("CALLRT_DB_URL", "CALLRT_DB_SCHEMA")
"""What every command that opens the store reads."""
_DB_DEFAULT = f"$CALLRT_DB_URL or {DEFAULT_DB_URL}"


def add_schema_option(parser: argparse.ArgumentParser, *, repeated: bool = False) -> None:
    """`--schema NAME`; `repeated` as for `add_db_option`."""
    parser.add_argument(
        "--schema",
        dest="db_schema",
        metavar="NAME",
        default=argparse.SUPPRESS if repeated else None,
        help="PostgreSQL schema for callrt's tables (default $CALLRT_DB_SCHEMA; none: the default schema)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = describe(subparsers, "db", "database schema and demo data", __doc__, DB_ENVIRONMENT)
    add_db_option(db, _DB_DEFAULT)
    add_schema_option(db)
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    init_parser = describe(
        actions,
        "init",
        "create or upgrade the schema (alembic upgrade head)",
        "Create callrt's tables, or bring them up to date (alembic upgrade head); safe to run again.",
        DB_ENVIRONMENT,
    )
    init_parser.set_defaults(handler=init)
    seed = describe(
        actions,
        "seed-demo",
        "create the demo business (once) and print its id",
        "Create the demo salon (the schema too, if needed) unless it exists, and print its id.",
        DB_ENVIRONMENT,
    )
    seed.set_defaults(handler=seed_demo)
    callbacks = describe(
        actions,
        "callbacks",
        "list open callback requests (or mark one done)",
        "One line per callback request, newest first: id, time, business, status, phone, name, reason, what was asked.",
        DB_ENVIRONMENT,
    )
    callbacks.add_argument("--business", type=int, metavar="ID", help="only this business's requests")
    callbacks.add_argument("--all", action="store_true", help="include requests already done")
    callbacks.add_argument("--done", type=int, metavar="ID", help="mark this request done instead of listing")
    callbacks.set_defaults(handler=list_callbacks)
    for action in (init_parser, seed, callbacks):
        add_db_option(action, _DB_DEFAULT, repeated=True)
        add_schema_option(action, repeated=True)


def connect(args: argparse.Namespace) -> Store:
    """The store of `--db`/$CALLRT_DB_URL, in `--schema`/$CALLRT_DB_SCHEMA (commands without `--schema`
    read the variable)."""
    schema = getattr(args, "db_schema", None) or os.environ.get("CALLRT_DB_SCHEMA") or None
    return Store(args.db_url or os.environ.get("CALLRT_DB_URL", DEFAULT_DB_URL), schema=schema)


def open_store(args: argparse.Namespace) -> Store:
    """`connect`, the schema brought up to date."""
    store = connect(args)
    try:
        store.init_schema()
    except BaseException:
        store.dispose()
        raise
    return store


def init(args: argparse.Namespace) -> int:
    store = connect(args)
    try:
        before = store.init_schema()
        after = store.schema_revision()
    finally:
        store.dispose()
    if before is None:
        print(f"schema created (revision {after})")
    elif before != after:
        print(f"schema upgraded from revision {before} to {after}")
    else:
        print(f"schema is up to date (revision {after})")
    return 0


def seed_demo(args: argparse.Namespace) -> int:
    store = open_store(args)
    try:
        print(ensure_demo_business(store))
    finally:
        store.dispose()
    return 0


def list_callbacks(args: argparse.Namespace) -> int:
    """One line per request, newest first: id, time, business, status, phone, name, reason, what was asked."""
    store = open_store(args)
    try:
        if args.done is not None:
            if not store.mark_callback_done(args.done, business_id=args.business):
                raise CliError(f"no open callback request {args.done}", status=EXIT_FAILURE)
            print(f"callback request {args.done} done")
            return 0
        requests = store.callback_requests(args.business, open_only=not args.all)
    finally:
        store.dispose()
    for request in requests:
        status = "done" if request.done_at else "open"
        print(
            f"{request.id}\t{request.created_at:%Y-%m-%d %H:%M}Z\tbusiness {request.business_id}\t{status}\t"
            f"{request.phone or 'number withheld'}\t{request.name or '-'}\t{request.reason}\t"
            f"{json.dumps(request.request, ensure_ascii=False)}"
        )
    if not requests:
        print("no callback requests")
    return 0
